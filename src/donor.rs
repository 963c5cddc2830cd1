//! The donor's data path: a plaintext relay on loopback that serves only
//! processes of our own uid; each relay connection becomes one TLS
//! connection to the joiner, whose chain and name are checked inside the
//! handshake.
//!
//! [`preflight`] makes one handshake before anything else runs, so a
//! certificate problem is reported as one and not as rsync's "did not see
//! server greeting". [`run_relay`] takes a bound listener and a token.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, info_span, warn, Instrument};

use crate::config::{Settings, Timeouts};
use crate::error::Error;
use crate::exit::ExitCode;
use crate::meter::Meter;
use crate::relay::{self, RelayOpts};
use crate::sockowner;
use crate::sst::address::SstAddress;
use crate::tls::{PeerInfo, SockOpts, TlsClient, TlsError};

mod failure;

use failure::{broke_mid_transfer, FirstFailure};

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

/// The uid of this process, from the owner of `/proc/self`.
fn own_uid() -> std::io::Result<u32> {
    Ok(std::fs::metadata("/proc/self")?.uid())
}

/// Accepts relay connections until `stop` is cancelled; each becomes one
/// TLS connection to the joiner. Connections from other uids are refused.
/// After `stop`, open connections get the close timeout to finish (the
/// last rsync's tail may still be in flight); `abort` ends everything at once.
async fn run_relay(
    cfg: Arc<DonorConfig>,
    listener: TcpListener,
    failures: FirstFailure,
    stop: CancellationToken,
    abort: CancellationToken,
) -> Result<(), DonorError> {
    let token = abort.child_token();
    let uid = own_uid().map_err(DonorError::Listener)?;
    let local = listener.local_addr().map_err(DonorError::Listener)?;
    let conns = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            _ = token.cancelled() => break,
            r = listener.accept() => match r {
                Ok(ok) => ok,
                Err(e) => {
                    warn!(error = %e, "relay accept failed");
                    tokio::time::sleep(RETRY_PAUSE).await;
                    continue;
                }
            },
        };
        match sockowner::uid_of_peer(peer, local) {
            Ok(Some(owner)) if owner == uid => {}
            Ok(Some(owner)) => {
                warn!(%peer, owner, expected = uid, "relay connection from another user refused");
                continue;
            }
            Ok(None) => {
                warn!(%peer, "relay connection refused: its owner is not in the kernel's socket tables");
                continue;
            }
            Err(e) => {
                warn!(%peer, error = %e, "relay connection refused: cannot read the kernel's socket tables");
                continue;
            }
        }
        let cfg = cfg.clone();
        let token = token.clone();
        let failures = failures.clone();
        conns.spawn(
            async move { relay_one(&cfg, tcp, &failures, &token).await }
                .instrument(info_span!("relay", %peer)),
        );
    }
    conns.close();
    if tokio::time::timeout(cfg.timeouts.close, conns.wait())
        .await
        .is_err()
    {
        warn!("relay connections still open after the close timeout, closing them");
        token.cancel();
        conns.wait().await;
    }
    Ok(())
}

