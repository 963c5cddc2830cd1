//! The program's error type: one variant per boundary, each mapping to the
//! exit-code table in [`crate::exit`].

use crate::exit::ExitCode;

/// Any error that ends a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// TLS setup, handshake or identity failure.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The byte pump failed.
    #[error(transparent)]
    Relay(#[from] crate::relay::RelayError),
    /// rsync could not be found, configured, started, or it failed.
    #[error(transparent)]
    Rsync(#[from] crate::rsync::RsyncError),
}

impl Error {
    /// The exit code this error ends the program with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Tls(e) => e.exit_code(),
            Error::Relay(_) => ExitCode::Failure,
            Error::Rsync(e) => e.exit_code(),
        }
    }
}
