//! rsync: the joiner's daemon configuration and per-connection server over
//! pipes ([`daemon`]), and the donor's transfer sequence ([`client`]).
//!
//! STUB: being written.

pub mod client;
pub mod daemon;

/// The module that receives the data directory.
pub const MODULE: &str = "rsync_tunnel_sst";
/// The module that receives the InnoDB log directory.
pub const LOG_MODULE: &str = "rsync_tunnel_sst-log_dir";
/// The completion marker, sent last into the data directory root.
pub const MARKER: &str = "rsync_tunnel_sst_complete";
/// The binlog tar in the data directory root.
pub const BINLOG_TAR: &str = "wsrep_sst_binlog.tar";

/// Placeholder (integrator stub).
#[derive(Debug, thiserror::Error)]
#[error("rsync not implemented")]
pub struct RsyncError;

impl RsyncError {
    /// Placeholder.
    pub fn exit_code(&self) -> crate::exit::ExitCode {
        crate::exit::ExitCode::TransferFailed
    }
}

/// Placeholder.
pub fn locate() -> Result<std::path::PathBuf, RsyncError> {
    Err(RsyncError)
}
