//! Start-up checks of every configured TLS file: readable, parses, key
//! matches certificate, certificate chains to the CA, not expired.
//!
//! STUB: being written.

/// Placeholder (integrator stub).
pub fn preflight(_s: &super::TlsSettings) -> Result<String, super::TlsError> {
    Err(super::TlsError::Unimplemented)
}
