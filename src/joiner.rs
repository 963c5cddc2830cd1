//! The joiner's data path: a TLS listener whose every connection is served
//! in its own task: handshake and identity check under a timeout, then the
//! decrypted bytes go to a fresh `rsync --server --daemon` over pipes (or,
//! with `--forward`, to a plaintext TCP service). [`admission`] keeps
//! unauthenticated clients from crowding the donor out. The accept loop
//! hands each connection to one of the process's connection workers
//! ([`crate::runtime`]), where it stays from the handshake to the close,
//! its rsync child forked (and supervised) from that worker's thread.
//!
//! [`run_joiner`] takes an already bound listener and a cancellation token,
//! so tests run it in-process on port 0. It returns once the completion
//! marker has arrived and every connection has finished.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, info_span, warn, Instrument};

use crate::config::{Settings, Timeouts};

use crate::meter::Meter;
use crate::relay::{self, RelayOpts};
use crate::rsync::daemon::DaemonConfig;
use crate::rsync::MARKER;
use crate::sst::address::SstAddress;
use crate::tls::policy::OwnName;
use crate::tls::{Preflight, SockOpts, TlsServer};

pub mod admission;
mod backend;
mod error;
mod failure;
mod listen;
mod peers;
pub mod rejects;
use admission::{Admission, HandshakeSlot};
pub use backend::prepare_datadir;
use backend::{forward, to_rsync};
pub use error::{ConnectionError, ConnectionFailure, JoinerError};
use failure::LastFailure;
pub use listen::{bind_listener, bind_listener_with};
use peers::OpenPeers;
use rejects::{Cause, Rejects, Verdict};

/// Where decrypted connections go.
#[derive(Clone, Debug)]
pub enum Backend {
    /// One `rsync --server --daemon --config=FILE .` per connection.
    Rsync(Arc<DaemonConfig>),
    /// A plaintext TCP service (diagnostics and benchmarks).
    Forward(SocketAddr),
}

/// Everything [`run_joiner`] needs.
#[derive(Clone)]
pub struct JoinerConfig {
    /// The TLS acceptor (files already loaded and checked).
    pub tls: Arc<TlsServer>,
    /// TCP tuning from `sockopt`.
    pub sockopts: SockOpts,
    /// Where connections go.
    pub backend: Backend,
    /// The data directory whose completion marker ends the run (`None`: run until cancelled).
    pub marker_dir: Option<PathBuf>,
    /// Bounded waits.
    pub timeouts: Timeouts,
    /// Authenticated connections served at once; more are refused. Pending
    /// handshakes have their own table ([`admission`]).
    pub max_connections: usize,
    /// Pump settings (buffer size, close timeout) and the shared meter.
    pub relay: RelayOpts,
}

impl JoinerConfig {
    /// The one way every entry point (the SST method, the manual joiner,
    /// the demo) builds a joiner from its settings: `tls` built from
    /// `settings.tls`, connections sent to `backend`, the run ended by the
    /// marker in `marker_dir` (`None`: until cancelled), bytes counted in `meter`.
    pub fn new(
        settings: &Settings,
        tls: Arc<TlsServer>,
        backend: Backend,
        marker_dir: Option<PathBuf>,
        meter: &Arc<Meter>,
    ) -> JoinerConfig {
        JoinerConfig {
            tls,
            sockopts: settings.tls.opts.clone(),
            backend,
            marker_dir,
            timeouts: settings.timeouts.clone(),
            max_connections: settings.max_connections,
            relay: settings.relay_opts(meter),
        }
    }

    fn meter(&self) -> Option<&Arc<Meter>> {
        self.relay.meter.as_ref()
    }
}

/// How a joiner run ended without error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinerOutcome {
    /// The marker arrived; its first line (the state).
    Complete(String),
    /// The token was cancelled.
    Stopped,
}

/// The check a joiner runs on itself at start: does its certificate carry
/// the name donors will check for `address` (its host, or `commonname=`)?
/// Logged as a warning when not (never fatal: the donors' `commonname=`
/// may differ from ours).
pub fn warn_own_name(preflight: &Preflight, opts: &SockOpts, address: &SstAddress) {
    let verdict = OwnName::judge(
        &preflight.cert_names,
        opts.commonname.as_deref(),
        &address.host_unbracketed,
    );
    if !matches!(verdict, OwnName::Covered { .. }) {
        let source = if opts.commonname.is_some() {
            "[sst] sockopt commonname"
        } else {
            "--address"
        };
        warn!(role = "joiner", "{source}: {verdict}");
    }
}

