//! The arguments of each donor rsync run: the flags every data run shares,
//! the filters of each step, and where each kind of file goes (its own
//! module on an sst-tunnel joiner, the data directory on a socat-based one).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::{RsyncError, TransferPlan};
#[cfg(test)]
use crate::rsync::ServerDirs;
use crate::rsync::{ARIA_LOG_MODULE, DATA_DIR_MODULE, LOG_MODULE, MODULE, UNDO_DIR_MODULE};

/// Flags of every data run (the reference's, with `--whole-file` unless
/// the plan says otherwise: the delta algorithm only pays when the joiner
/// already holds most of the data and the link is slow, `rsync_tunnel_wan`).
pub const COMMON_FLAGS: [&str; 10] = [
    "--owner",
    "--group",
    "--perms",
    "--links",
    "--specials",
    "--ignore-times",
    "--inplace",
    "--delete",
    "--quiet",
    "--whole-file",
];

/// The socket option every run sets on its own connection to the relay.
/// rsync's protocol is a series of small messages each waiting for the
/// other side's answer; with Nagle's algorithm on, a small write that
/// follows an unacknowledged one waits for the peer's delayed ACK (40 ms on
/// Linux), several times per run: a run moving a few files took 0.15 s,
/// most of a small step's time. `--sockopts` is a client-only option (rsync
/// never forwards it to the server, in 3.1.3 as in 3.5), so the wire and
/// what a socat-based joiner sees do not change.
pub const CLIENT_SOCKET_OPTION: &str = "--sockopts=TCP_NODELAY";

/// Top-level names never sent (file-system artefacts, not data).
pub const SKIPPED_NAMES: [&str; 5] = ["lost+found", ".zfs", ".fseventsd", ".Trashes", ".snapshot"];

/// Files of the data directory root that the top-level run always sends
/// (rsync patterns anchored at the root): the binlog tar and every
/// directory (empty: their contents come in the directory runs).
pub const TOP_LEVEL_FILES: [&str; 2] = ["/wsrep_sst_binlog.tar", "/*/"];

/// A kind of file the server may keep outside the data directory, and the
/// joiner's module that receives it where the joiner's server keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// The InnoDB system tablespace, `innodb_data_home_dir`.
    SystemTablespace,
    /// InnoDB undo tablespaces, `innodb_undo_directory`.
    Undo,
    /// The Aria logs, `aria_log_dir_path`.
    AriaLog,
}

impl FileKind {
    /// Every kind, the system tablespace first.
    pub const ALL: [FileKind; 3] = [
        FileKind::SystemTablespace,
        FileKind::Undo,
        FileKind::AriaLog,
    ];

    /// The joiner's module for this kind.
    pub fn module(self) -> &'static str {
        match self {
            FileKind::SystemTablespace => DATA_DIR_MODULE,
            FileKind::Undo => UNDO_DIR_MODULE,
            FileKind::AriaLog => ARIA_LOG_MODULE,
        }
    }

    /// Its files, as rsync patterns anchored at the directory's root.
    pub fn patterns(self) -> &'static [&'static str] {
        match self {
            FileKind::SystemTablespace => &["/ibdata*", "/ib_lru_dump"],
            FileKind::Undo => &["/undo*"],
            FileKind::AriaLog => &["/aria_log_control", "/aria_log.*"],
        }
    }

    /// Where the donor's server keeps it.
    pub fn dir(self, plan: &TransferPlan) -> &Path {
        match self {
            FileKind::SystemTablespace => &plan.dirs.data_home_dir,
            FileKind::Undo => &plan.dirs.undo_dir,
            FileKind::AriaLog => &plan.dirs.aria_log_dir,
        }
    }

    /// The step's name in messages.
    pub fn step(self) -> &'static str {
        match self {
            FileKind::SystemTablespace => "system tablespace",
            FileKind::Undo => "undo tablespaces",
            FileKind::AriaLog => "aria logs",
        }
    }
}

/// Which modules the joiner serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinerModules {
    /// An sst-tunnel joiner: one module per kind of file.
    All,
    /// A socat-based joiner: only [`MODULE`] and [`LOG_MODULE`]; every kind
    /// goes into its data directory.
    Reference,
}

/// True when `a` and `b` name the same directory.
pub(super) fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// `dir/` as an rsync source (its contents).
fn contents_of(dir: &Path) -> OsString {
    let mut s = dir.as_os_str().to_owned();
    if !s.as_encoded_bytes().ends_with(b"/") {
        s.push("/");
    }
    s
}

/// The flags every data run shares, and rsync's own I/O timeout.
fn common_args(plan: &TransferPlan) -> Vec<OsString> {
    let mut args: Vec<OsString> = COMMON_FLAGS
        .iter()
        .filter(|f| plan.whole_file || **f != "--whole-file")
        .map(OsString::from)
        .collect();
    args.push(CLIENT_SOCKET_OPTION.into());
    if let Some(t) = plan.io_timeout {
        args.push(format!("--timeout={}", t.as_secs().max(1)).into());
    }
    args
}

