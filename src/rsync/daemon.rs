//! The joiner's rsync daemon configuration and `rsync --server --daemon`
//! per connection, over pipes.
//!
//! STUB: being written.

/// Placeholder (integrator stub).
#[derive(Debug)]
pub struct DaemonConfig;

/// Placeholder (integrator stub).
#[derive(Debug)]
pub struct Modules {
    /// Placeholder.
    pub datadir: std::path::PathBuf,
    /// Placeholder.
    pub log_dir: std::path::PathBuf,
}

impl DaemonConfig {
    /// Placeholder.
    pub fn write(_dir: &std::path::Path, _m: &Modules) -> Result<Self, super::RsyncError> {
        Err(super::RsyncError)
    }
}
