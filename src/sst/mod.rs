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

/// The program name under which the binary speaks mariadbd's protocol
/// (`wsrep_sst_method=rsync_tunnel`).
pub const PROGRAM_NAME: &str = "wsrep_sst_rsync_tunnel";
/// The same method with rsync's delta algorithm instead of whole files
/// (`wsrep_sst_method=rsync_tunnel_wan`), as MariaDB's `wsrep_sst_rsync_wan`.
pub const PROGRAM_NAME_WAN: &str = "wsrep_sst_rsync_tunnel_wan";

pub use crate::rsync::{LOG_MODULE as LOG_DIR_MODULE, MODULE};

/// Which SST method mariadbd runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `rsync_tunnel`: the donor sends whole files (`--whole-file`).
    Tunnel,
    /// `rsync_tunnel_wan`: the donor lets rsync send only what differs
    /// from the joiner's copy (its delta algorithm: more CPU and reads on
    /// both sides, fewer bytes on a slow link).
    TunnelWan,
}

impl Method {
    /// The method's name in `wsrep_sst_method`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Tunnel => "rsync_tunnel",
            Method::TunnelWan => "rsync_tunnel_wan",
        }
    }
}

/// The SST method mariadbd started us as, from the basename of `argv0`
/// (the program name as invoked, through the symlink); `None` for the
/// manual command line.
pub fn method_of(argv0: &OsStr) -> Option<Method> {
    let name = Path::new(argv0).file_name()?;
    if name == OsStr::new(PROGRAM_NAME) {
        Some(Method::Tunnel)
    } else if name == OsStr::new(PROGRAM_NAME_WAN) {
        Some(Method::TunnelWan)
    } else {
        None
    }
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
        let m = |s: &str| method_of(OsStr::new(s));
        assert_eq!(m("wsrep_sst_rsync_tunnel"), Some(Method::Tunnel));
        assert_eq!(m("/usr/bin/wsrep_sst_rsync_tunnel"), Some(Method::Tunnel));
        assert_eq!(m("./wsrep_sst_rsync_tunnel"), Some(Method::Tunnel));
        assert_eq!(
            m("/usr/bin/wsrep_sst_rsync_tunnel_wan"),
            Some(Method::TunnelWan)
        );
        assert_eq!(m("sst-tunnel"), None);
        assert_eq!(m("/usr/bin/wsrep_sst_rsync"), None);
        assert_eq!(m("wsrep_sst_rsync_tunnel.sh"), None);
        assert_eq!(m("wsrep_sst_rsync_wan"), None);
        assert_eq!(m("/opt/wsrep_sst_rsync_tunnel/sst-tunnel"), None);
        assert_eq!(m(""), None);
        assert_eq!(Method::TunnelWan.name(), "rsync_tunnel_wan");
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
