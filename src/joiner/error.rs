//! The joiner's errors, typed from where they arise: [`JoinerError`] ends a
//! run (and maps to the exit-code table); [`ConnectionError`] ends one
//! served connection, and [`ConnectionFailure`] keeps it, with the donor's
//! address and certificate subject, for the run's final report.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::exit::{chain, ExitCode};
use crate::mount::Mount;
use crate::relay::RelayError;
use crate::rsync::RsyncError;
use crate::tls::sockopt::FamilyError;

/// Errors that end a joiner run.
#[derive(Debug, thiserror::Error)]
pub enum JoinerError {
    /// The listening address cannot be bound.
    #[error("cannot listen on {address}{}", held_by.as_ref().map(|h| format!(" (held by {h})")).unwrap_or_default())]
    Bind {
        /// The address.
        address: String,
        /// The process holding the port, when it is in use and its holder is known.
        held_by: Option<String>,
        /// Why (`Address already in use`).
        #[source]
        source: std::io::Error,
    },
    /// `sockopt pf` rules out the listening address.
    #[error(transparent)]
    Family(#[from] FamilyError),
    /// The data or log directory cannot be prepared for the transfer.
    #[error("cannot {action} {}", path.display())]
    Prepare {
        /// What was being done (`create`, `remove the stale marker`).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// rsync is missing, or its daemon configuration cannot be written.
    #[error(transparent)]
    Rsync(#[from] RsyncError),
    /// No authenticated connection within the first-connection timeout.
    #[error("no donor connected within {}s (sst-initial-timeout)", .0.as_secs())]
    InitialTimeout(Duration),
    /// Connections were served but nothing arrived from the donor for too long.
    #[error("transfer stalled: no byte moved for {}s (sst-idle-timeout) from the donor {peers}{}", .idle.as_secs(),
        .last_failure.as_ref().map(|f| format!("; the last failed connection: {f}")).unwrap_or_default())]
    Stalled {
        /// The idle timeout that elapsed.
        idle: Duration,
        /// The donor connections open at that moment (address and
        /// certificate subject), or the last one seen.
        peers: String,
        /// The last connection failure: what broke the transfer, when something did.
        last_failure: Option<Arc<ConnectionFailure>>,
    },
    /// A served connection's rsync found the file system full: waiting on
    /// cannot help, the run ends at once.
    #[error("the joiner's file system is full: cannot write into {} on {}: No space left on device (ENOSPC); rsync reported, for the connection {}: {}",
        dir.display(), mount.as_ref().map_or_else(|| "an unknown mount".to_string(), |m| m.to_string()),
        connection.origin(), line.trim())]
    NoSpace {
        /// The data or InnoDB log directory rsync was writing into.
        dir: PathBuf,
        /// The mount holding it, when it can be found.
        mount: Option<Box<Mount>>,
        /// rsync's own line reporting it.
        line: String,
        /// The connection whose rsync reported it.
        connection: Arc<ConnectionFailure>,
    },
    /// The marker exists but cannot be read.
    #[error("cannot read the completion marker {}", path.display())]
    Marker {
        /// The marker path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl JoinerError {
    /// The exit code this error ends the program with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            JoinerError::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
                ExitCode::Busy
            }
            JoinerError::Bind { .. } => ExitCode::Invalid,
            // A name without an address to listen on is a bad address here,
            // as an unresolvable one is (a bind error).
            JoinerError::Family(_) => ExitCode::Invalid,
            JoinerError::Prepare { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                ExitCode::NotFound
            }
            JoinerError::Prepare { .. } => ExitCode::Failure,
            JoinerError::Rsync(e) => e.exit_code(),
            JoinerError::InitialTimeout(_) | JoinerError::Stalled { .. } => ExitCode::TimedOut,
            JoinerError::Marker { .. } => ExitCode::BrokenPipe,
            JoinerError::NoSpace { .. } => ExitCode::NoSpace,
        }
    }
}

/// Why one served connection failed; the joiner goes on with the others.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The first bytes read from TLS could not be handed to the backend.
    #[error("cannot write to the backend")]
    Backend(#[source] std::io::Error),
    /// `--forward`: the plaintext service cannot be reached.
    #[error("cannot connect to the forward target {addr}")]
    Forward {
        /// The service.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--forward`: the socket to the service cannot be tuned.
    #[error("cannot set TCP_NODELAY")]
    NoDelay(#[source] std::io::Error),
    /// The pump between TLS and the backend failed.
    #[error(transparent)]
    Relay(#[from] RelayError),
    /// The connection's rsync server could not run or failed.
    #[error(transparent)]
    Rsync(#[from] RsyncError),
}

impl ConnectionError {
    /// rsync's line reporting a full file system, when that is what failed.
    pub fn no_space_line(&self) -> Option<&str> {
        match self {
            ConnectionError::Rsync(e) => e.no_space_line(),
            _ => None,
        }
    }
}

/// A served connection's failure, with the donor it came from.
#[derive(Debug)]
pub struct ConnectionFailure {
    /// The donor's address.
    pub peer: SocketAddr,
    /// The donor certificate's subject.
    pub subject: String,
    /// What failed.
    pub error: ConnectionError,
}

impl ConnectionFailure {
    /// `from ADDR (SUBJECT)`: which connection it was.
    pub fn origin(&self) -> String {
        format!("from {} ({})", self.peer, self.subject)
    }
}

impl fmt::Display for ConnectionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin(), chain(&self.error))
    }
}
