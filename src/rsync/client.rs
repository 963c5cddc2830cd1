//! The donor's rsync runs: the SST transfer sequence (sst-protocol.md §5.3).
//!
//! Every run targets the donor's loopback relay
//! (`rsync://ADDR/rsync_tunnel_sst...`), which carries it inside TLS to the
//! joiner. The sequence is the reference script's plus the fixes MariaDB
//! 11.x needs:
//!
//! 1. the data directory's top level with `--dirs`: every directory (empty,
//!    its contents come in step 3), the binlog tar, `ib_lru_dump`,
//!    `ibdata*`, and also `undo*`, `aria_log_control` and `aria_log.*`
//!    (the reference omits those, which breaks 11.x, where
//!    `innodb_undo_tablespaces` defaults to 3, and Aria system tables);
//! 2. `ib_logfile[0-9]*` from the InnoDB log directory into [`LOG_MODULE`];
//! 3. each top-level directory, recursively, `parallel` at a time;
//! 4. the marker ([`send_marker`]), last, so its arrival proves the rest did.
//!
//! Each rsync is a supervised child ([`crate::child`]) whose stdout goes to
//! our stderr; a failure carries rsync's exit status and stderr tail, and
//! cancellation kills every running rsync's process group.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{find_rsync, RsyncError, LOG_MODULE, MARKER, MODULE};
use crate::child::{ChildCommand, Output};

/// Flags of every data run (the reference's, with `--whole-file` always:
/// the delta algorithm only costs CPU when the joiner's copy is stale).
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

/// Files of the data directory root that are sent in step 1 (rsync
/// patterns anchored at the root).
pub const TOP_LEVEL_FILES: [&str; 7] = [
    "/wsrep_sst_binlog.tar",
    "/ib_lru_dump",
    "/ibdata*",
    "/undo*",
    "/aria_log_control",
    "/aria_log.*",
    "/*/",
];

/// What the donor sends and where.
#[derive(Clone, Debug)]
pub struct TransferPlan {
    /// The rsync binary.
    pub rsync: PathBuf,
    /// The donor's data directory.
    pub datadir: PathBuf,
    /// The donor's InnoDB log directory (often the data directory).
    pub log_dir: PathBuf,
    /// The loopback relay every rsync connects to; runs target
    /// `rsync://RELAY/rsync_tunnel_sst...`.
    pub relay: SocketAddr,
    /// How many per-directory rsyncs run at once (at least 1).
    pub parallel: usize,
    /// More root-level include patterns for step 1 (for example `/ib_buffer_pool`).
    pub extra_top_level: Vec<String>,
    /// `--bwlimit` in KiB/s for every data run (`[sst] sst-bwlimit`).
    pub bwlimit_kib: Option<u64>,
    /// rsync's own `--timeout` (I/O silence, seconds) for every run
    /// (`[sst] sst-idle-timeout`), so a donor facing a silent network ends too.
    pub io_timeout: Option<Duration>,
}

impl TransferPlan {
    /// A plan with rsync located ([`find_rsync`]), one stream per CPU, and
    /// no extra patterns.
    pub fn new(datadir: PathBuf, log_dir: PathBuf, relay: SocketAddr) -> Result<Self, RsyncError> {
        Ok(TransferPlan {
            rsync: find_rsync()?,
            datadir,
            log_dir,
            relay,
            parallel: std::thread::available_parallelism().map_or(1, |n| n.get()),
            extra_top_level: Vec::new(),
            bwlimit_kib: None,
            io_timeout: None,
        })
    }

    /// `rsync://RELAY/<module>/<sub>/`.
    fn url(&self, module: &str, sub: Option<&OsStr>) -> OsString {
        let mut url = OsString::from(format!("rsync://{}/{module}/", self.relay));
        if let Some(sub) = sub {
            url.push(sub);
            url.push("/");
        }
        url
    }
}

/// What [`send_data`] did.
#[derive(Clone, Debug, Default)]
pub struct DataSummary {
    /// Top-level directories sent in step 3.
    pub directories: usize,
    /// rsync processes run.
    pub rsync_runs: usize,
    /// Wall time.
    pub elapsed: Duration,
}

