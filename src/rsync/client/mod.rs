//! The donor's rsync runs: the SST transfer sequence (sst-protocol.md §5.3).
//!
//! Every run targets the donor's loopback relay
//! (`rsync://ADDR/rsync_tunnel_sst...`), which carries it inside TLS to the
//! joiner. The sequence is the reference script's plus the fixes MariaDB
//! 11.x needs, and a schema phase balanced by bytes:
//!
//! 1. the data directory's top level with `--dirs`: every directory (empty,
//!    its contents come in steps 6 and 7) and the binlog tar. The donor's
//!    own directories for a kind of file or the redo log, when they lie in
//!    its data directory, are not schemas and stay out of steps 1, 6 and 7;
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
//! 5. the plan ([`streams`]): every regular file of the schema directories
//!    with its size, dealt out to `parallel` streams of about equal bytes,
//!    largest first; one `donor: plan` line says the streams, bytes and
//!    files of each;
//! 6. the delete pass: every top-level directory as the reference sends
//!    each (`--recursive --delete`, the same filters), in one run
//!    (`--relative`, `DATADIR/./NAME/` each, the patterns anchored at the
//!    name), with `--min-size` above the largest file of the plan, so it
//!    sends no regular file's data but does everything else. One run, not
//!    one per directory: it moves metadata only, and each connection costs
//!    a TLS handshake and an rsync daemon (about 0.15 s here);
//! 7. the streams: `parallel` rsync runs at once, each with its list
//!    (`--files-from`, `--from0`) of regular files into the data module;
//! 8. the marker ([`send_marker`]), last, so its arrival proves the rest did.
//!
//! Each finished step logs `donor: step done step=NAME elapsed_ms=N`
//! ([`step_done`]): `top level`, `system tablespace`, `undo tablespaces`,
//! `aria logs`, `log dir`, `delete`, `schemas` (step 7 as a whole) and
//! `marker`.
//!
//! # Why a delete pass, and why `--min-size`
//!
//! One rsync per schema directory sends one big schema through one
//! connection, however many are allowed; a stream of listed files can
//! carry any share of the bytes, but `--files-from` without `--recursive`
//! never looks at what else a joiner's directory holds, so it deletes
//! nothing extraneous. Step 6 keeps the reference's exact semantics for
//! everything but file data: rsync's `--delete` removes every joiner entry
//! the donor lacks, in every directory (joiner-only directories at any
//! depth go as a whole), creates every directory (empty ones included) with
//! its owner, group and permissions, sends symlinks and special files
//! (`--links --specials`, checked before the size rule), and replaces a
//! joiner's file where the donor has a directory. `--min-size` is a
//! transfer rule, not an exclude (rsync's manual, 3.1.3 and 3.5.0): the
//! regular files stay in the file list, so they are neither deleted nor
//! sent, zero-length ones included (they are smaller than the bound).
//! The bound is the plan's largest file plus one rather than a fixed
//! "impossible" size: rsync 3.2+ on a 32-bit system caps sizes at 2 GiB.
//! A file that grew past the bound after the walk is sent by step 6 as
//! well: correct, only slower.
//!
//! The other candidate, `--existing --ignore-existing`, deletes the same
//! but creates nothing: new directories, symlinks and FIFOs would have to
//! ride in the streams, two streams would create the same new directories
//! concurrently, and a joiner's file where the donor has a directory is
//! skipped, not replaced. Both need one option added to the joiner's
//! accepted list; `--min-size` is one, and harmless (src/rsync/refuse.rs).
//!
//! In step 7, `--files-from` implies `--relative` and `--dirs`: each
//! listed file's parent directories are sent as implied directories with
//! the donor's attributes, which step 6 already gave them (the directories
//! all exist by then, so no two streams race to create one; rsync accepts
//! `EEXIST` anyway). `--delete` stays on the streams: the lists name only
//! regular files, so no directory's contents are compared and nothing is
//! deleted, except what the one rule it enables needs: a joiner's
//! non-empty directory where the donor has a listed file is removed
//! (step 6 skips that file by size before replacing anything). The
//! client reads the list itself and forwards neither `--files-from` nor
//! `--from0`; what reaches the joiner's daemon is the directory runs'
//! flags plus `-R`, which it accepts. Limit: a schema directory without
//! owner `rwx` on the donor, copied by a non-root joiner, is opened up by
//! each stream while it writes and closed again when that stream ends,
//! which can fail a sibling still writing there (mariadbd cannot use such
//! a directory either).
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

use tokio_util::sync::CancellationToken;

use super::{find_rsync, RsyncError, ServerDirs, MARKER};
use run::{run, run_parallel};

mod args;
mod run;
pub mod streams;
pub use args::{
    delete_args, kind_args, log_dir_args, marker_args, nested_below, nested_dirs,
    own_top_level_dirs, stream_args, top_level_args, top_level_dirs, FileKind, JoinerModules,
    COMMON_FLAGS, SKIPPED_NAMES, TOP_LEVEL_FILES,
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
    /// Top-level (schema) directories of the delete pass.
    pub directories: usize,
    /// Balanced streams of the schema phase.
    pub streams: usize,
}