/// The donor's own directories for a kind of file, and its InnoDB log
/// directory, that lie inside its data directory: each one's path relative
/// to the data directory, with the patterns of the files it holds. They are
/// not schemas: the kind and log runs send their files, so the data
/// module's runs leave them out.
pub fn nested_dirs(plan: &TransferPlan) -> Vec<(PathBuf, &'static [&'static str])> {
    let base = canonical(&plan.dirs.datadir);
    let mut out = Vec::new();
    let kinds = FileKind::ALL
        .into_iter()
        .map(|k| (k.dir(plan), k.patterns()))
        .chain([(plan.dirs.log_dir.as_path(), LOG_PATTERNS)]);
    for (dir, patterns) in kinds {
        if let Ok(rel) = canonical(dir).strip_prefix(&base) {
            if rel.components().next().is_some() {
                out.push((rel.to_path_buf(), patterns));
            }
        }
    }
    out
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The redo log's files, as rsync patterns anchored at its directory.
const LOG_PATTERNS: &[&str] = &["/ib_logfile[0-9]*"];

/// `path` as the literal start of an rsync pattern that goes on with
/// `rest`: rsync reads a backslash as an escape only in a pattern that has
/// a wildcard, so the wildcard characters of the path are escaped then.
fn literal_then(path: &Path, rest: &str) -> String {
    let p = path.to_string_lossy();
    let wild = |s: &str| s.contains(['*', '?', '[']);
    if !wild(&p) && !wild(rest) {
        return format!("/{p}{rest}");
    }
    let mut out = String::from("/");
    for c in p.chars() {
        if matches!(c, '*' | '?' | '[' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str(rest);
    out
}

/// Top-level names of the data directory that are the donor's own kind or
/// log directories ([`nested_dirs`] one level down).
pub fn own_top_level_dirs(plan: &TransferPlan) -> Vec<OsString> {
    nested_dirs(plan)
        .into_iter()
        .filter(|(rel, _)| rel.components().count() == 1)
        .map(|(rel, _)| rel.into_os_string())
        .collect()
}

/// Arguments of the top-level run: the data directory's root, with every
/// directory (empty: their contents come in the directory runs) but the
/// donor's own kind and log directories, and the binlog tar. The kinds of
/// file come in [`kind_args`] runs, wherever the server keeps them.
pub fn top_level_args(plan: &TransferPlan) -> Vec<OsString> {
    let mut args = common_args(plan);
    args.push("--dirs".into());
    for name in SKIPPED_NAMES {
        args.push(format!("--exclude=/{name}").into());
    }
    for name in own_top_level_dirs(plan) {
        args.push(format!("--exclude={}", literal_then(Path::new(&name), "/")).into());
    }
    for pat in &plan.extra_top_level {
        args.push(format!("--include={pat}").into());
    }
    for pat in TOP_LEVEL_FILES {
        args.push(format!("--include={pat}").into());
    }
    args.push("--exclude=/*".into());
    args.push(contents_of(&plan.dirs.datadir));
    args.push(plan.url(MODULE, None));
    args
}

/// Arguments of the run for one kind of file: from where the donor's
/// server keeps it, into its module on an sst-tunnel joiner, into the
/// data module's root on a socat-based one. `--delete` touches only that
/// kind's names (the rest is excluded, so protected).
pub fn kind_args(plan: &TransferPlan, kind: FileKind, joiner: JoinerModules) -> Vec<OsString> {
    let mut args = common_args(plan);
    args.push("--dirs".into());
    for pat in kind.patterns() {
        args.push(format!("--include={pat}").into());
    }
    args.push("--exclude=*".into());
    args.push(contents_of(kind.dir(plan)));
    let module = match joiner {
        JoinerModules::All => kind.module(),
        JoinerModules::Reference => MODULE,
    };
    args.push(plan.url(module, None));
    args
}

/// Arguments of step 2: the redo logs into the log directory module.
pub fn log_dir_args(plan: &TransferPlan) -> Vec<OsString> {
    let mut args = common_args(plan);
    args.push("--dirs".into());
    args.push("--include=/ib_logfile[0-9]*".into());
    args.push("--exclude=**".into());
    args.push(contents_of(&plan.dirs.log_dir));
    args.push(plan.url(LOG_MODULE, None));
    args
}

/// The donor's own kind and log directories ([`nested_dirs`]) strictly
/// below the top-level directory `name`, one entry per pattern: (its path
/// relative to the data directory, relative to `name`, the pattern of the
/// files it holds). The schema phase leaves these files to their own runs.
pub fn nested_below(plan: &TransferPlan, name: &Path) -> Vec<(PathBuf, PathBuf, &'static str)> {
    let mut out = Vec::new();
    for (rel, patterns) in nested_dirs(plan) {
        let Ok(inner) = rel.strip_prefix(name) else {
            continue;
        };
        if inner.components().next().is_none() {
            continue;
        }
        let inner = inner.to_path_buf();
        for pat in patterns {
            out.push((rel.clone(), inner.clone(), *pat));
        }
    }
    out
}

/// The per-directory run of the sequence before the balanced streams (one
/// recursive rsync per top-level directory): kept for the tests, as the
/// reference of what the delete pass and the streams must send together.
#[cfg(test)]
pub fn directory_args(plan: &TransferPlan, name: &OsStr) -> Vec<OsString> {
    let mut args = common_args(plan);
    args.push("--recursive".into());
    args.push("--exclude=*/ib_logfile*".into());
    for (_, inner, pat) in nested_below(plan, Path::new(name)) {
        args.push(format!("--exclude={}", literal_then(&inner, pat)).into());
    }
    args.push(contents_of(&plan.dirs.datadir.join(name)));
    args.push(plan.url(MODULE, Some(name)));
    args
}

/// Arguments of the delete pass: every top-level directory of `dirs` in
/// one run (`--relative`, each as `DATADIR/./NAME/`), filtered as the
/// per-directory runs before it filtered each (`ib_logfile*` below the
/// top, [`nested_below`]; the patterns anchored at the directory's name: `*/ib_logfile*` inside NAME is `/NAME/**/ib_logfile*`,
/// a name at least two levels down), with `--min-size=MIN_SIZE` (larger
/// than every regular file the plan found), so rsync creates the
/// directories, symlinks and special files, deletes what the donor does
/// not have, and sends no regular file (the streams send them).
pub fn delete_args(plan: &TransferPlan, dirs: &[OsString], min_size: u64) -> Vec<OsString> {
    let mut args = common_args(plan);
    args.push("--recursive".into());
    args.push("--relative".into());
    for name in dirs {
        let name = Path::new(name);
        args.push(format!("--exclude={}", literal_then(name, "/**/ib_logfile*")).into());
        for (rel, _, pat) in nested_below(plan, name) {
            args.push(format!("--exclude={}", literal_then(&rel, pat)).into());
        }
    }
    args.push(format!("--min-size={min_size}").into());
    for name in dirs {
        let mut src = plan.dirs.datadir.as_os_str().to_owned();
        src.push("/./");
        src.push(name);
        src.push("/");
        args.push(src);
    }
    args.push(plan.url(MODULE, None));
    args
}

/// Arguments of one stream of the schema phase: the files listed in
/// `list` (NUL-separated, relative to the data directory, see
/// [`super::streams::files_from`]) into the data module. `--files-from`
/// implies `--relative` and `--dirs`; the client reads the list itself and
/// forwards neither it nor `--from0`. `--delete` stays: no directory's
/// contents are listed, so it deletes nothing but a joiner's directory
/// where the donor has one of the listed files.
pub fn stream_args(plan: &TransferPlan, list: &Path) -> Vec<OsString> {
    let mut args = common_args(plan);
    args.push("--from0".into());
    let mut from = OsString::from("--files-from=");
    from.push(list);
    args.push(from);
    args.push(contents_of(&plan.dirs.datadir));
    args.push(plan.url(MODULE, None));
    args
}

/// The data directory's top-level directories (symlinks to directories
/// count, as with `find -L`), minus [`SKIPPED_NAMES`] and the donor's own
/// kind and log directories ([`own_top_level_dirs`]), sorted.
pub fn top_level_dirs(plan: &TransferPlan) -> Result<Vec<OsString>, RsyncError> {
    let datadir = plan.dirs.datadir.as_path();
    let own = own_top_level_dirs(plan);
    let io_err = |source| RsyncError::Io {
        action: "list",
        path: datadir.to_path_buf(),
        source,
    };
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(datadir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name();
        if SKIPPED_NAMES.iter().any(|s| OsStr::new(s) == name) || own.contains(&name) {
            continue;
        }
        if std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()) {
            dirs.push(name);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Arguments of step 4: the marker file `file` into the data module's root,
/// under the same `--timeout` as the data runs.
pub fn marker_args(plan: &TransferPlan, file: PathBuf) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "--archive".into(),
        "--checksum".into(),
        "--quiet".into(),
        CLIENT_SOCKET_OPTION.into(),
    ];
    if let Some(t) = plan.io_timeout {
        args.push(format!("--timeout={}", t.as_secs().max(1)).into());
    }
    args.push(file.into_os_string());
    args.push(plan.url(MODULE, None));
    args
}

#[cfg(test)]
mod tests;
