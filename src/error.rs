//! The program's error type: one variant per boundary, each mapping to the
//! exit-code table in [`crate::exit`]. `main` prints the chain once with
//! [`crate::exit::chain`] and exits with [`Error::exit_code`].

use crate::exit::ExitCode;

/// Any error that ends a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Option files or values.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// TLS setup, handshake or identity failure.
    #[error(transparent)]
    Tls(Box<crate::tls::TlsError>),
    /// rsync missing or failed.
    #[error(transparent)]
    Rsync(#[from] crate::rsync::RsyncError),
    /// The joiner's run loop.
    #[error(transparent)]
    Joiner(Box<crate::joiner::JoinerError>),
    /// The donor's relay or its connection to the joiner.
    #[error(transparent)]
    Donor(Box<crate::donor::DonorError>),
    /// The SST contract (argv, files, binlogs, stdout).
    #[error(transparent)]
    Sst(#[from] crate::sst::SstError),
    /// A malformed address.
    #[error("invalid address {address:?}: {reason}")]
    Address {
        /// The text given.
        address: String,
        /// What is wrong.
        reason: String,
    },
    /// A file-system operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done (`create`, `remove the marker`).
        action: &'static str,
        /// The path.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing a protocol line to stdout failed (mariadbd went away).
    #[error("cannot write to stdout")]
    Stdout(#[source] std::io::Error),
    /// A command-line problem clap could not express.
    #[error(transparent)]
    Usage(#[from] crate::cli::UsageError),
    /// The demo's throwaway certificates could not be made.
    #[error("demo certificates")]
    Pki(#[source] crate::pki::PkiError),
    /// A task panicked or was aborted.
    #[error("internal task failed")]
    Task(#[source] tokio::task::JoinError),
    /// A task panicked while it wrote to stdout.
    #[error("the stdout writer was poisoned")]
    StdoutPoisoned,
}

impl From<crate::tls::TlsError> for Error {
    fn from(e: crate::tls::TlsError) -> Self {
        Error::Tls(Box::new(e))
    }
}

impl From<crate::joiner::JoinerError> for Error {
    fn from(e: crate::joiner::JoinerError) -> Self {
        Error::Joiner(Box::new(e))
    }
}

impl From<crate::donor::DonorError> for Error {
    fn from(e: crate::donor::DonorError) -> Self {
        Error::Donor(Box::new(e))
    }
}

impl From<crate::sst::address::AddressError> for Error {
    fn from(e: crate::sst::address::AddressError) -> Self {
        Error::Sst(e.into())
    }
}

impl Error {
    /// The exit code this error ends the program with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Config(e) => e.exit_code(),
            Error::Tls(e) => e.exit_code(),
            Error::Rsync(e) => e.exit_code(),
            Error::Joiner(e) => e.exit_code(),
            Error::Donor(e) => e.exit_code(),
            Error::Sst(e) => e.exit_code(),
            Error::Address { .. } | Error::Usage(_) | Error::Pki(_) => ExitCode::Invalid,
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ExitCode::NotFound
            }
            Error::Io { .. } | Error::Task(_) | Error::StdoutPoisoned => ExitCode::Failure,
            Error::Stdout(_) => ExitCode::BrokenPipe,
        }
    }
}
