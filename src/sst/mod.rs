//! The contract with mariadbd when this binary runs as `wsrep_sst_rsync_tunnel`:
//! its argv, the stdout line protocol, the SST address forms, the files in the
//! data directory, the binlog tar, the server paths and the `WSREP_SST:` log
//! format (sst-protocol.md §1–§5).
//!
//! This is the contract only; the method that runs on it (the joiner and
//! donor roles) sits above it, in the `method` module.
//!
//! - [`args`]: mariadbd's argv, parsed into [`args::SstArgs`].
//! - [`address`]: `--address` forms and the `ready` address.
//! - [`protocol`]: the only writer of stdout, and the `uuid:seqno domain` [`protocol::State`].
//! - [`log`]: the `WSREP_SST: [LEVEL] msg (time)` stderr format.
//! - [`paths`]: InnoDB, Aria and binlog directories from args, environment and option files.
//! - [`binlog`]: the `wsrep_sst_binlog.tar` packing (donor) and installing (joiner).
//! - [`files`]: `sst_in_progress`, `tables_flushed`/`sst_error`, stale pid files, temp-file cleanup.

use std::ffi::OsStr;
use std::path::Path;

use crate::exit::ExitCode;

pub mod address;
pub mod args;
pub mod binlog;
pub mod files;
pub mod log;
pub mod paths;
pub mod protocol;

/// The program name under which the binary speaks mariadbd's protocol.
pub const PROGRAM_NAME: &str = "wsrep_sst_rsync_tunnel";

pub use crate::rsync::{LOG_MODULE as LOG_DIR_MODULE, MODULE};

/// True when `argv0` (the program name as invoked) has the basename
/// `wsrep_sst_rsync_tunnel`, i.e. mariadbd started us through the symlink.
pub fn invoked_as_sst(argv0: &OsStr) -> bool {
    Path::new(argv0).file_name() == Some(OsStr::new(PROGRAM_NAME))
}

/// Any failure of the SST contract pieces, each mapping to the exit-code table.
#[derive(Debug, thiserror::Error)]
pub enum SstError {
    /// mariadbd's argv could not be used.
    #[error(transparent)]
    Args(#[from] args::ArgsError),
    /// The SST address is malformed or unsafe.
    #[error(transparent)]
    Address(#[from] address::AddressError),
    /// A `uuid:seqno domain` state could not be parsed.
    #[error(transparent)]
    State(#[from] protocol::StateError),
    /// Writing a protocol line to stdout failed.
    #[error(transparent)]
    Protocol(#[from] protocol::ProtocolError),
    /// Packing or installing binlogs failed.
    #[error(transparent)]
    Binlog(#[from] binlog::BinlogError),
    /// A data-directory contract file could not be handled.
    #[error(transparent)]
    Files(#[from] files::FilesError),
    /// The stderr log could not be installed.
    #[error(transparent)]
    Log(#[from] log::LogInitError),
}

impl SstError {
    /// The exit code this error ends the program with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            SstError::Args(e) => e.exit_code(),
            SstError::Address(e) => e.exit_code(),
            SstError::State(e) => e.exit_code(),
            SstError::Protocol(e) => e.exit_code(),
            SstError::Binlog(e) => e.exit_code(),
            SstError::Files(e) => e.exit_code(),
            SstError::Log(_) => ExitCode::Failure,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_method_name_by_basename() {
        assert!(invoked_as_sst(OsStr::new("wsrep_sst_rsync_tunnel")));
        assert!(invoked_as_sst(OsStr::new(
            "/usr/bin/wsrep_sst_rsync_tunnel"
        )));
        assert!(invoked_as_sst(OsStr::new("./wsrep_sst_rsync_tunnel")));
        assert!(!invoked_as_sst(OsStr::new("sst-tunnel")));
        assert!(!invoked_as_sst(OsStr::new("/usr/bin/wsrep_sst_rsync")));
        assert!(!invoked_as_sst(OsStr::new("wsrep_sst_rsync_tunnel.sh")));
        assert!(!invoked_as_sst(OsStr::new(
            "/opt/wsrep_sst_rsync_tunnel/sst-tunnel"
        )));
        assert!(!invoked_as_sst(OsStr::new("")));
    }

    #[test]
    fn errors_keep_their_exit_codes() {
        let e: SstError = args::ArgsError::MissingDatadir.into();
        assert_eq!(e.exit_code(), ExitCode::NotFound);
        let e: SstError = address::AddressError::UnsafeChar {
            address: "a b:1/x".into(),
            ch: ' ',
        }
        .into();
        assert_eq!(e.exit_code().code(), 21);
    }
}
