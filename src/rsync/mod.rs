//! rsync: the joiner's daemon configuration and per-connection server over
//! pipes ([`daemon`]; the configuration's text in [`conf`], the options it
//! refuses in [`refuse`], the directory it is written in in
//! [`private_dir`]), and the donor's transfer sequence ([`client`]).
//!
//! What an authenticated donor can reach through the daemon: a write into
//! the two modules, and nothing else (no read back, no listing, no option
//! our donors do not send, no symlink that leads anywhere, no setuid file,
//! no file of ours it could replace); [`conf`] says how, setting by setting.
//!
//! This module owns locating the rsync binary and [`RsyncError`], whose
//! exit codes follow the original script: rsync 12 becomes 71, 22 becomes
//! 12, any other failure 255 ([`ExitCode::from_rsync_status`]).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use crate::child::ChildError;
use crate::exit::ExitCode;

pub mod client;
pub mod conf;
pub mod daemon;
pub mod private_dir;
pub mod refuse;

/// The module that receives the data directory.
pub const MODULE: &str = "rsync_tunnel_sst";
/// The module that receives the InnoDB log directory.
pub const LOG_MODULE: &str = "rsync_tunnel_sst-log_dir";
/// The module that receives the InnoDB system tablespace (`ibdata*`) into
/// `innodb_data_home_dir` (MariaDB's own rsync method names it `-data_dir`
/// too). A socat-based joiner does not serve it.
pub const DATA_DIR_MODULE: &str = "rsync_tunnel_sst-data_dir";
/// The module that receives InnoDB undo tablespaces into `innodb_undo_directory`.
pub const UNDO_DIR_MODULE: &str = "rsync_tunnel_sst-undo_dir";
/// The module that receives the Aria logs into `aria_log_dir_path`.
pub const ARIA_LOG_MODULE: &str = "rsync_tunnel_sst-aria_log";
/// The completion marker, sent last into the data directory root.
pub const MARKER: &str = "rsync_tunnel_sst_complete";
/// The binlog tar in the data directory root.
pub const BINLOG_TAR: &str = "wsrep_sst_binlog.tar";
/// Joiner: present while a transfer runs (sst-protocol.md §5.1).
pub const SST_IN_PROGRESS: &str = "sst_in_progress";
/// The joiner's pid file, as the socat script names its rsync daemon's.
pub const DAEMON_PID: &str = "rsync_tunnel_sst.pid";
/// The socat script's socat pid file (both roles).
pub const SOCAT_PID: &str = "rsync_tunnel_sst-socat.pid";
/// Names at the root of a module that the daemon neither writes nor
/// deletes: the joiner acts on their content (see [`conf`]).
pub const PROTECTED_NAMES: [&str; 3] = [SST_IN_PROGRESS, DAEMON_PID, SOCAT_PID];
/// Where a server keeps each kind of file of an SST: the directories a
/// joiner's daemon serves (one module each) and those a donor sends from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerDirs {
    /// Served as [`MODULE`].
    pub datadir: PathBuf,
    /// Served as [`LOG_MODULE`] (`innodb_log_group_home_dir`).
    pub log_dir: PathBuf,
    /// Served as [`DATA_DIR_MODULE`] (`innodb_data_home_dir`).
    pub data_home_dir: PathBuf,
    /// Served as [`UNDO_DIR_MODULE`] (`innodb_undo_directory`).
    pub undo_dir: PathBuf,
    /// Served as [`ARIA_LOG_MODULE`] (`aria_log_dir_path`).
    pub aria_log_dir: PathBuf,
}

impl ServerDirs {
    /// The data directory for every kind of file but the redo log, which
    /// goes to `log_dir` (the layout of a server with default settings).
    pub fn with_log_dir(datadir: PathBuf, log_dir: PathBuf) -> ServerDirs {
        ServerDirs {
            data_home_dir: datadir.clone(),
            undo_dir: datadir.clone(),
            aria_log_dir: datadir.clone(),
            datadir,
            log_dir,
        }
    }

