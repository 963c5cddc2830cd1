//! The donor's loopback relay: accepts the rsync clients (own uid only),
//! turns each connection into one TLS connection to the joiner, watches for
//! a stalled transfer, and explains a failed rsync step by what it met.
//! Each accepted connection is handed to one of the connection workers
//! ([`crate::runtime`]) and stays there until it closes.

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info_span, warn, Instrument};

use super::failures::{self, broke_mid_transfer, FirstFailure, StallWatch};
use super::{connect_joiner, DonorConfig, DonorError, TunnelFailure, RETRY_PAUSE};
use crate::relay;
use crate::sockowner;

/// How often the relay looks for a stalled transfer.
const STALL_TICK: Duration = Duration::from_millis(200);

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
    let workers = crate::runtime::workers();
    debug!(
        workers = workers.count(),
        "relay: connections spread over the workers"
    );
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            _ = token.cancelled() => break,
            _ = tick.tick() => {
                if let Some(idle) = watch.stalled(cfg.timeouts.idle, cfg.relay.meter.as_deref()) {
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
                // Also what a client that already closed looks like: its
                // TIME_WAIT entry has no owner (issue 9), so never relay it.
                warn!(
                    %peer,
                    "relay connection refused: no established socket owned by a local process is at its other end \
                     (the client closed before the relay checked it, or is not on this host), so its user cannot be checked"
                );
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
        // The connection stays on one worker from the TLS connect to the close.
        let handed = workers.hand_off(&conns, tcp, move |tcp, worker| {
            async move {
                debug!("relay connection accepted");
                relay_one(&cfg, tcp, &failures, &watch, &token).await;
            }
            .instrument(info_span!("relay", %peer, worker))
        });
        if let Err(e) = handed {
            warn!(%peer, error = %e, "cannot hand the relay connection to a worker, connection dropped");
        }
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
            warn!(error = %crate::exit::chain(&e), "connection to the joiner failed");
            failures.record(TunnelFailure::Connect(e));
            return;
        }
    };
    if let Some(m) = &cfg.relay.meter {
        m.connection_opened();
    }
    let _pumping = watch.pumping(&info);
    relay::log::opened(&info);
    let pumped = relay::pump(local, tls, &cfg.relay, token).await;
    relay::log::closed(&info, start.elapsed(), pumped.as_ref());
    if let Err(e) = pumped {
        failures.record(if broke_mid_transfer(&e) {
            // Authenticated, then cut: not an authentication failure; rsync
            // failed because of it, which the table calls 255.
            TunnelFailure::Broke {
                target: cfg.target.clone(),
                subject: info.subject.clone(),
                elapsed_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
                source: e,
            }
        } else {
            TunnelFailure::Alert(e)
        });
    }
}

/// Binds the donor's relay on loopback (`127.0.0.1:0` unless `listen` names one).
async fn bind_relay(listen: Option<&str>) -> Result<(TcpListener, SocketAddr), DonorError> {
    let addr: SocketAddr = match listen {
        None => SocketAddr::from(([127, 0, 0, 1], 0)),
        Some(text) => text.parse().map_err(|_| DonorError::RelayAddress {
            address: text.to_string(),
            reason: "expected a loopback IP:PORT such as 127.0.0.1:4445",
        })?,
    };
    if !addr.ip().is_loopback() {
        return Err(DonorError::RelayAddress {
            address: addr.to_string(),
            reason: "the relay listens on loopback only",
        });
    }
    let bind_err = |source| DonorError::RelayBind {
        address: addr,
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
    let bound = listener.local_addr().map_err(bind_err)?;
    Ok((listener, bound))
}

/// Waits for the relay task and surfaces its error.
async fn join_relay(
    relay: tokio::task::JoinHandle<Result<(), DonorError>>,
) -> Result<(), DonorError> {
    relay.await.map_err(DonorError::Task)?
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
    /// A relay dropped without [`Relay::close`] (an early `?`) ends its
    /// connections: they run on the connection workers, which outlive the
    /// entry point's runtime, so its shutdown would not drop them.
    _abort_on_drop: tokio_util::sync::DropGuard,
}

impl Relay {
    /// Binds the relay on loopback (`listen`, else an ephemeral port) and
    /// starts serving; `abort` ends every connection at once.
    pub async fn start(
        cfg: Arc<DonorConfig>,
        listen: Option<&str>,
        abort: &CancellationToken,
    ) -> Result<Relay, DonorError> {
        let (listener, addr) = bind_relay(listen).await?;
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
            _abort_on_drop: kill.clone().drop_guard(),
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
    ) -> Result<T, DonorError> {
        step.await.map_err(|e| {
            failures::explain(
                e,
                &self.cfg.target,
                self.cfg.timeouts.idle,
                &self.failures,
                &self.watch,
            )
        })
    }

    /// Sends the data directory, then the marker carrying `state`.
    pub async fn send(
        &self,
        plan: &crate::rsync::client::TransferPlan,
        state: &str,
        token: &CancellationToken,
    ) -> Result<(), DonorError> {
        self.step(crate::rsync::client::send_data(plan, token))
            .await?;
        self.step(crate::rsync::client::send_marker(plan, state, token))
            .await
    }

    /// Stops accepting, lets open connections finish within the close
    /// timeout, and surfaces the relay's own error.
    pub async fn finish(self) -> Result<(), DonorError> {
        self.stop.cancel();
        join_relay(self.task).await
    }

    /// Ends every connection at once (after a failed step, whose rsyncs
    /// are gone: what is still open has nothing left to deliver).
    pub async fn abort(self) -> Result<(), DonorError> {
        self.kill.cancel();
        self.stop.cancel();
        join_relay(self.task).await
    }

    /// [`Relay::finish`] when `ok`, else [`Relay::abort`].
    pub async fn close(self, ok: bool) -> Result<(), DonorError> {
        if ok {
            self.finish().await
        } else {
            self.abort().await
        }
    }
}
