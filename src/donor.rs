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

mod failures;
use failures::{FirstFailure, StallWatch};

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

/// Pause between connect attempts while the joiner is not listening yet.
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// How often the relay looks for a stalled transfer.
const STALL_TICK: Duration = Duration::from_millis(200);

async fn connect_tcp(
    cfg: &DonorConfig,
    token: &CancellationToken,
) -> Result<TcpStream, DonorError> {
    let deadline = Instant::now() + cfg.timeouts.connect_retry;
    let mut last = String::from("no attempt made");
    loop {
        // An IP literal needs no resolver (which would be a thread hop per
        // relay connection); a host name is resolved again on every retry.
        let addrs: Vec<SocketAddr> = match cfg.target.host.parse::<std::net::IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, cfg.target.port)],
            Err(_) => tokio::net::lookup_host((cfg.target.host.as_str(), cfg.target.port))
                .await
                .map_err(|source| DonorError::Resolve {
                    target: cfg.target.clone(),
                    source,
                })?
                .collect(),
        };
        for addr in addrs {
            match tokio::time::timeout(cfg.timeouts.connect, TcpStream::connect(addr)).await {
                Ok(Ok(tcp)) => return Ok(tcp),
                Ok(Err(e)) => last = format!("{addr}: {e}"),
                Err(_) => {
                    last = format!(
                        "{addr}: connect timed out after {}s",
                        cfg.timeouts.connect.as_secs()
                    )
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(DonorError::Unreachable {
                target: cfg.target.clone(),
                window: cfg.timeouts.connect_retry,
                last,
            });
        }
        tokio::select! {
            _ = token.cancelled() => return Err(DonorError::Unreachable {
                target: cfg.target.clone(),
                window: cfg.timeouts.connect_retry,
                last: "cancelled".into(),
            }),
            _ = tokio::time::sleep(RETRY_PAUSE) => {}
        }
    }
}

/// Connects to the joiner (retrying while it is not listening yet) and
/// completes the TLS handshake, name check included.
pub async fn connect_joiner(
    cfg: &DonorConfig,
    token: &CancellationToken,
) -> Result<(crate::tls::TlsStream, PeerInfo), DonorError> {
    let tcp = connect_tcp(cfg, token).await?;
    tcp.set_nodelay(true).map_err(DonorError::Listener)?;
    if let Err(e) = cfg.sockopts.apply_tcp(&tcp) {
        warn!(error = %e, "cannot set socket options");
    }
    cfg.tls
        .connect(tcp, cfg.timeouts.handshake)
        .await
        .map_err(|source| DonorError::Tls {
            target: cfg.target.clone(),
            source,
        })
}

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
    watch: StallWatch,
    stop: CancellationToken,
    abort: CancellationToken,
) -> Result<(), DonorError> {
    let token = abort.child_token();
    let uid = own_uid().map_err(DonorError::Listener)?;
    let local = listener.local_addr().map_err(DonorError::Listener)?;
    let conns = TaskTracker::new();
    let mut tick = tokio::time::interval(STALL_TICK);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            _ = token.cancelled() => break,
            _ = tick.tick() => {
                if let Some(idle) = watch.stalled(&cfg) {
                    warn!(
                        joiner = %cfg.target, subject = %watch.subject(), idle_s = idle.as_secs(),
                        "transfer stalled: no byte moved through the tunnel (sst-idle-timeout), closing its connections"
                    );
                    token.cancel();
                    break;
                }
                continue;
            }
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
        let watch = watch.clone();
        conns.spawn(
            async move { relay_one(&cfg, tcp, &failures, &watch, &token).await }
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
    watch: &StallWatch,
    token: &CancellationToken,
) {
    let start = Instant::now();
    if let Err(e) = local.set_nodelay(true) {
        warn!(error = %e, "cannot set TCP_NODELAY");
    }
    // A connect or handshake into a dead network waits for its own
    // timeouts; an aborted relay must not.
    let connected = tokio::select! {
        _ = token.cancelled() => return,
        r = connect_joiner(cfg, token) => r,
    };
    let (tls, info) = match connected {
        Ok(ok) => ok,
        Err(e) => {
            let text = crate::error::chain(&e);
            warn!(error = %text, "connection to the joiner failed");
            failures.record(text);
            return;
        }
    };
    if let Some(m) = &cfg.relay.meter {
        m.connection_opened();
    }
    let _pumping = watch.pumping(&info);
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
            failures.record(text);
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
    watch: StallWatch,
    cfg: Arc<DonorConfig>,
    stop: CancellationToken,
    kill: CancellationToken,
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
        let watch = StallWatch::default();
        let stop = CancellationToken::new();
        let kill = abort.child_token();
        let task = tokio::spawn(run_relay(
            cfg.clone(),
            listener,
            failures.clone(),
            watch.clone(),
            stop.clone(),
            kill.clone(),
        ));
        Ok(Relay {
            addr,
            failures,
            watch,
            cfg,
            stop,
            kill,
            task,
        })
    }

    /// Runs one rsync step through the relay. A failure is explained by
    /// what the tunnel met: a stall (the relay's watch fired, or rsync's
    /// own `--timeout`) names the joiner; a TLS failure replaces rsync's
    /// "did not see server greeting".
    pub async fn step<T>(
        &self,
        step: impl std::future::Future<Output = Result<T, crate::rsync::RsyncError>>,
    ) -> Result<T, Error> {
        step.await
            .map_err(|e| failures::explain(e, &self.cfg, &self.failures, &self.watch))
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

    /// Ends every connection at once (after a failed step, whose rsyncs
    /// are gone: what is still open has nothing left to deliver).
    pub async fn abort(self) -> Result<(), Error> {
        self.kill.cancel();
        self.stop.cancel();
        join_relay(self.task).await
    }

    /// [`Relay::finish`] when `ok`, else [`Relay::abort`].
    pub async fn close(self, ok: bool) -> Result<(), Error> {
        if ok {
            self.finish().await
        } else {
            self.abort().await
        }
    }
}