/// `dir/` as an rsync source (its contents).
fn contents_of(dir: &Path) -> OsString {
    let mut s = dir.as_os_str().to_owned();
    if !s.as_encoded_bytes().ends_with(b"/") {
        s.push("/");
    }
    s
}

/// The flags every data run shares, plus the bandwidth limit if any.
fn common_args(plan: &TransferPlan) -> Vec<OsString> {
    let mut args: Vec<OsString> = COMMON_FLAGS.iter().map(OsString::from).collect();
    if let Some(kib) = plan.bwlimit_kib {
        args.push(format!("--bwlimit={kib}").into());
    }
    if let Some(t) = plan.io_timeout {
        args.push(format!("--timeout={}", t.as_secs().max(1)).into());
    }
    args
}

/// Arguments of step 1: the data directory's top level.
pub fn top_level_args(plan: &TransferPlan) -> Vec<OsString> {
    let mut args = common_args(plan);
    args.push("--dirs".into());
    for name in SKIPPED_NAMES {
        args.push(format!("--exclude=/{name}").into());
    }
    for pat in &plan.extra_top_level {
        args.push(format!("--include={pat}").into());
    }
    for pat in TOP_LEVEL_FILES {
        args.push(format!("--include={pat}").into());
    }
    args.push("--exclude=/*".into());
    args.push(contents_of(&plan.datadir));
    args.push(plan.url(MODULE, None));
    args
}

/// Arguments of step 2: the redo logs into the log directory module.
pub fn log_dir_args(plan: &TransferPlan) -> Vec<OsString> {
    let mut args = common_args(plan);
    args.push("--dirs".into());
    args.push("--include=/ib_logfile[0-9]*".into());
    args.push("--exclude=**".into());
    args.push(contents_of(&plan.log_dir));
    args.push(plan.url(LOG_MODULE, None));
    args
}