    /// Every module with its directory, the data module first.
    pub fn modules(&self) -> [(&'static str, &Path); 5] {
        [
            (MODULE, &self.datadir),
            (LOG_MODULE, &self.log_dir),
            (DATA_DIR_MODULE, &self.data_home_dir),
            (UNDO_DIR_MODULE, &self.undo_dir),
            (ARIA_LOG_MODULE, &self.aria_log_dir),
        ]
    }

    /// The directory of `module`.
    pub fn dir_of(&self, module: &str) -> Option<&Path> {
        self.modules()
            .into_iter()
            .find_map(|(name, dir)| (name == module).then_some(dir))
    }
}

/// Environment variable naming the rsync binary (a path, or a name looked
/// up in `PATH`).
pub const RSYNC_ENV: &str = "RSYNC";

/// Errors of the rsync side.
#[derive(Debug, thiserror::Error)]
pub enum RsyncError {
    /// No rsync binary.
    #[error("rsync not found in PATH (install it: apt-get install rsync)")]
    NotFound,
    /// `RSYNC` names something that is not an executable file.
    #[error("rsync not found at {path} (from ${RSYNC_ENV}; install it: apt-get install rsync)")]
    OverrideNotFound {
        /// The value of `RSYNC`.
        path: PathBuf,
    },
    /// A path cannot be expressed in an rsync daemon configuration.
    #[error("path {path} cannot be used in an rsync daemon configuration: {reason}")]
    UnsafePath {
        /// The offending path.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// Every candidate for the private directory is inside a served one.
    #[error(
        "no private directory for the rsync daemon configuration: {dir} is inside the served directory {module}; set TMPDIR to a directory outside it"
    )]
    PrivateDirInsideModule {
        /// The candidate parent (`TMPDIR` first).
        dir: PathBuf,
        /// The module directory holding it.
        module: PathBuf,
    },
    /// No candidate for the private directory at all.
    #[error("no temporary directory for the rsync daemon configuration")]
    NoPrivateDir,
    /// Writing or removing the daemon configuration failed.
    #[error("cannot {action} rsync daemon configuration {path}")]
    Config {
        /// `write` or `remove`.
        action: &'static str,
        /// The configuration file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file or directory the transfer needs could not be read or written.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The state line for the marker is not a single line.
    #[error("marker state line {line:?} must be a single non-empty line")]
    MarkerLine {
        /// The rejected line.
        line: String,
    },
    /// rsync could not be started or waited for.
    #[error("rsync {step} could not run")]
    Child {
        /// The step that was starting.
        step: String,
        /// The cause.
        #[source]
        source: ChildError,
    },
    /// rsync exited with a failure.
    #[error("rsync {step} failed ({status}){}", tail_suffix(.stderr_tail))]
    Failed {
        /// The step of the transfer (for example `top level`, `directory mysql`).
        step: String,
        /// rsync's exit status.
        status: ExitStatus,
        /// The last lines of rsync's stderr.
        stderr_tail: String,
    },
    /// The transfer was cancelled while `step` ran; its rsync was killed.
    #[error("rsync {step} cancelled")]
    Cancelled {
        /// The step that was running.
        step: String,
    },
}

fn tail_suffix(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {}", tail.lines().collect::<Vec<_>>().join(" | "))
    }
}

impl RsyncError {
    /// True when the daemon answered that it serves no module of the name
    /// asked for (`@ERROR: Unknown module`, rsync's exit 5): the joiner is
    /// not ours (a socat-based joiner serves only [`MODULE`] and
    /// [`LOG_MODULE`]).
    pub fn unknown_module(&self) -> bool {
        match self {
            RsyncError::Failed {
                status,
                stderr_tail,
                ..
            } => {
                status.code() == Some(5)
                    && stderr_tail
                        .lines()
                        .any(|l| l.starts_with("@ERROR: Unknown module"))
            }
            _ => false,
        }
    }

    /// rsync's own line reporting a full file system, when that is why it
    /// failed ([`no_space_line`] of its stderr).
    pub fn no_space_line(&self) -> Option<&str> {
        match self {
            RsyncError::Failed { stderr_tail, .. } => no_space_line(stderr_tail),
            _ => None,
        }
    }

    /// The exit code this error ends the program with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            RsyncError::NotFound | RsyncError::OverrideNotFound { .. } => ExitCode::NotFound,
            RsyncError::UnsafePath { .. }
            | RsyncError::MarkerLine { .. }
            | RsyncError::PrivateDirInsideModule { .. } => ExitCode::Invalid,
            RsyncError::Config { .. }
            | RsyncError::Io { .. }
            | RsyncError::Child { .. }
            | RsyncError::NoPrivateDir => ExitCode::Failure,
            RsyncError::Failed { stderr_tail, .. } if no_space_line(stderr_tail).is_some() => {
                ExitCode::NoSpace
            }
            RsyncError::Failed { status, .. } => match status.code() {
                Some(code) => ExitCode::from_rsync_status(code),
                None => ExitCode::TransferFailed,
            },
            RsyncError::Cancelled { .. } => ExitCode::Interrupted,
        }
    }
}

