//! The donor's data path: a plaintext relay on loopback that serves only
//! processes of our own uid; each relay connection becomes one TLS
//! connection to the joiner, whose chain and name are checked inside the
//! handshake.
//!
//! [`preflight`] makes one handshake before anything else runs, so a
//! certificate problem is reported as one and not as rsync's "did not see
//! server greeting". [`Relay`] (in `tunnel`) serves the rsync clients,
//! watches for a stalled transfer, and explains a failed rsync step by
//! what the tunnel met (`failures`).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{Settings, Timeouts};
use crate::error::Error;
use crate::exit::ExitCode;
use crate::meter::Meter;
use crate::relay::RelayOpts;
use crate::sst::address::SstAddress;
use crate::tls::{PeerInfo, SockOpts, TlsClient, TlsError};

mod failures;
mod tunnel;
pub use tunnel::Relay;

/// The joiner to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Host as advertised, without IPv6 brackets (the name its certificate must carry).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Everything the donor side needs.
#[derive(Clone)]
pub struct DonorConfig {
    /// The TLS connector (files loaded and checked, expected name set).
    pub tls: Arc<TlsClient>,
    /// TCP tuning from `sockopt`.
    pub sockopts: SockOpts,
    /// The joiner.
    pub target: Target,
    /// Bounded waits.
    pub timeouts: Timeouts,
    /// Pump settings and the shared meter.
    pub relay: RelayOpts,
}

/// Errors of the donor side.
#[derive(Debug, thiserror::Error)]
pub enum DonorError {
    /// The joiner's name could not be resolved.
    #[error("cannot resolve the joiner address {target}")]
    Resolve {
        /// The joiner.
        target: Target,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No TCP connection within the retry window.
    #[error("cannot connect to the joiner {target} within {}s (sst-connect-retry): {last}", window.as_secs())]
    Unreachable {
        /// The joiner.
        target: Target,
        /// The retry window.
        window: Duration,
        /// The last attempt's error.
        last: String,
    },
    /// The TLS handshake with the joiner failed.
    #[error("TLS handshake with the joiner {target} failed")]
    Tls {
        /// The joiner.
        target: Target,
        /// What went wrong, names included.
        #[source]
        source: TlsError,
    },
    /// No byte moved through the tunnel for the idle timeout.
    #[error(
        "transfer to the joiner {target} ({subject}) stalled: no byte moved for {}s \
         (sst-idle-timeout); rsync then reported: {rsync}",
        idle.as_secs()
    )]
    Stalled {
        /// The joiner.
        target: Target,
        /// The joiner certificate's subject (empty before any handshake).
        subject: String,
        /// The idle timeout that elapsed.
        idle: Duration,
        /// What rsync said.
        rsync: String,
    },
    /// The relay listener failed.
    #[error("relay listener failed")]
    Listener(#[source] std::io::Error),
}

impl DonorError {
    /// The exit code this error ends the program with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            DonorError::Resolve { .. } | DonorError::Unreachable { .. } => ExitCode::Unreachable,
            DonorError::Tls { source, .. } => source.exit_code(),
            DonorError::Stalled { .. } => ExitCode::TimedOut,
            DonorError::Listener(_) => ExitCode::Failure,
        }
    }
}

mod connect;
pub use connect::connect_joiner;
use connect::RETRY_PAUSE;

/// One handshake with the joiner, then an orderly close: proves certificates
/// and connectivity before rsync starts.
pub async fn preflight(
    cfg: &DonorConfig,
    token: &CancellationToken,
) -> Result<PeerInfo, DonorError> {
    let (mut tls, info) = connect_joiner(cfg, token).await?;
    info!(
        joiner = %cfg.target, subject = %info.subject, names = ?info.names,
        protocol = %info.protocol, cipher = %info.cipher, "joiner verified"
    );
    if let Err(e) = tls.shutdown().await {
        warn!(error = %e, "closing the preflight connection failed");
    }
    Ok(info)
}

/// Builds the donor side for `address`: connector with the expected name.
pub fn donor_config(
    settings: &Settings,
    address: &str,
    meter: &Arc<Meter>,
) -> Result<DonorConfig, Error> {
    let address = SstAddress::parse(address)?;
    let tls = Arc::new(TlsClient::new(&settings.tls, &address.host_unbracketed)?);
    Ok(DonorConfig {
        tls,
        sockopts: settings.tls.opts.clone(),
        target: Target {
            host: address.host_unbracketed.clone(),
            port: address.port,
        },
        timeouts: settings.timeouts.clone(),
        relay: settings.relay_opts(meter),
    })
}