/// Says at start which donors the joiner accepts: any certificate from the
/// CA, or only those carrying one of the allow-list's names.
pub fn log_donor_names(names: Option<&crate::config::donors::DonorNames>) {
    match names {
        Some(n) => info!(
            allowed = %n.names.join(", "), origin = %n.origin,
            "joiner: donor certificates must carry one of the allowed names"
        ),
        None => debug!("joiner: no donor allow-list (sst-allowed-donors): any certificate from the CA may donate"),
    }
}

/// How often the accept loop looks at the marker and the timeouts.
const TICK: Duration = Duration::from_millis(200);
/// Pause after a failed `accept` (fd exhaustion) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves connections on `listener` until the marker arrived (and all
/// connections finished), the token is cancelled, or a timeout fires.
pub async fn run_joiner(
    cfg: JoinerConfig,
    listener: TcpListener,
    token: CancellationToken,
) -> Result<JoinerOutcome, JoinerError> {
    let cfg = Arc::new(cfg);
    let started = Instant::now();
    let conns = TaskTracker::new();
    let conn_token = token.child_token();
    let shared = Shared {
        admission: Admission::new(cfg.max_connections),
        failures: LastFailure::default(),
        peers: Arc::new(OpenPeers::default()),
        rejects: Arc::new(Rejects::default()),
    };
    let admission = &shared.admission;
    // Pending handshakes end with the run, whatever its outcome: they are
    // not part of the transfer.
    let handshakes = conn_token.child_token();
    let (finished_tx, mut finished_rx) = mpsc::unbounded_channel::<()>();
    let mut tick = tokio::time::interval(TICK);
    let mut marker_seen: Option<Instant> = None;
    let workers = crate::runtime::workers();
    debug!(
        workers = workers.count(),
        "joiner: connections spread over the workers"
    );

    let result = loop {
        tokio::select! {
            _ = token.cancelled() => break Ok(JoinerOutcome::Stopped),
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let (slot, evicted) = admission.begin_handshake(&handshakes);
                    if evicted && admission.evicted() == 1 {
                        warn!(%peer, pending = admission.max_pending(),
                            "handshake table full: dropping the oldest pending handshake for each new connection");
                    }
                    let cfg = cfg.clone();
                    let token = conn_token.clone();
                    let shared = shared.clone();
                    let finished = finished_tx.clone();
                    // The connection stays on one worker from the handshake
                    // to the close (and so does its rsync child).
                    let handed = workers.hand_off(&conns, tcp, move |tcp, worker| async move {
                        debug!("connection accepted");
                        serve(&cfg, tcp, peer, slot, &shared, &token).await;
                        // The loop may already be gone; nothing to tell then.
                        let _gone = finished.send(());
                    }.instrument(info_span!("conn", %peer, worker)));
                    if let Err(e) = handed {
                        warn!(%peer, error = %e, "cannot hand the connection to a worker, connection dropped");
                    }
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(()) = finished_rx.recv() => {}
            _ = tick.tick() => {}
        }
        if let Some(counts) = shared.rejects.due(Instant::now()) {
            rejects::log_summary(&counts, false);
        }
        if let Some(full) = shared.failures.no_space() {
            break Err(full);
        }
        let active = admission.sessions();
        if let Some(dir) = &cfg.marker_dir {
            if marker_seen.is_none() && dir.join(MARKER).symlink_metadata().is_ok() {
                marker_seen = Some(Instant::now());
            }
            if let Some(seen) = marker_seen {
                if active == 0 || seen.elapsed() > cfg.timeouts.close {
                    break read_marker(dir).map(JoinerOutcome::Complete);
                }
            }
        }
        let served = cfg.meter().map_or(0, |m| m.connections());
        if served == 0 {
            if let Some(limit) = cfg.timeouts.initial {
                if started.elapsed() > limit {
                    break Err(JoinerError::InitialTimeout(limit));
                }
            }
        } else if let (Some(limit), Some(meter)) = (cfg.timeouts.idle, cfg.meter()) {
            // Only bytes from the donor prove the network delivers: ours
            // land in the socket buffer even when nothing gets through.
            if meter.inbound_idle_for() > limit {
                break Err(JoinerError::Stalled {
                    idle: limit,
                    peers: shared.peers.describe(),
                    last_failure: shared.failures.get(),
                });
            }
        }
    };

    conns.close();
    handshakes.cancel();
    if admission.evicted() > 0 {
        warn!(
            evicted = admission.evicted(),
            "pending handshakes dropped because the table was full"
        );
    }
    if !matches!(result, Ok(JoinerOutcome::Complete(_))) {
        conn_token.cancel();
    }
    if tokio::time::timeout(cfg.timeouts.close, conns.wait())
        .await
        .is_err()
    {
        warn!("connections still open after the close timeout, cancelling them");
        conn_token.cancel();
        conns.wait().await;
    }
    if let Some(counts) = shared.rejects.rest() {
        rejects::log_summary(&counts, true);
    }
    result
}