/// The first line of rsync's stderr that reports a full file system:
/// ENOSPC (`No space left on device (28)`) or EDQUOT (`Disk quota exceeded
/// (122)`). rsync ends such lines with the errno in parentheses, which stays
/// the same whatever the locale's wording.
pub fn no_space_line(stderr: &str) -> Option<&str> {
    stderr.lines().find(|l| {
        let l = l.trim_end();
        l.starts_with("rsync")
            && (l.ends_with("(28)")
                || l.ends_with("(122)")
                || l.contains("No space left on device"))
    })
}

/// Locates rsync: `$RSYNC` if set, else `rsync` in `PATH`.
pub fn find_rsync() -> Result<PathBuf, RsyncError> {
    locate(
        std::env::var_os(RSYNC_ENV).as_deref(),
        std::env::var_os("PATH").as_deref(),
    )
}

/// [`find_rsync`] with the two environment values given explicitly.
pub fn locate(override_: Option<&OsStr>, path: Option<&OsStr>) -> Result<PathBuf, RsyncError> {
    let name: &OsStr = match override_ {
        Some(v) if !v.is_empty() => v,
        _ => OsStr::new("rsync"),
    };
    let overridden = name != OsStr::new("rsync");
    let not_found = || {
        if overridden {
            RsyncError::OverrideNotFound {
                path: PathBuf::from(name),
            }
        } else {
            RsyncError::NotFound
        }
    };
    if name.as_encoded_bytes().contains(&b'/') {
        let p = PathBuf::from(name);
        return if crate::child::is_executable(&p) {
            Ok(p)
        } else {
            Err(not_found())
        };
    }
    crate::child::find_in_path(name, path).ok_or_else(not_found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn missing_rsync_says_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = locate(None, Some(dir.path().as_os_str())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "rsync not found in PATH (install it: apt-get install rsync)"
        );
        assert_eq!(err.exit_code(), ExitCode::NotFound);
        assert!(matches!(locate(None, None), Err(RsyncError::NotFound)));
    }

    #[test]
    fn rsync_is_found_in_path_and_by_override() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("rsync");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths(["/nonexistent".as_ref(), dir.path()]).unwrap();
        assert_eq!(locate(None, Some(&path)).unwrap(), bin);
        assert_eq!(locate(Some(bin.as_os_str()), None).unwrap(), bin);
        let missing = dir.path().join("nope");
        let err = locate(Some(missing.as_os_str()), Some(&path)).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        assert_eq!(err.exit_code(), ExitCode::NotFound);
        // A non-executable file is not rsync.
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(locate(None, Some(&path)).is_err());
    }

    #[test]
    fn failed_rsync_maps_like_the_original_script() {
        let failed = |code: i32, tail: &str| RsyncError::Failed {
            step: "top level".into(),
            status: ExitStatus::from_raw(code << 8),
            stderr_tail: tail.into(),
        };
        assert_eq!(failed(12, "").exit_code().code(), 71);
        assert_eq!(failed(22, "").exit_code().code(), 12);
        assert_eq!(failed(23, "").exit_code().code(), 255);
        let killed = RsyncError::Failed {
            step: "marker".into(),
            status: ExitStatus::from_raw(9),
            stderr_tail: String::new(),
        };
        assert_eq!(killed.exit_code().code(), 255);
        let full = "rsync: [receiver] write failed on \"ibdata1\" (in rsync_tunnel_sst): \
                    No space left on device (28)\nrsync error: error in file IO (code 11)";
        assert_eq!(failed(11, full).exit_code(), ExitCode::NoSpace);
        let localised = "rsync: [receiver] write failed on \"x\": Kein Platz (28)";
        assert_eq!(no_space_line(localised), Some(localised));
        assert_eq!(
            failed(11, "rsync error: error in file IO (code 11)")
                .exit_code()
                .code(),
            255
        );
        let e = failed(5, "rsync: oops\nrsync error: x");
        assert_eq!(
            e.to_string(),
            "rsync top level failed (exit status: 5): rsync: oops | rsync error: x"
        );
    }
}