/// Arguments of step 3 for one top-level directory.
pub fn directory_args(plan: &TransferPlan, name: &OsStr) -> Vec<OsString> {
    let mut args = common_args(plan);
    args.push("--recursive".into());
    args.push("--exclude=*/ib_logfile*".into());
    args.push(contents_of(&plan.datadir.join(name)));
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

/// Runs one rsync to completion; cancellation kills its group.
async fn run(
    rsync: &Path,
    step: String,
    args: Vec<OsString>,
    token: &CancellationToken,
) -> Result<(), RsyncError> {
    tracing::debug!(step = %step, "rsync starting");
    let mut cmd = ChildCommand::new("rsync", rsync);
    cmd.args(&args).stdout(Output::Stderr);
    let mut child = cmd.spawn().map_err(|source| RsyncError::Child {
        step: step.clone(),
        source,
    })?;
    let waited = tokio::select! {
        r = child.wait() => Some(r),
        () = token.cancelled() => None,
    };
    let exit = match waited {
        Some(r) => r.map_err(|source| RsyncError::Child {
            step: step.clone(),
            source,
        })?,
        None => {
            // The run is stopped from outside: no grace, nothing to tidy on
            // this side (the client only reads the data directory).
            if let Err(e) = child.kill_now().await {
                tracing::warn!(step = %step, error = %e, "killing rsync failed");
            }
            return Err(RsyncError::Cancelled { step });
        }
    };
    if exit.status.success() {
        tracing::debug!(step = %step, "rsync done");
        Ok(())
    } else {
        Err(RsyncError::Failed {
            step,
            status: exit.status,
            stderr_tail: exit.stderr_tail,
        })
    }
}

/// Steps 1 to 3 of the transfer: top level, redo logs, then every
/// top-level directory, `plan.parallel` at a time. The first failure stops
/// the rest (their rsyncs are killed) and is returned.
pub async fn send_data(
    plan: &TransferPlan,
    token: &CancellationToken,
) -> Result<DataSummary, RsyncError> {
    let start = Instant::now();
    let dirs = top_level_dirs(&plan.datadir)?;
    run(&plan.rsync, "top level".into(), top_level_args(plan), token).await?;
    run(&plan.rsync, "log dir".into(), log_dir_args(plan), token).await?;

    // Children of `token`, so a failure here stops the siblings without
    // cancelling the caller.
    let stop = token.child_token();
    let mut set: JoinSet<Result<(), RsyncError>> = JoinSet::new();
    let mut pending = dirs.iter();
    let mut first_err: Option<RsyncError> = None;
    let parallel = plan.parallel.max(1);
    loop {
        while first_err.is_none() && set.len() < parallel {
            let Some(name) = pending.next() else { break };
            let step = format!("directory {}", name.to_string_lossy());
            let args = directory_args(plan, name);
            let rsync = plan.rsync.clone();
            let stop = stop.clone();
            set.spawn(async move { run(&rsync, step, args, &stop).await });
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let result = joined.unwrap_or_else(|e| {
            Err(RsyncError::Child {
                step: "directory".into(),
                source: crate::child::ChildError::Wait {
                    program: "rsync".into(),
                    source: std::io::Error::other(e.to_string()),
                },
            })
        });
        if let Err(e) = result {
            // Keep the first real failure; siblings then end as cancelled.
            let replace = match &first_err {
                None => true,
                Some(RsyncError::Cancelled { .. }) => !matches!(e, RsyncError::Cancelled { .. }),
                Some(_) => false,
            };
            if replace {
                first_err = Some(e);
            }
            stop.cancel();
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    Ok(DataSummary {
        directories: dirs.len(),
        rsync_runs: dirs.len() + 2,
        elapsed: start.elapsed(),
    })
}

/// Step 4: writes [`MARKER`] holding `state_line` and a newline in a
/// private temporary directory and sends it into the data module's root
/// with `--archive --checksum --quiet`. rsync writes it under a temporary
/// name and renames it, so the joiner never sees a partial marker.
pub async fn send_marker(
    plan: &TransferPlan,
    state_line: &str,
    token: &CancellationToken,
) -> Result<(), RsyncError> {
    if state_line.is_empty() || state_line.contains(['\n', '\r']) {
        return Err(RsyncError::MarkerLine {
            line: state_line.to_string(),
        });
    }
    // Owner only (directory and file): the joiner's copy keeps the file's mode.
    let tmp = tempfile::Builder::new()
        .prefix("sst-tunnel-marker.")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(|source| RsyncError::Io {
            action: "create a temporary directory in",
            path: std::env::temp_dir(),
            source,
        })?;
    let file = tmp.path().join(MARKER);
    let io_err = |source| RsyncError::Io {
        action: "write",
        path: file.clone(),
        source,
    };
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file)
        .and_then(|mut f| f.write_all(format!("{state_line}\n").as_bytes()))
        .map_err(io_err)?;
    run(&plan.rsync, "marker".into(), marker_args(plan, file), token).await
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

    fn plan() -> TransferPlan {
        TransferPlan {
            rsync: "/usr/bin/rsync".into(),
            datadir: "/var/lib/mysql".into(),
            log_dir: "/var/lib/mysql".into(),
            relay: "127.0.0.1:4000".parse().unwrap(),
            parallel: 2,
            extra_top_level: vec!["/ib_buffer_pool".into()],
            bwlimit_kib: None,
            io_timeout: None,
        }
    }

    #[test]
    fn bwlimit_reaches_every_data_run() {
        let mut p = plan();
        p.bwlimit_kib = Some(512);
        for args in [
            top_level_args(&p),
            log_dir_args(&p),
            directory_args(&p, OsStr::new("db")),
        ] {
            assert!(strs(&args).contains(&"--bwlimit=512"), "{args:?}");
        }
        assert!(!strs(&top_level_args(&plan()))
            .iter()
            .any(|a| a.starts_with("--bwlimit")));
    }

    #[test]
    fn io_timeout_reaches_every_run_the_marker_included() {
        let mut p = plan();
        p.io_timeout = Some(Duration::from_secs(5));
        for args in [
            top_level_args(&p),
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
        let args = top_level_args(&plan());
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
