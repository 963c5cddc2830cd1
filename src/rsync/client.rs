//! The donor's rsync runs: the SST transfer sequence (sst-protocol.md §5.3).
//!
//! STUB: being written.

/// Placeholder (integrator stub).
#[derive(Debug)]
pub struct TransferPlan {
    /// Placeholder.
    pub datadir: std::path::PathBuf,
    /// Placeholder.
    pub log_dir: std::path::PathBuf,
    /// Placeholder.
    pub url: String,
    /// Placeholder.
    pub parallel: usize,
    /// Placeholder.
    pub bwlimit_kib: Option<u64>,
}

/// Placeholder.
pub async fn send_data(
    _p: &TransferPlan,
    _t: &tokio_util::sync::CancellationToken,
) -> Result<(), super::RsyncError> {
    Err(super::RsyncError)
}

/// Placeholder.
pub async fn send_marker(
    _p: &TransferPlan,
    _s: &str,
    _t: &tokio_util::sync::CancellationToken,
) -> Result<(), super::RsyncError> {
    Err(super::RsyncError)
}
