//! mysqld's own options as they appear after `--mysqld-args` (and the
//! same server-path options at top level, which `wsrep_sst_common` also
//! accepts): the datadir, binlog and InnoDB/Aria directory settings, and
//! the cluster address (for `sst-allowed-donors = auto`), read with
//! mysqld's rules.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// How mysqld's `--log-bin` was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogBin {
    /// `--log-bin` (or `--enable-log-bin`) without a name: the default base name.
    Default,
    /// `--log-bin=NAME`.
    Named(PathBuf),
    /// `--skip-log-bin` / `--disable-log-bin`.
    Disabled,
}

/// Server paths found on the command line: in `--mysqld-args`, or as the
/// top-level forms `wsrep_sst_common` also accepts (those win).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerArgs {
    /// `--datadir` / `-h`, trailing `/` stripped.
    pub datadir: Option<PathBuf>,
    /// `--log-bin[=NAME]`, `--skip-log-bin`.
    pub log_bin: Option<LogBin>,
    /// `--log-bin-index`.
    pub log_bin_index: Option<PathBuf>,
    /// `--innodb-data-home-dir`.
    pub innodb_data_home_dir: Option<PathBuf>,
    /// `--innodb-log-group-home-dir`.
    pub innodb_log_group_home_dir: Option<PathBuf>,
    /// `--innodb-undo-directory`.
    pub innodb_undo_directory: Option<PathBuf>,
    /// `--aria-log-dir-path`.
    pub aria_log_dir_path: Option<PathBuf>,
    /// `--log-basename`.
    pub log_basename: Option<String>,
    /// `--wsrep-cluster-address` (`gcomm://...`).
    pub wsrep_cluster_address: Option<String>,
}

impl ServerArgs {
    /// Fields set in `self` win; the rest come from `other`.
    pub(super) fn or(self, other: ServerArgs) -> ServerArgs {
        ServerArgs {
            datadir: self.datadir.or(other.datadir),
            log_bin: self.log_bin.or(other.log_bin),
            log_bin_index: self.log_bin_index.or(other.log_bin_index),
            innodb_data_home_dir: self.innodb_data_home_dir.or(other.innodb_data_home_dir),
            innodb_log_group_home_dir: self
                .innodb_log_group_home_dir
                .or(other.innodb_log_group_home_dir),
            innodb_undo_directory: self.innodb_undo_directory.or(other.innodb_undo_directory),
            aria_log_dir_path: self.aria_log_dir_path.or(other.aria_log_dir_path),
            log_basename: self.log_basename.or(other.log_basename),
            wsrep_cluster_address: self.wsrep_cluster_address.or(other.wsrep_cluster_address),
        }
    }
}

/// The server-path options, valid at top level and inside `--mysqld-args`.
#[derive(Copy, Clone)]
pub(super) enum ServerOpt {
    Datadir,
    LogBin,
    LogBinIndex,
    InnodbDataHomeDir,
    InnodbLogGroupHomeDir,
    InnodbUndoDirectory,
    AriaLogDirPath,
    LogBasename,
    WsrepClusterAddress,
}

pub(super) fn server_opt(name: &str) -> Option<ServerOpt> {
    Some(match name {
        "datadir" => ServerOpt::Datadir,
        "log-bin" => ServerOpt::LogBin,
        "log-bin-index" => ServerOpt::LogBinIndex,
        "innodb-data-home-dir" => ServerOpt::InnodbDataHomeDir,
        "innodb-log-group-home-dir" => ServerOpt::InnodbLogGroupHomeDir,
        "innodb-undo-directory" => ServerOpt::InnodbUndoDirectory,
        "aria-log-dir-path" => ServerOpt::AriaLogDirPath,
        "log-basename" => ServerOpt::LogBasename,
        "wsrep-cluster-address" => ServerOpt::WsrepClusterAddress,
        _ => return None,
    })
}

