//! The data-directory files of the contract (sst-protocol.md §5.1, §3.2):
//! `sst_in_progress` (joiner), `tables_flushed`/`sst_error` (written by the
//! donor's server after `flush tables`), the reference's pid files that mark
//! a transfer still running, and the registry that removes our temporary
//! files on every exit path ([`TempFiles`]).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::exit::ExitCode;
use crate::sst::protocol::{State, StateError};

/// Mode of the flag, pid and staging files the method creates (owner only).
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Joiner: present while a transfer runs (informational; the rsync daemon
/// neither writes nor deletes it).
pub use crate::rsync::SST_IN_PROGRESS;
/// Donor: the server writes the flushed state here after `flush tables`.
pub const TABLES_FLUSHED: &str = "tables_flushed";
/// Donor: the server creates this when FLUSH TABLES failed.
pub const SST_ERROR: &str = "sst_error";
/// The joiner's rsync daemon configuration (reference name), written in a
/// private directory outside the data directory.
pub use crate::rsync::daemon::CONFIG_FILE as RSYNC_CONF;
/// The joiner's pid file (the reference's name for its rsync daemon's):
/// what a stale-process check, ours or the socat script's, looks for. The
/// rsync daemon neither writes nor deletes it.
pub use crate::rsync::DAEMON_PID as RSYNC_PID;
pub use crate::rsync::MARKER;
/// The reference's socat pid file (both roles; protected like [`RSYNC_PID`]).
pub use crate::rsync::SOCAT_PID;
/// How long a joiner waits for a previous transfer's processes to end
/// before it gives up with exit 114, as the stock scripts (30 × 1 s).
pub const STALE_WAIT: Duration = Duration::from_secs(30);
/// How often the file waits poll, as the stock scripts (0.2 s).
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// A data-directory file step failed.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// Creating or writing a file failed.
    #[error("cannot create {path}")]
    Create {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// Removing a file failed.
    #[error("cannot remove {path}")]
    Remove {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// Reading a file failed.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// The server reported a failed FLUSH TABLES (`sst_error` appeared).
    #[error("flush tables failed: the server created {path}")]
    FlushFailed {
        /// The `sst_error` file (already removed).
        path: PathBuf,
    },
    /// `tables_flushed` does not hold a usable state.
    #[error("{path} holds no usable state")]
    FlushedState {
        /// The `tables_flushed` file.
        path: PathBuf,
        /// The parse failure.
        #[source]
        source: StateError,
    },
    /// The completion marker does not start with a usable state.
    #[error("marker {path} holds no usable state")]
    MarkerState {
        /// The marker file.
        path: PathBuf,
        /// The parse failure.
        #[source]
        source: StateError,
    },
    /// The deadline passed while waiting.
    #[error("timed out after {waited:?} waiting for {path}")]
    TimedOut {
        /// What was waited for.
        path: PathBuf,
        /// How long.
        waited: Duration,
    },
    /// The wait was cancelled (signal or parent death; the canceller knows the exit code).
    #[error("cancelled while waiting for {path}")]
    Cancelled {
        /// What was waited for.
        path: PathBuf,
    },
    /// A previous transfer's process is still alive.
    #[error("a previous transfer is still running: {path} names live pid {pid}")]
    AlreadyRunning {
        /// The pid file.
        path: PathBuf,
        /// The live process.
        pid: u32,
    },
}

impl FilesError {
    /// The exit code, as the original script's for the same situation.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            FilesError::FlushFailed { .. } | FilesError::FlushedState { .. } => {
                ExitCode::TransferFailed
            }
            FilesError::MarkerState { .. } => ExitCode::BrokenPipe,
            FilesError::TimedOut { .. } => ExitCode::TimedOut,
            FilesError::Cancelled { .. } => ExitCode::Interrupted,
            FilesError::AlreadyRunning { .. } => ExitCode::AlreadyRunning,
            FilesError::Create { .. } | FilesError::Remove { .. } | FilesError::Read { .. } => {
                ExitCode::Failure
            }
        }
    }
}

