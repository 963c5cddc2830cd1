//! The server's directories (SPEC §3, sst-protocol.md §5.2, §5.4): InnoDB
//! log, data-home and undo directories, the Aria log directory and the
//! binlog base/index, each taken from the command line first (top-level SST
//! options and `--mysqld-args`), then the environment the stock scripts
//! honour, then the server option groups; relative paths resolve against the
//! datadir, which is also the default for every directory.
//!
//! The option files are reached through [`ServerOptions`], so this module does
//! not depend on the option-file reader.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use crate::rsync::ServerDirs;
use crate::sst::args::{LogBin, SstArgs};

/// Lookup of a key in the server option groups (`[mysqld]`, `[server]`,
/// `[mariadb]`, `[galera]`, … as `my_print_defaults --mysqld` reads them).
///
/// Keys are passed in dash form (`innodb-log-group-home-dir`); an
/// implementation must treat `_` and `-` alike and strip `loose-`, with the
/// last occurrence winning. An option present without a value (`log-bin`)
/// returns `Some("")`.
pub trait ServerOptions {
    /// The value of `key` in the server groups, if present.
    fn server_value(&self, key: &str) -> Option<String>;
}

/// Plain maps (keys in dash form) serve as option sources in tests and demos.
impl ServerOptions for HashMap<String, String> {
    fn server_value(&self, key: &str) -> Option<String> {
        self.get(key).cloned()
    }
}

/// No option files at all (`--no-defaults`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoOptions;

impl ServerOptions for NoOptions {
    fn server_value(&self, _key: &str) -> Option<String> {
        None
    }
}

/// Where the binary logs live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinlogPaths {
    /// The directory holding the binlog files (absolute when the datadir is).
    pub dir: PathBuf,
    /// The file-name base, e.g. `mysql-bin` (files are `mysql-bin.000001`, …).
    pub base: OsString,
    /// The index file.
    pub index: PathBuf,
    /// The directory as configured (`.` for a bare `mysql-bin`), the prefix of
    /// each line the joiner writes into a rebuilt index.
    pub index_prefix: PathBuf,
}

impl BinlogPaths {
    /// The index line for a binlog file: `<index_prefix>/<file>` (`./mysql-bin.000002`).
    pub fn index_line(&self, file: &OsStr) -> PathBuf {
        self.index_prefix.join(file)
    }

    /// The file name of `entry` (an index line: relative to the datadir, or
    /// absolute) when it names a file directly in [`BinlogPaths::dir`],
    /// compared lexically; `None` for anything elsewhere, including a path
    /// that reaches the directory through `..`. An index is not trusted (a
    /// previous transfer may have written it), so the joiner derives from it
    /// only names inside the binlog directory.
    pub fn name_in_dir(&self, datadir: &Path, entry: &Path) -> Option<OsString> {
        let resolved = under_datadir(datadir, entry);
        match (resolved.parent(), resolved.file_name()) {
            (Some(parent), Some(name)) if parent == self.dir => Some(name.to_owned()),
            _ => None,
        }
    }
}

/// The server directories an SST touches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerPaths {
    /// The data directory (`--datadir`).
    pub datadir: PathBuf,
    /// `innodb_log_group_home_dir` (module `rsync_tunnel_sst-log_dir`).
    pub log_dir: PathBuf,
    /// `innodb_data_home_dir` (`ibdata*`).
    pub data_home_dir: PathBuf,
    /// `innodb_undo_directory` (`undo*`).
    pub undo_dir: PathBuf,
    /// `aria_log_dir_path` (`aria_log_control`, `aria_log.*`).
    pub aria_log_dir: PathBuf,
    /// The binlogs, when `log_bin` is on.
    pub binlog: Option<BinlogPaths>,
}

/// `path` against `datadir` when relative, with `.` components removed.
///
/// The result may lie anywhere (an absolute `path`, or one with `..`): this
/// resolves the operator's settings, never a name a peer chose; those go
/// through [`BinlogPaths::name_in_dir`].
pub fn under_datadir(datadir: &Path, path: &Path) -> PathBuf {
    datadir.join(path).components().collect()
}

/// mysqld's default log base name: the host name without its last extension
/// (`db1.example.com` → `db1.example`), read from the kernel.
pub fn default_log_basename() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    let stem = match name.rfind('.') {
        Some(0) | None => name,
        Some(i) => &name[..i],
    };
    (!stem.is_empty()).then(|| stem.to_owned())
}

/// mysqld ignores an extension on `log-bin` (`mysql-bin.log` → `mysql-bin`).
fn strip_extension(path: &Path) -> PathBuf {
    match (path.file_stem(), path.extension()) {
        (Some(stem), Some(_)) => path.with_file_name(stem),
        _ => path.to_path_buf(),
    }
}