async fn relay_one(
    cfg: &DonorConfig,
    local: TcpStream,
    failures: &FirstFailure,
    token: &CancellationToken,
) {
    let start = Instant::now();
    if let Err(e) = local.set_nodelay(true) {
        warn!(error = %e, "cannot set TCP_NODELAY");
    }
    let (tls, info) = match connect_joiner(cfg, token).await {
        Ok(ok) => ok,
        Err(e) => {
            let text = crate::error::chain(&e);
            warn!(error = %text, "connection to the joiner failed");
            // Unreachable (111) and timeouts (110) keep their codes; any
            // other failure of a relay handshake is reported as the TLS
            // authentication failure it most likely is (13).
            let code = match e.exit_code() {
                c @ (ExitCode::Unreachable | ExitCode::TimedOut) => c,
                _ => ExitCode::AuthFailed,
            };
            failures.record(text, code);
            return;
        }
    };
    if let Some(m) = &cfg.relay.meter {
        m.connection_opened();
    }
    info!(subject = %info.subject, protocol = %info.protocol, cipher = %info.cipher, "connection opened");
    let elapsed_ms = || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    match relay::pump(local, tls, &cfg.relay, token).await {
        Ok(t) => info!(
            subject = %info.subject, protocol = %info.protocol, cipher = %info.cipher,
            bytes_out = t.a_to_b, bytes_in = t.b_to_a, elapsed_ms = elapsed_ms(), "connection closed"
        ),
        Err(e) => {
            let text = crate::error::chain(&e);
            warn!(subject = %info.subject, elapsed_ms = elapsed_ms(), error = %text, "connection failed");
            if broke_mid_transfer(&e) {
                // Authenticated, then cut: the joiner (or the network) went
                // away mid-transfer. Not an authentication failure; rsync
                // failed because of it, which the table calls 255.
                failures.record(
                    format!(
                        "the connection to the joiner {} ({}) broke after {} ms: {text}",
                        cfg.target,
                        info.subject,
                        elapsed_ms()
                    ),
                    ExitCode::TransferFailed,
                );
            } else {
                // A TLS alert after the handshake: with TLS 1.3 the joiner
                // rejects our certificate only after our side finished.
                failures.record(text, ExitCode::AuthFailed);
            }
        }
    }
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

/// Binds the donor's relay on loopback (`127.0.0.1:0` unless `listen` names one).
async fn bind_relay(listen: Option<&str>) -> Result<TcpListener, Error> {
    let addr: SocketAddr = match listen {
        None => SocketAddr::from(([127, 0, 0, 1], 0)),
        Some(text) => text.parse().map_err(|_| Error::Address {
            address: text.to_string(),
            reason: "expected a loopback IP:PORT such as 127.0.0.1:4445".into(),
        })?,
    };
    if !addr.ip().is_loopback() {
        return Err(Error::Address {
            address: addr.to_string(),
            reason: "the relay listens on loopback only".into(),
        });
    }
    TcpListener::bind(addr).await.map_err(|source| Error::Bind {
        held_by: String::new(),
        address: addr.to_string(),
        source,
    })
}

/// Runs one rsync step; when it fails and the relay met a tunnel failure
/// (TLS, names included), that failure is reported instead of rsync's
/// "did not see server greeting".
async fn send_with_tunnel_errors<T>(
    failures: &FirstFailure,
    step: impl std::future::Future<Output = Result<T, crate::rsync::RsyncError>>,
) -> Result<T, Error> {
    match step.await {
        Ok(v) => Ok(v),
        // rsync's own report of a full joiner disk is the cause, whatever
        // the tunnel met after the joiner gave up.
        Err(e) if e.exit_code() == ExitCode::NoSpace => Err(e.into()),
        Err(e) => match failures.get() {
            Some((tunnel, code)) => Err(Error::Tunnel {
                tunnel,
                rsync: crate::error::chain(&e),
                code,
            }),
            None => Err(e.into()),
        },
    }
}

/// Waits for the relay task and surfaces its error.
async fn join_relay(relay: tokio::task::JoinHandle<Result<(), DonorError>>) -> Result<(), Error> {
    match relay.await {
        Ok(r) => Ok(r?),
        Err(e) => Err(Error::Task(e.to_string())),
    }
}

/// A running relay: where the rsync clients connect, and what it met.
pub struct Relay {
    /// The loopback address the rsync clients target.
    pub addr: SocketAddr,
    failures: FirstFailure,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), DonorError>>,
}

impl Relay {
    /// Binds the relay on loopback (`listen`, else an ephemeral port) and
    /// starts serving; `abort` ends every connection at once.
    pub async fn start(
        cfg: Arc<DonorConfig>,
        listen: Option<&str>,
        abort: &CancellationToken,
    ) -> Result<Relay, Error> {
        let listener = bind_relay(listen).await?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            held_by: String::new(),
            address: "relay".into(),
            source,
        })?;
        let failures = FirstFailure::default();
        let stop = CancellationToken::new();
        let task = tokio::spawn(run_relay(
            cfg,
            listener,
            failures.clone(),
            stop.clone(),
            abort.clone(),
        ));
        Ok(Relay {
            addr,
            failures,
            stop,
            task,
        })
    }

    /// Runs one rsync step through the relay (see [`send_with_tunnel_errors`]).
    pub async fn step<T>(
        &self,
        step: impl std::future::Future<Output = Result<T, crate::rsync::RsyncError>>,
    ) -> Result<T, Error> {
        send_with_tunnel_errors(&self.failures, step).await
    }

    /// Sends the data directory, then the marker carrying `state`.
    pub async fn send(
        &self,
        plan: &crate::rsync::client::TransferPlan,
        state: &str,
        token: &CancellationToken,
    ) -> Result<(), Error> {
        self.step(crate::rsync::client::send_data(plan, token))
            .await?;
        self.step(crate::rsync::client::send_marker(plan, state, token))
            .await
    }

    /// Stops accepting, lets open connections finish within the close
    /// timeout, and surfaces the relay's own error.
    pub async fn finish(self) -> Result<(), Error> {
        self.stop.cancel();
        join_relay(self.task).await
    }
}
