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

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{Settings, Timeouts};
use crate::meter::Meter;
use crate::relay::RelayOpts;
use crate::rsync::client::TransferPlan;
use crate::rsync::ServerDirs;
use crate::sst::address::SstAddress;
use crate::tls::{PeerInfo, SockOpts, TlsClient};

mod error;
mod failures;
mod tunnel;
pub use error::{ConnectAttempt, DonorError, TunnelFailure};
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

/// The one way every entry point (the SST method, the manual donor, the
/// demo) builds the transfer: rsync located, the donor's directories, the
/// relay's address, and from
/// the settings rsync's own `--timeout`
/// (`sst-idle-timeout`) and the parallel streams (`parallel`, e.g.
/// `--parallel`, else `backup-threads`, else one per CPU).
pub fn transfer_plan(
    settings: &Settings,
    dirs: ServerDirs,
    relay: SocketAddr,
    parallel: Option<usize>,
) -> Result<TransferPlan, DonorError> {
    // No rsync --bwlimit: it would cap each process; the relay paces the
    // whole transfer instead (donor_config).
    let mut plan = TransferPlan::new(dirs, relay)?;
    plan.io_timeout = settings.timeouts.idle;
    plan.parallel = parallel.or(settings.parallel).unwrap_or(plan.parallel);
    Ok(plan)
}

/// Builds the donor side for `address`: connector with the expected name.
pub fn donor_config(
    settings: &Settings,
    address: &str,
    meter: &Arc<Meter>,
) -> Result<DonorConfig, DonorError> {
    let address = SstAddress::parse(address)?;
    let tls = Arc::new(settings.tls_client(&address.host_unbracketed)?);
    Ok(DonorConfig {
        tls,
        sockopts: settings.tls.opts.clone(),
        target: Target {
            host: address.host_unbracketed.clone(),
            port: address.port,
        },
        timeouts: settings.timeouts.clone(),
        relay: RelayOpts {
            // One cap for the whole transfer, however many rsyncs run.
            pace: settings
                .bwlimit_kib
                .map(|kib| crate::relay::pace::Pacer::new(kib.saturating_mul(1024))),
            ..settings.relay_opts(meter)
        },
    })
}
