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
    if let Some(t) = plan.io_timeout {
        args.push(format!("--timeout={}", t.as_secs().max(1)).into());
    }
    args
}

/// Arguments of the top-level run: the data directory's root. On a
/// socat-based joiner it also carries the kinds of file the donor's server
/// keeps in its data directory (the rest go in [`kind_args`] runs).
pub fn top_level_args(plan: &TransferPlan, joiner: JoinerModules) -> Vec<OsString> {
    let mut args = common_args(plan);
    args.push("--dirs".into());
    for name in SKIPPED_NAMES {
        args.push(format!("--exclude=/{name}").into());
    }
    for pat in &plan.extra_top_level {
        args.push(format!("--include={pat}").into());
    }
    if joiner == JoinerModules::Reference {
        for kind in FileKind::ALL {
            if same_dir(kind.dir(plan), &plan.dirs.datadir) {
                for pat in kind.patterns() {
                    args.push(format!("--include={pat}").into());
                }
            }
        }
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

/// Arguments of step 3 for one top-level directory.
pub fn directory_args(plan: &TransferPlan, name: &OsStr) -> Vec<OsString> {
    let mut args = common_args(plan);
    args.push("--recursive".into());
    args.push("--exclude=*/ib_logfile*".into());
    args.push(contents_of(&plan.dirs.datadir.join(name)));
    args.push(plan.url(MODULE, Some(name)));
    args
}

/// The data directory's top-level directories (symlinks to directories
/// count, as with `find -L`), minus [`SKIPPED_NAMES`], sorted.
pub fn top_level_dirs(datadir: &Path) -> Result<Vec<OsString>, RsyncError> {
    let io_err = |source| RsyncError::Io {
        action: "list",
        path: datadir.to_path_buf(),
        source,
    };
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(datadir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name();
        if SKIPPED_NAMES.iter().any(|s| OsStr::new(s) == name) {
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
    let mut args: Vec<OsString> = vec!["--archive".into(), "--checksum".into(), "--quiet".into()];
    if let Some(t) = plan.io_timeout {
        args.push(format!("--timeout={}", t.as_secs().max(1)).into());
    }
    args.push(file.into_os_string());
    args.push(plan.url(MODULE, None));
    args
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn plan() -> TransferPlan {
        TransferPlan {
            rsync: "/usr/bin/rsync".into(),
            dirs: ServerDirs::with_log_dir("/var/lib/mysql".into(), "/var/lib/mysql".into()),
            relay: "127.0.0.1:4000".parse().unwrap(),
            parallel: 2,
            whole_file: true,
            extra_top_level: vec!["/ib_buffer_pool".into()],
            io_timeout: None,
        }
    }

    #[test]
    fn io_timeout_reaches_every_run_the_marker_included() {
        let mut p = plan();
        p.io_timeout = Some(Duration::from_secs(5));
        for args in [
            top_level_args(&p, JoinerModules::All),
            kind_args(&p, FileKind::Undo, JoinerModules::All),
            log_dir_args(&p),
            directory_args(&p, OsStr::new("db")),
            marker_args(&p, "/tmp/m/rsync_tunnel_sst_complete".into()),
        ] {
            assert!(strs(&args).contains(&"--timeout=5"), "{args:?}");
        }
        let m = marker_args(&plan(), "/tmp/m/x".into());
        assert_eq!(
            strs(&m),
            [
                "--archive",
                "--checksum",
                "--quiet",
                "/tmp/m/x",
                "rsync://127.0.0.1:4000/rsync_tunnel_sst/"
            ]
        );
    }

    fn strs(v: &[OsString]) -> Vec<&str> {
        v.iter().map(|s| s.to_str().unwrap()).collect()
    }

    #[test]
    fn top_level_filters_in_order() {
        let args = top_level_args(&plan(), JoinerModules::Reference);
        let a = strs(&args);
        let pos = |s: &str| a.iter().position(|x| *x == s).unwrap();
        assert!(a.contains(&"--dirs") && !a.contains(&"--recursive"));
        assert!(pos("--exclude=/lost+found") < pos("--include=/ibdata*"));
        assert!(pos("--include=/ib_buffer_pool") < pos("--exclude=/*"));
        assert!(pos("--include=/undo*") < pos("--exclude=/*"));
        assert!(pos("--include=/aria_log_control") < pos("--exclude=/*"));
        assert!(pos("--include=/*/") < pos("--exclude=/*"));
        assert_eq!(a[a.len() - 2], "/var/lib/mysql/");
        assert_eq!(a[a.len() - 1], "rsync://127.0.0.1:4000/rsync_tunnel_sst/");
        // An sst-tunnel joiner gets each kind through its own module.
        let args = top_level_args(&plan(), JoinerModules::All);
        let a = strs(&args);
        for kind in FileKind::ALL {
            for pat in kind.patterns() {
                assert!(!a.contains(&format!("--include={pat}").as_str()), "{a:?}");
            }
        }
        assert!(a.contains(&"--include=/wsrep_sst_binlog.tar"));
    }

    #[test]
    fn each_kind_goes_from_its_directory_to_its_module_or_the_data_module() {
        let mut p = plan();
        p.dirs.data_home_dir = "/data/ibdata".into();
        p.dirs.undo_dir = "/data/undo".into();
        p.dirs.aria_log_dir = "/data/aria".into();
        let a = kind_args(&p, FileKind::SystemTablespace, JoinerModules::All);
        assert!(strs(&a).ends_with(&[
            "--include=/ibdata*",
            "--include=/ib_lru_dump",
            "--exclude=*",
            "/data/ibdata/",
            "rsync://127.0.0.1:4000/rsync_tunnel_sst-data_dir/"
        ]));
        let a = kind_args(&p, FileKind::Undo, JoinerModules::All);
        assert!(strs(&a).ends_with(&[
            "/data/undo/",
            "rsync://127.0.0.1:4000/rsync_tunnel_sst-undo_dir/"
        ]));
        let a = kind_args(&p, FileKind::AriaLog, JoinerModules::Reference);
        assert!(strs(&a).ends_with(&[
            "--include=/aria_log_control",
            "--include=/aria_log.*",
            "--exclude=*",
            "/data/aria/",
            "rsync://127.0.0.1:4000/rsync_tunnel_sst/"
        ]));
        // On a socat joiner, kinds kept elsewhere are not in the top-level run.
        let t = top_level_args(&p, JoinerModules::Reference);
        assert!(!strs(&t).contains(&"--include=/ibdata*"), "{t:?}");
    }

    #[test]
    fn log_and_directory_runs() {
        let a = log_dir_args(&plan());
        let a = strs(&a);
        assert!(a.ends_with(&[
            "--include=/ib_logfile[0-9]*",
            "--exclude=**",
            "/var/lib/mysql/",
            "rsync://127.0.0.1:4000/rsync_tunnel_sst-log_dir/"
        ]));
        let d = directory_args(&plan(), OsStr::new("mysql"));
        let d = strs(&d);
        assert!(d.contains(&"--recursive") && d.contains(&"--whole-file"));
        assert!(d.ends_with(&[
            "--exclude=*/ib_logfile*",
            "/var/lib/mysql/mysql/",
            "rsync://127.0.0.1:4000/rsync_tunnel_sst/mysql/"
        ]));
    }

    #[test]
    fn the_wan_method_leaves_out_whole_file_everywhere() {
        let mut p = plan();
        p.whole_file = false;
        for args in [
            top_level_args(&p, JoinerModules::All),
            kind_args(&p, FileKind::Undo, JoinerModules::All),
            log_dir_args(&p),
            directory_args(&p, OsStr::new("db")),
        ] {
            let a = strs(&args);
            assert!(!a.contains(&"--whole-file"), "{a:?}");
            assert!(a.contains(&"--inplace") && a.contains(&"--delete"), "{a:?}");
        }
        assert!(strs(&log_dir_args(&plan())).contains(&"--whole-file"));
    }

    #[test]
    fn ipv6_relay_url_is_bracketed() {
        let mut p = plan();
        p.relay = "[::1]:4000".parse().unwrap();
        assert_eq!(p.url(MODULE, None), "rsync://[::1]:4000/rsync_tunnel_sst/");
    }

    #[test]
    fn top_level_dirs_skip_artefacts_and_follow_symlinks() {
        let d = tempfile::tempdir().unwrap();
        for n in ["mysql", "lost+found", ".zfs", "b_db"] {
            std::fs::create_dir(d.path().join(n)).unwrap();
        }
        std::fs::write(d.path().join("ibdata1"), b"x").unwrap();
        std::os::unix::fs::symlink(d.path().join("mysql"), d.path().join("a_link")).unwrap();
        let got = top_level_dirs(d.path()).unwrap();
        assert_eq!(got, ["a_link", "b_db", "mysql"]);
    }
}
