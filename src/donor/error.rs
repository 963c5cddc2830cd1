//! The donor's errors, typed from where they arise: [`DonorError`] ends the
//! donor's side (and maps to the exit-code table); [`TunnelFailure`] is
//! what one relay connection met, kept to explain a failed rsync step;
//! [`ConnectAttempt`] is the last way a connect to the joiner failed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::Target;
use crate::exit::{chain, ExitCode};
use crate::relay::RelayError;
use crate::rsync::RsyncError;
use crate::sst::address::AddressError;
use crate::tls::sockopt::{Exhausted, FamilyError};
use crate::tls::TlsError;

/// Errors of the donor side.
#[derive(Debug, thiserror::Error)]
pub enum DonorError {
    /// The SST address given for the joiner is malformed.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The TLS connector cannot be built (files, sockopt).
    #[error(transparent)]
    TlsSetup(Box<TlsError>),
    /// The joiner's name could not be resolved.
    #[error("cannot resolve the joiner address {target}")]
    Resolve {
        /// The joiner.
        target: Target,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `sockopt pf` rules out the joiner's address.
    #[error(transparent)]
    Family(#[from] FamilyError),
    /// No TCP connection before the retries gave up.
    #[error("cannot connect to the joiner {target} in {attempts} attempt{} {gave_up}: {last}",
        if *attempts == 1 { "" } else { "s" })]
    Unreachable {
        /// The joiner.
        target: Target,
        /// Attempts made (each one tries every address of the joiner).
        attempts: u32,
        /// What ended the retries: `sockopt retry` or `sst-connect-retry`.
        gave_up: Exhausted,
        /// The last attempt.
        last: ConnectAttempt,
    },
    /// The TLS handshake with the joiner failed.
    #[error("TLS handshake with the joiner {target} failed")]
    Tls {
        /// The joiner.
        target: Target,
        /// What went wrong, names included.
        #[source]
        source: Box<TlsError>,
    },
    /// No byte moved through the tunnel for the idle timeout.
    #[error(
        "transfer to the joiner {target} ({subject}) stalled: no byte moved for {}s \
         (sst-idle-timeout); rsync then reported: {}",
        idle.as_secs(), chain(&**rsync)
    )]
    Stalled {
        /// The joiner.
        target: Target,
        /// The joiner certificate's subject (empty before any handshake).
        subject: String,
        /// The idle timeout that elapsed.
        idle: Duration,
        /// What rsync said.
        rsync: Box<RsyncError>,
    },
    /// rsync failed because the tunnel under it failed: the tunnel's reason first.
    #[error("transfer failed because the tunnel failed: {} (rsync then reported: {})", chain(&**tunnel), chain(&**rsync))]
    Tunnel {
        /// What the relay met first (TLS failure, names included; or a cut).
        tunnel: Arc<TunnelFailure>,
        /// What rsync said about it.
        rsync: Box<RsyncError>,
    },
    /// An rsync step failed by itself.
    #[error(transparent)]
    Rsync(Box<RsyncError>),
    /// The address given for the relay is not a loopback `IP:PORT`.
    #[error("invalid address {address:?}: {reason}")]
    RelayAddress {
        /// The text given.
        address: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The relay cannot listen.
    #[error("cannot listen on {address}")]
    RelayBind {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The relay listener failed.
    #[error("relay listener failed")]
    Listener(#[source] std::io::Error),
    /// The relay's task panicked or was aborted.
    #[error("internal task failed")]
    Task(#[source] tokio::task::JoinError),
}

impl From<RsyncError> for DonorError {
    fn from(e: RsyncError) -> Self {
        DonorError::Rsync(Box::new(e))
    }
}

impl From<TlsError> for DonorError {
    fn from(e: TlsError) -> Self {
        DonorError::TlsSetup(Box::new(e))
    }
}

impl DonorError {
    /// The exit code this error ends the program with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            DonorError::Address(e) => e.exit_code(),
            DonorError::TlsSetup(e) => e.exit_code(),
            DonorError::Family(e) => e.exit_code(),
            DonorError::Resolve { .. } | DonorError::Unreachable { .. } => ExitCode::Unreachable,
            DonorError::Tls { source, .. } => source.exit_code(),
            DonorError::Stalled { .. } => ExitCode::TimedOut,
            DonorError::Tunnel { tunnel, .. } => tunnel.exit_code(),
            DonorError::Rsync(e) => e.exit_code(),
            DonorError::RelayAddress { .. } => ExitCode::Invalid,
            DonorError::RelayBind { source, .. }
                if source.kind() == std::io::ErrorKind::AddrInUse =>
            {
                ExitCode::Busy
            }
            DonorError::RelayBind { .. } => ExitCode::Invalid,
            DonorError::Listener(_) | DonorError::Task(_) => ExitCode::Failure,
        }
    }
}

/// How the last connect attempt to the joiner failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectAttempt {
    /// No address was tried (the name resolved to none).
    #[error("no address to try")]
    None,
    /// The connect failed.
    #[error("{addr}: {source}")]
    Failed {
        /// The address tried.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The connect did not finish in time.
    #[error("{addr}: connect timed out after {timeout:?} ({setting})")]
    TimedOut {
        /// The address tried.
        addr: SocketAddr,
        /// The limit.
        timeout: Duration,
        /// The setting that gave it: `sst-connect-timeout` or `sockopt connect-timeout`.
        setting: &'static str,
    },
    /// The run was stopped while retrying.
    #[error("cancelled")]
    Cancelled,
}

/// What one relay connection met, kept so that the donor can report it
/// instead of rsync's "did not see server greeting" or "write error:
/// Broken pipe".
#[derive(Debug, thiserror::Error)]
pub enum TunnelFailure {
    /// Connecting to the joiner, or the handshake, failed.
    #[error(transparent)]
    Connect(DonorError),
    /// The TLS stream failed after the handshake: with TLS 1.3 the joiner
    /// rejects our certificate only after our side finished.
    #[error(transparent)]
    Alert(RelayError),
    /// Authenticated, then cut: the joiner (or the network) went away
    /// mid-transfer.
    #[error("the connection to the joiner {target} ({subject}) broke after {elapsed_ms} ms")]
    Broke {
        /// The joiner.
        target: Target,
        /// Its certificate's subject.
        subject: String,
        /// How long the connection had run.
        elapsed_ms: u64,
        /// How it broke.
        #[source]
        source: RelayError,
    },
}

impl TunnelFailure {
    /// The exit code the donor ends with when this failure explains a
    /// failed rsync step: unreachable (111) and timeouts (110) keep their
    /// codes; a cut mid-transfer is a failed transfer (255); any other
    /// failure of a relay handshake or stream is the TLS authentication
    /// failure it most likely is (13).
    pub fn exit_code(&self) -> ExitCode {
        match self {
            TunnelFailure::Connect(e) => match e.exit_code() {
                c @ (ExitCode::Unreachable | ExitCode::TimedOut) => c,
                _ => ExitCode::AuthFailed,
            },
            TunnelFailure::Alert(_) => ExitCode::AuthFailed,
            TunnelFailure::Broke { .. } => ExitCode::TransferFailed,
        }
    }
}
