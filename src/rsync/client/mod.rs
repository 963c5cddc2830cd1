//! The donor's rsync runs: the SST transfer sequence (sst-protocol.md §5.3).
//!
//! Every run targets the donor's loopback relay
//! (`rsync://ADDR/rsync_tunnel_sst...`), which carries it inside TLS to the
//! joiner. The sequence is the reference script's plus the fixes MariaDB
//! 11.x needs:
//!
//! 1. the data directory's top level with `--dirs`: every directory (empty,
//!    its contents come in step 5) and the binlog tar. The donor's own
//!    directories for a kind of file or the redo log, when they lie in its
//!    data directory, are not schemas and stay out of steps 1 and 5;
//! 2. the system tablespace (`ibdata*`, `ib_lru_dump`) from the donor's
//!    `innodb_data_home_dir` into [`DATA_DIR_MODULE`], which an sst-tunnel
//!    joiner serves at its own `innodb_data_home_dir`. A socat-based joiner
//!    has no such module (rsync's "Unknown module", which moves nothing):
//!    from then on every kind of file goes into its data directory, as the
//!    socat script does, and a warning says what it cannot honour;
//! 3. the undo tablespaces (`undo*`) and the Aria logs (`aria_log_control`,
//!    `aria_log.*`), each from where the donor's server keeps them, into
//!    their modules (or the data directory; the reference script omits
//!    undo and Aria files kept elsewhere, which breaks 11.x, where
//!    `innodb_undo_tablespaces` defaults to 3, and Aria system tables);
//! 4. `ib_logfile[0-9]*` from the InnoDB log directory into [`LOG_MODULE`];
//! 5. each top-level directory, recursively, `parallel` at a time;
//! 6. the marker ([`send_marker`]), last, so its arrival proves the rest did.
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

use super::{find_rsync, RsyncError, ServerDirs, MARKER};
use crate::child::{ChildCommand, Output};

mod args;
pub use args::{
    directory_args, kind_args, log_dir_args, marker_args, nested_dirs, own_top_level_dirs,
    top_level_args, top_level_dirs, FileKind, JoinerModules, COMMON_FLAGS, SKIPPED_NAMES,
    TOP_LEVEL_FILES,
};

#[cfg(doc)]
use super::{DATA_DIR_MODULE, LOG_MODULE};

/// What the donor sends and where.
#[derive(Clone, Debug)]
pub struct TransferPlan {
    /// The rsync binary.
    pub rsync: PathBuf,
    /// Where the donor's server keeps each kind of file.
    pub dirs: ServerDirs,
    /// The loopback relay every rsync connects to; runs target
    /// `rsync://RELAY/rsync_tunnel_sst...`.
    pub relay: SocketAddr,
    /// How many per-directory rsyncs run at once (at least 1).
    pub parallel: usize,
    /// `--whole-file` on every data run (`rsync_tunnel`); without it rsync
    /// sends only what differs from the joiner's copy (`rsync_tunnel_wan`).
    pub whole_file: bool,
    /// More root-level include patterns for step 1 (for example `/ib_buffer_pool`).
    pub extra_top_level: Vec<String>,
    /// rsync's own `--timeout` (I/O silence, seconds) for every run
    /// (`[sst] sst-idle-timeout`), so a donor facing a silent network ends too.
    pub io_timeout: Option<Duration>,
}

impl TransferPlan {
    /// About how many bytes the transfer sends: every regular file under
    /// each directory it sends from (counted once), for the progress ETA.
    pub fn source_bytes(&self) -> u64 {
        let mut seen: Vec<&Path> = Vec::new();
        let mut total = 0;
        for (_, dir) in self.dirs.modules() {
            if seen
                .iter()
                .any(|d| args::same_dir(d, dir) || dir.starts_with(d))
            {
                continue;
            }
            seen.push(dir);
            total += tree_size(dir);
        }
        total
    }

    /// A plan with rsync located ([`find_rsync`]), one stream per CPU and
    /// no extra patterns, sending from `dirs`.
    pub fn new(dirs: ServerDirs, relay: SocketAddr) -> Result<Self, RsyncError> {
        Ok(TransferPlan {
            rsync: find_rsync()?,
            dirs,
            relay,
            whole_file: true,
            parallel: std::thread::available_parallelism().map_or(1, |n| n.get()),
            extra_top_level: Vec::new(),
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

/// Steps 1 to 5 of the transfer (see the module header): the top level;
/// the system tablespace, which also tells which modules the joiner
/// serves; the undo tablespaces and Aria logs; the redo logs; then every
/// top-level directory, `plan.parallel` at a time. The first failure stops
/// the rest (their rsyncs are killed) and is returned.
pub async fn send_data(
    plan: &TransferPlan,
    token: &CancellationToken,
) -> Result<DataSummary, RsyncError> {
    let start = Instant::now();
    let dirs = top_level_dirs(plan)?;
    for name in own_top_level_dirs(plan) {
        tracing::debug!(
            dir = %plan.dirs.datadir.join(&name).display(),
            "not a schema: the server keeps a kind of file there, sent by its own run"
        );
    }
    run(&plan.rsync, "top level".into(), top_level_args(plan), token).await?;
    let mut runs = 1;
    // The system tablespace also tells which modules the joiner serves.
    // It comes after the top level, whose `--delete` removes the joiner's
    // directories the donor does not have: a kind the joiner keeps in one
    // of them must arrive after that (the joiner re-creates its module
    // directories for every connection).
    let first = FileKind::SystemTablespace;
    let joiner = match run(
        &plan.rsync,
        first.step().into(),
        kind_args(plan, first, JoinerModules::All),
        token,
    )
    .await
    {
        Ok(()) => JoinerModules::All,
        Err(e) if e.unknown_module() => {
            tracing::warn!(
                "the joiner serves no module {} (a socat-based joiner): the system and undo \
                 tablespaces and the Aria logs go into its data directory, whatever its \
                 innodb_data_home_dir, innodb_undo_directory and aria_log_dir_path say",
                first.module()
            );
            JoinerModules::Reference
        }
        Err(e) => return Err(e),
    };
    runs += 1;
    for kind in FileKind::ALL {
        if joiner == JoinerModules::All && kind == first {
            continue;
        }
        run(
            &plan.rsync,
            kind.step().into(),
            kind_args(plan, kind, joiner),
            token,
        )
        .await?;
        runs += 1;
    }
    run(&plan.rsync, "log dir".into(), log_dir_args(plan), token).await?;
    runs += 1;

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
        rsync_runs: dirs.len() + runs,
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

/// Bytes under `dir` (regular files, not following links), for the ETA.
fn tree_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) if m.is_file() => total += m.len(),
                _ => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_size_counts_nested_files() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("a"))?;
        std::fs::write(dir.path().join("a/x"), [0u8; 100])?;
        std::fs::write(dir.path().join("y"), [0u8; 23])?;
        assert_eq!(tree_size(dir.path()), 123);
        Ok(())
    }
}