/// An index name without an extension gets `.index`, as mysqld does.
fn with_index_extension(path: PathBuf) -> PathBuf {
    if path.extension().is_some() {
        path
    } else {
        let mut os = path.into_os_string();
        os.push(".index");
        PathBuf::from(os)
    }
}

fn non_empty_os(v: Option<OsString>) -> Option<PathBuf> {
    v.filter(|s| !s.is_empty()).map(PathBuf::from)
}

fn cnf_path(options: &dyn ServerOptions, key: &str) -> Option<PathBuf> {
    options
        .server_value(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl ServerPaths {
    /// The directories the transfer sends from (donor) or serves (joiner).
    pub fn dirs(&self) -> ServerDirs {
        ServerDirs {
            datadir: self.datadir.clone(),
            log_dir: self.log_dir.clone(),
            data_home_dir: self.data_home_dir.clone(),
            undo_dir: self.undo_dir.clone(),
            aria_log_dir: self.aria_log_dir.clone(),
        }
    }

    /// Resolves with the process environment and the kernel's host name.
    pub fn resolve(args: &SstArgs, options: &dyn ServerOptions) -> ServerPaths {
        let hostname = default_log_basename();
        ServerPaths::resolve_with(
            args,
            options,
            &|key| std::env::var_os(key),
            hostname.as_deref(),
        )
    }

    /// Resolves with an explicit environment lookup and default host name
    /// (for `log-bin` without a name and without `log-basename`).
    pub fn resolve_with(
        args: &SstArgs,
        options: &dyn ServerOptions,
        env: &dyn Fn(&str) -> Option<OsString>,
        hostname: Option<&str>,
    ) -> ServerPaths {
        let datadir = args.datadir.clone();
        let s = &args.server;
        let pick = |arg: &Option<PathBuf>, envs: &[&str], key: &str| -> PathBuf {
            let found = arg
                .clone()
                .or_else(|| envs.iter().find_map(|e| non_empty_os(env(e))))
                .or_else(|| cnf_path(options, key));
            match found {
                Some(p) => under_datadir(&datadir, &p),
                None => datadir.clone(),
            }
        };
        let log_dir = pick(
            &s.innodb_log_group_home_dir,
            // WSREP_LOG_DIR is the reference script's override.
            &["WSREP_LOG_DIR", "INNODB_LOG_GROUP_HOME"],
            "innodb-log-group-home-dir",
        );
        let data_home_dir = pick(
            &s.innodb_data_home_dir,
            &["INNODB_DATA_HOME_DIR"],
            "innodb-data-home-dir",
        );
        let undo_dir = pick(
            &s.innodb_undo_directory,
            &["INNODB_UNDO_DIR"],
            "innodb-undo-directory",
        );
        let aria_log_dir = pick(&s.aria_log_dir_path, &[], "aria-log-dir-path");
        let binlog = resolve_binlog(args, options, hostname);
        ServerPaths {
            datadir,
            log_dir,
            data_home_dir,
            undo_dir,
            aria_log_dir,
            binlog,
        }
    }
}

fn resolve_binlog(
    args: &SstArgs,
    options: &dyn ServerOptions,
    hostname: Option<&str>,
) -> Option<BinlogPaths> {
    let log_basename = args.server.log_basename.clone().or_else(|| {
        options
            .server_value("log-basename")
            .filter(|v| !v.is_empty())
    });
    let default_name = || {
        let stem = log_basename.as_deref().or(hostname).unwrap_or("mysql");
        PathBuf::from(format!("{stem}-bin"))
    };
    // --binlog is what the running server uses; then mysqld's argv; then the files.
    let configured = match (&args.binlog, &args.server.log_bin) {
        (Some(b), _) => b.clone(),
        (None, Some(LogBin::Disabled)) => return None,
        (None, Some(LogBin::Named(p))) => p.clone(),
        (None, Some(LogBin::Default)) => default_name(),
        (None, None) => match options.server_value("log-bin") {
            Some(v) if v.is_empty() => default_name(),
            Some(v) => PathBuf::from(v),
            None => return None,
        },
    };
    let configured = strip_extension(&configured);
    let resolved = under_datadir(&args.datadir, &configured);
    let base = resolved.file_name()?.to_owned();
    let dir = resolved
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| args.datadir.clone());
    let index_prefix = match configured.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let index = args
        .binlog_index
        .clone()
        .or_else(|| args.server.log_bin_index.clone())
        .or_else(|| cnf_path(options, "log-bin-index"))
        .map(with_index_extension)
        .or_else(|| {
            log_basename
                .as_ref()
                .map(|b| PathBuf::from(format!("{b}-bin.index")))
        })
        .unwrap_or_else(|| {
            let mut os = configured.clone().into_os_string();
            os.push(".index");
            PathBuf::from(os)
        });
    Some(BinlogPaths {
        dir,
        base,
        index: under_datadir(&args.datadir, &index),
        index_prefix,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