fn read_marker(dir: &Path) -> Result<String, JoinerError> {
    let path = dir.join(MARKER);
    match crate::sst::files::read_marker_line(&path) {
        Ok(Some(line)) => Ok(line),
        Ok(None) => Err(JoinerError::Marker {
            path,
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        }),
        Err(source) => Err(JoinerError::Marker { path, source }),
    }
}

/// What every connection task shares with the accept loop.
#[derive(Clone)]
struct Shared {
    /// Pending handshakes and authenticated sessions.
    admission: Arc<Admission>,
    /// The last connection failure, for the stall and ENOSPC reports.
    failures: LastFailure,
    /// The donor connections carrying data, for the stall report.
    peers: Arc<OpenPeers>,
    /// Connections turned away, logged in bounded volume.
    rejects: Arc<Rejects>,
}

/// One connection, start to end. Never returns an error: a bad client is
/// logged and dropped without disturbing the others; a served connection's
/// failure is also kept in `failures`.
async fn serve(
    cfg: &JoinerConfig,
    tcp: TcpStream,
    peer: SocketAddr,
    slot: HandshakeSlot,
    shared: &Shared,
    token: &CancellationToken,
) {
    let start = Instant::now();
    if let Err(e) = prepare_socket(&tcp, &cfg.sockopts) {
        warn!(error = %e, "cannot set socket options");
    }
    let handshake = tokio::select! {
        _ = slot.token.cancelled() => {
            if !token.is_cancelled() {
                shared.rejects.note(Cause::Evicted);
                debug!("pending handshake evicted by a newer connection");
            }
            return;
        }
        r = cfg.tls.accept(tcp, cfg.timeouts.handshake) => r,
    };
    drop(slot);
    let (mut tls, info) = match handshake {
        Ok(ok) => ok,
        Err(e) => {
            let error = crate::exit::chain(&e);
            match shared.rejects.note(Cause::of(&e)) {
                Verdict::Full => warn!(%error, "tls handshake failed, connection dropped"),
                Verdict::Counted => debug!(%error, "tls handshake failed, connection dropped"),
            }
            return;
        }
    };
    // Only authenticated peers count against sst-max-connections.
    let Some(_permit) = shared.admission.admit() else {
        let (subject, max) = (&info.subject, shared.admission.max_sessions());
        let what =
            "connection cap reached (sst-max-connections), refusing an authenticated connection";
        match shared.rejects.note(Cause::OverCap) {
            Verdict::Full => warn!(%subject, max, "{what}"),
            Verdict::Counted => debug!(%subject, max, "{what}"),
        }
        return;
    };
    // Wait for the donor's first bytes before starting anything: the donor's
    // preflight connection closes right after its handshake.
    let mut first = vec![0u8; 16 * 1024];
    let n = tokio::select! {
        _ = token.cancelled() => return,
        r = tokio::time::timeout(cfg.timeouts.idle.unwrap_or(Duration::MAX), tls.read(&mut first)) => match r {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                warn!(subject = %info.subject, error = %e, "connection failed before any data");
                return;
            }
            Err(_) => {
                warn!(subject = %info.subject, "no data within the idle timeout, connection dropped");
                return;
            }
        },
    };
    if n == 0 {
        info!(subject = %info.subject, protocol = %info.protocol, "preflight connection closed (handshake only)");
        let _closed = tls.shutdown().await;
        return;
    }
    first.truncate(n);
    if let Some(m) = cfg.meter() {
        m.connection_opened();
    }
    relay::log::opened(&info);
    let _open = shared.peers.open(peer, &info);
    let outcome = match &cfg.backend {
        Backend::Forward(addr) => forward(cfg, tls, &first, *addr, token).await,
        Backend::Rsync(conf) => to_rsync(cfg, tls, &first, conf, token).await,
    };
    relay::log::closed(&info, start.elapsed(), outcome.as_ref());
    if let Err(error) = outcome {
        let conf = match &cfg.backend {
            Backend::Rsync(conf) => Some(&**conf),
            Backend::Forward(_) => None,
        };
        let failure = ConnectionFailure {
            peer,
            subject: info.subject.clone(),
            error,
        };
        shared.failures.record(failure, conf);
    }
}

fn prepare_socket(tcp: &TcpStream, opts: &SockOpts) -> std::io::Result<()> {
    tcp.set_nodelay(true)?;
    opts.apply_tcp(tcp)
}
