//! socat's OPENSSL option grammar for `[sst] sockopt`, with the support /
//! ignore-with-warning / reject decisions of tls-compat.md §0 and §2.
//!
//! STUB: being written.

/// Parsed `sockopt`.
#[derive(Clone, Debug, Default)]
pub struct SockOpts {
    /// Placeholder.
    pub warnings: Vec<String>,
}

/// Placeholder error (integrator stub).
#[derive(Debug, thiserror::Error)]
#[error("sockopt not implemented")]
pub struct SockoptError;

/// Placeholder parser (integrator stub).
pub fn parse(_s: &str) -> Result<SockOpts, SockoptError> {
    Ok(SockOpts::default())
}

impl SockOpts {
    /// Placeholder (integrator stub).
    pub fn apply_tcp(&self, _tcp: &tokio::net::TcpStream) -> std::io::Result<()> {
        Ok(())
    }
}