/// Steps 1 to 7 of the transfer (see the module header): the top level;
/// the system tablespace, which also tells which modules the joiner
/// serves; the undo tablespaces and Aria logs; the redo logs; the plan of
/// the schema phase; the delete pass over every top-level directory, in
/// one run; then the balanced streams, `plan.parallel` of them at once. The first failure
/// stops the rest (their rsyncs are killed) and is returned. Each finished
/// step logs [`step_done`].
pub async fn send_data(
    plan: &TransferPlan,
    token: &CancellationToken,
) -> Result<DataSummary, RsyncError> {
    let dirs = top_level_dirs(plan)?;
    for name in own_top_level_dirs(plan) {
        tracing::debug!(
            dir = %plan.dirs.datadir.join(&name).display(),
            "not a schema: the server keeps a kind of file there, sent by its own run"
        );
    }
    timed_step(plan, "top level", top_level_args(plan), token).await?;
    // The system tablespace also tells which modules the joiner serves.
    // It comes after the top level, whose `--delete` removes the joiner's
    // directories the donor does not have: a kind the joiner keeps in one
    // of them must arrive after that (the joiner re-creates its module
    // directories for every connection).
    let first = FileKind::SystemTablespace;
    let first_started = Instant::now();
    let joiner = match run(
        &plan.rsync,
        first.step().into(),
        kind_args(plan, first, JoinerModules::All),
        token,
    )
    .await
    {
        Ok(()) => {
            step_done(first.step(), first_started);
            JoinerModules::All
        }
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
    for kind in FileKind::ALL {
        if kind != first {
            timed_step(plan, kind.step(), kind_args(plan, kind, joiner), token).await?;
        } else if joiner == JoinerModules::Reference {
            // The fallback's run, timed from the first attempt.
            let args = kind_args(plan, kind, joiner);
            run(&plan.rsync, kind.step().into(), args, token).await?;
            step_done(kind.step(), first_started);
        }
    }
    timed_step(plan, "log dir", log_dir_args(plan), token).await?;

    let t = Instant::now();
    let files = streams::schema_files(plan, &dirs)?;
    // Larger than every regular file: the delete pass sends none of them.
    let min_size = files.iter().map(|f| f.size).max().unwrap_or(0) + 1;
    let planned = streams::balance(files, plan.parallel);
    log_plan(&planned, min_size - 1, t);

    let t = Instant::now();
    if !dirs.is_empty() {
        let args = delete_args(plan, &dirs, min_size);
        run(&plan.rsync, "delete pass".into(), args, token).await?;
    }
    step_done("delete", t);

    let t = Instant::now();
    let lists = streams::write_lists(&planned)?;
    let n = planned.len();
    let jobs = lists
        .paths
        .iter()
        .enumerate()
        .map(|(i, list)| (format!("stream {} of {n}", i + 1), stream_args(plan, list)))
        .collect();
    run_parallel(&plan.rsync, jobs, n, token).await?;
    step_done("schemas", t);
    Ok(DataSummary {
        directories: dirs.len(),
        streams: n,
    })
}

/// Runs one step of the sequence and logs [`step_done`] once it succeeded.
async fn timed_step(
    plan: &TransferPlan,
    step: &str,
    args: Vec<OsString>,
    token: &CancellationToken,
) -> Result<(), RsyncError> {
    let started = Instant::now();
    run(&plan.rsync, step.into(), args, token).await?;
    step_done(step, started);
    Ok(())
}

/// Logs that the donor finished `step` after `started`: the line the
/// cluster benchmark parses, `donor: step done step=NAME elapsed_ms=N`.
pub fn step_done(step: &str, started: Instant) {
    tracing::info!(
        step = %step,
        elapsed_ms = millis(started.elapsed()),
        "donor: step done"
    );
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The plan line: how many streams, their bytes and files, the largest
/// file (the bound of the imbalance), and how long the walk took.
fn log_plan(planned: &[streams::Stream], largest: u64, started: Instant) {
    let join = |f: &dyn Fn(&streams::Stream) -> u64| {
        planned
            .iter()
            .map(|s| f(s).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    tracing::info!(
        streams = planned.len(),
        bytes = planned.iter().map(|s| s.bytes).sum::<u64>(),
        files = planned.iter().map(|s| s.files.len()).sum::<usize>(),
        largest_file = largest,
        stream_bytes = %join(&|s| s.bytes),
        stream_files = %join(&|s| s.files.len() as u64),
        elapsed_ms = millis(started.elapsed()),
        "donor: plan"
    );
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
    let tmp = private_tempdir("sst-tunnel-marker.")?;
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
    let t = Instant::now();
    run(&plan.rsync, "marker".into(), marker_args(plan, file), token).await?;
    step_done("marker", t);
    Ok(())
}

/// A temporary directory only its owner may enter (0700), removed when
/// dropped: what the donor writes there names or holds its own data.
fn private_tempdir(prefix: &str) -> Result<tempfile::TempDir, RsyncError> {
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(|source| RsyncError::Io {
            action: "create a temporary directory in",
            path: std::env::temp_dir(),
            source,
        })
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