/// Removes `path`; a missing file is fine.
pub fn remove_if_present(path: &Path) -> Result<(), FilesError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(FilesError::Remove {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Removes `path`, a file or an empty directory (never its content; a
/// symbolic link is removed, not followed); a missing path is fine.
fn remove_entry(path: &Path) -> Result<(), FilesError> {
    let is_dir = fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    let removed = if is_dir {
        fs::remove_dir(path)
    } else {
        fs::remove_file(path)
    };
    match removed {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(FilesError::Remove {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Joiner: `<datadir>/sst_in_progress` exists for as long as this guard lives.
#[derive(Debug)]
pub struct InProgress {
    path: PathBuf,
}

impl InProgress {
    /// Creates the file afresh (one left by an earlier run is replaced,
    /// never written through should it be a symbolic link).
    pub fn create(datadir: &Path) -> Result<InProgress, FilesError> {
        let path = datadir.join(SST_IN_PROGRESS);
        let err = |source| FilesError::Create {
            path: path.clone(),
            source,
        };
        remove_if_present(&path)?;
        // Owner only, like every file the method creates: the datadir may
        // be world-traversable (Debian's /var/lib/mysql is 0755).
        let file = fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(PRIVATE_FILE_MODE)
            .open(&path)
            .map_err(err)?;
        file.set_permissions(fs::Permissions::from_mode(PRIVATE_FILE_MODE))
            .map_err(err)?;
        Ok(InProgress { path })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        if let Err(e) = remove_if_present(&self.path) {
            tracing::warn!(error = %e, "cannot remove sst_in_progress");
        }
    }
}

/// Donor: removes `tables_flushed` and `sst_error` left by an earlier run,
/// before printing `flush tables`.
pub fn remove_stale_flush_files(datadir: &Path) -> Result<(), FilesError> {
    remove_if_present(&datadir.join(TABLES_FLUSHED))?;
    remove_if_present(&datadir.join(SST_ERROR))
}

/// What one look at the datadir found.
enum Flush {
    Pending,
    Done(State),
}

fn look_for_flush(datadir: &Path) -> Result<Flush, FilesError> {
    let error = datadir.join(SST_ERROR);
    if error.exists() {
        remove_if_present(&error)?;
        return Err(FilesError::FlushFailed { path: error });
    }
    let flushed = datadir.join(TABLES_FLUSHED);
    // Unreadable or not yet holding ':' means "not yet" (the server renames it in place).
    let Ok(content) = fs::read_to_string(&flushed) else {
        return Ok(Flush::Pending);
    };
    if !content.contains(':') {
        return Ok(Flush::Pending);
    }
    let state = State::from_first_line(&content).map_err(|source| FilesError::FlushedState {
        path: flushed,
        source,
    })?;
    Ok(Flush::Done(state))
}

/// Donor: waits (polling every 200 ms) until the server has written
/// `tables_flushed` with a state (returned) or created `sst_error` (removed;
/// [`FilesError::FlushFailed`], exit 255). Ends early on `cancel` or at
/// `deadline`.
///
/// `tables_flushed` is left in place: the server may write it a second time
/// while the lock is held, so the caller registers it in [`TempFiles`] and
/// it goes at exit.
pub async fn wait_tables_flushed(
    datadir: &Path,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
) -> Result<State, FilesError> {
    let started = Instant::now();
    let what = datadir.join(TABLES_FLUSHED);
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Err(FilesError::Cancelled { path: what }),
            _ = tick.tick() => {}
        }
        if let Flush::Done(state) = look_for_flush(datadir)? {
            return Ok(state);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(FilesError::TimedOut {
                path: what,
                waited: started.elapsed(),
            });
        }
    }
}

/// True when `pid` names a running (not zombie) process, from `/proc`.
pub fn process_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state letter follows the last ')' (the command name may contain parentheses).
    match stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
    {
        Some("Z") | Some("X") | Some("x") => false,
        Some(_) => true,
        None => false,
    }
}

/// Reads the first token of a pid file.
fn read_pid(path: &Path) -> Result<Option<u32>, FilesError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text.split_whitespace().next().and_then(|t| t.parse().ok())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FilesError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Fails with [`FilesError::AlreadyRunning`] (exit 114) if
/// `rsync_tunnel_sst.pid` or `rsync_tunnel_sst-socat.pid` names a live
/// process other than us; stale or unparsable pid files are removed.
pub fn check_stale_processes(datadir: &Path) -> Result<(), FilesError> {
    for name in [RSYNC_PID, SOCAT_PID] {
        let path = datadir.join(name);
        if !path.exists() {
            continue;
        }
        match read_pid(&path)? {
            Some(pid) if pid != std::process::id() && process_alive(pid) => {
                return Err(FilesError::AlreadyRunning { path, pid });
            }
            _ => {
                tracing::info!(path = %path.display(), "removing stale pid file");
                remove_if_present(&path)?;
            }
        }
    }
    Ok(())
}

/// [`check_stale_processes`] repeated every 200 ms until the previous
/// processes are gone, `cancel` fires or `deadline` passes (then exit 114,
/// like the stock scripts after 30 s).
pub async fn wait_stale_processes(
    datadir: &Path,
    cancel: &CancellationToken,
    deadline: Instant,
) -> Result<(), FilesError> {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut said = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Err(FilesError::Cancelled { path: datadir.join(RSYNC_PID) }),
            _ = tick.tick() => {}
        }
        match check_stale_processes(datadir) {
            Err(e @ FilesError::AlreadyRunning { .. }) if Instant::now() >= deadline => {
                return Err(e)
            }
            Err(e @ FilesError::AlreadyRunning { .. }) => {
                if !said {
                    said = true;
                    let left = deadline.saturating_duration_since(Instant::now());
                    tracing::info!("{e}; waiting up to {}s for it to end", left.as_secs());
                }
            }
            other => return other,
        }
    }
}

/// Writes our own pid into `path` (so a later joiner, ours or a reference
/// peer, sees us running): a fresh file, whatever was there removed first,
/// so that a planted symbolic link is never written through.
pub fn write_pid_file(path: &Path) -> Result<(), FilesError> {
    let err = |source| FilesError::Create {
        path: path.to_path_buf(),
        source,
    };
    remove_if_present(path)?;
    let mut file = fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path)
        .map_err(err)?;
    file.set_permissions(fs::Permissions::from_mode(PRIVATE_FILE_MODE))
        .map_err(err)?;
    file.write_all(format!("{}\n", std::process::id()).as_bytes())
        .map_err(err)
}

/// The most of the completion marker that is read: its first line is a
/// state of a few dozen bytes.
pub const MARKER_MAX: u64 = 4096;

/// Reads the first line of the completion marker at `path` (`None` while
/// it has not arrived). The donor writes the marker, so it is read as
/// untrusted input: never through a symbolic link, only a regular file,
/// at most [`MARKER_MAX`] bytes.
pub fn read_marker_line(path: &Path) -> io::Result<Option<String>> {
    use std::io::Read as _;
    let invalid = |what| io::Error::new(io::ErrorKind::InvalidData, what);
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(invalid("it is a symbolic link"))
        }
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(invalid("not a regular file"));
    }
    let mut text = Vec::new();
    file.take(MARKER_MAX).read_to_end(&mut text)?;
    let text = String::from_utf8_lossy(&text);
    Ok(Some(
        text.lines()
            .next()
            .unwrap_or("")
            .trim_end_matches('\r')
            .to_string(),
    ))
}

mod temp;
pub use temp::TempFiles;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
