//! The data-directory files of the contract (sst-protocol.md §5.1, §3.2):
//! their names, the one error type of every step on them ([`FilesError`]),
//! and their removal. Each file's handling is a module of its own:
//! - `running`: `sst_in_progress` (joiner) and the reference's pid files,
//!   which mark a transfer still running, and the check that a previous
//!   transfer has ended;
//! - `flush`: `tables_flushed`/`sst_error`, written by the donor's server
//!   after `flush tables`;
//! - `marker`: the completion marker, read as untrusted input;
//! - `temp`: the registry that removes our temporary files on every exit
//!   path ([`TempFiles`]).
//!
//! Everything is re-exported here, so callers name `sst::files::…` only.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exit::ExitCode;
use crate::sst::protocol::StateError;

mod flush;
mod marker;
mod running;
mod temp;

pub use flush::{remove_stale_flush_files, wait_tables_flushed};
pub use marker::{read_marker_line, MARKER_MAX};
pub use running::{
    check_stale_processes, process_alive, wait_stale_processes, write_pid_file, InProgress,
};
pub use temp::TempFiles;

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
/// How often the donor looks for `tables_flushed`: the server holds its
/// read lock from then until the transfer ends, and the stock scripts'
/// 0.2 s poll cost 0.1 s per SST on average (0.2, 0.4 or 0.6 s measured
/// for the flush step). Two `stat`s per look are nothing at this rate.
pub const FLUSH_POLL_INTERVAL: Duration = Duration::from_millis(10);

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