/// Splits `--name[=value]` into the normalised name (`_` → `-`) and the inline value.
pub(super) fn split_long(word: &OsStr) -> Option<(String, Option<OsString>)> {
    let body = word.as_bytes().strip_prefix(b"--")?;
    let (name, value) = match body.iter().position(|&b| b == b'=') {
        Some(i) => (
            &body[..i],
            Some(OsStr::from_bytes(&body[i + 1..]).to_owned()),
        ),
        None => (body, None),
    };
    let name = String::from_utf8_lossy(name).replace('_', "-");
    Some((name, value))
}

/// Strips trailing `/` (keeping a lone `/`).
pub(super) fn strip_trailing_slashes(path: OsString) -> PathBuf {
    let mut bytes = path.into_vec();
    while bytes.len() > 1 && bytes.last() == Some(&b'/') {
        bytes.pop();
    }
    PathBuf::from(OsString::from_vec(bytes))
}

/// An empty value (10.1-era `''` tails) counts as not given.
pub(super) fn non_empty(value: OsString) -> Option<OsString> {
    (!value.is_empty()).then_some(value)
}

/// Applies one server-path option (from either place) to `server`.
pub(super) fn set_server(server: &mut ServerArgs, opt: ServerOpt, value: Option<OsString>) {
    let path = |v: Option<OsString>| v.and_then(non_empty).map(PathBuf::from);
    match opt {
        ServerOpt::Datadir => {
            server.datadir = value.and_then(non_empty).map(strip_trailing_slashes)
        }
        ServerOpt::LogBin => {
            server.log_bin = Some(match value.and_then(non_empty) {
                Some(name) => LogBin::Named(PathBuf::from(name)),
                None => LogBin::Default,
            })
        }
        ServerOpt::LogBinIndex => server.log_bin_index = path(value),
        ServerOpt::InnodbDataHomeDir => server.innodb_data_home_dir = path(value),
        ServerOpt::InnodbLogGroupHomeDir => server.innodb_log_group_home_dir = path(value),
        ServerOpt::InnodbUndoDirectory => server.innodb_undo_directory = path(value),
        ServerOpt::AriaLogDirPath => server.aria_log_dir_path = path(value),
        ServerOpt::LogBasename => {
            server.log_basename = value
                .and_then(non_empty)
                .map(|v| v.to_string_lossy().into_owned())
        }
        ServerOpt::WsrepClusterAddress => {
            server.wsrep_cluster_address = value.map(|v| v.to_string_lossy().into_owned())
        }
    }
}

/// Mines mysqld's own argv with mysqld's rules: `--loose-` prefixes,
/// `--skip-`/`--disable-`/`--enable-log-bin`, `-h DIR`/`-hDIR` for the
/// datadir, required values as `=value` or the next word, and `--log-bin`'s
/// optional value only as `--log-bin=NAME`. Later occurrences win.
/// Unique-prefix abbreviations (`--datad=`) are not recognised.
pub fn mine_mysqld_args(words: &[OsString]) -> ServerArgs {
    let mut server = ServerArgs::default();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        let bytes = word.as_bytes();
        if bytes == b"--" {
            break;
        }
        if let Some(rest) = bytes.strip_prefix(b"-h") {
            let value = if rest.is_empty() {
                let next = words.get(i).cloned();
                i += 1;
                next
            } else {
                Some(OsStr::from_bytes(rest).to_owned())
            };
            set_server(&mut server, ServerOpt::Datadir, value);
            continue;
        }
        let Some((name, inline)) = split_long(word) else {
            continue;
        };
        let name = name.strip_prefix("loose-").unwrap_or(&name);
        match name {
            "skip-log-bin" | "disable-log-bin" => server.log_bin = Some(LogBin::Disabled),
            "enable-log-bin" => server.log_bin = Some(LogBin::Default),
            "log-bin" => set_server(&mut server, ServerOpt::LogBin, inline),
            other => {
                let Some(opt) = server_opt(other) else {
                    continue;
                };
                let value = match inline {
                    Some(v) => Some(v),
                    None => {
                        let next = words.get(i).cloned();
                        i += 1;
                        next
                    }
                };
                set_server(&mut server, opt, value);
            }
        }
    }
    server
}
