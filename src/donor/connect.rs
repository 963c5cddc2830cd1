//! The donor's connection to the joiner: one attempt is a TCP connect to
//! each address of the joiner in turn, then the TLS handshake (chain and
//! name checked inside it). An attempt that found the joiner not listening
//! yet, or that the joiner dropped before any verdict, is tried again as
//! `sockopt`'s `retry`/`interval`/`forever` and `sst-connect-retry` allow
//! ([`crate::tls::sockopt::RetryPlan`]); `pf` picks the addresses and
//! `connect-timeout` (else `sst-connect-timeout`) bounds each connect.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{ConnectAttempt, DonorConfig, DonorError};
use crate::tls::sockopt::{self, Exhausted};
use crate::tls::{PeerInfo, TlsError, TlsStream};

/// Pause after a failed accept on the relay listener (and between connect
/// attempts when `sockopt` sets no retry item).
pub(super) const RETRY_PAUSE: Duration = sockopt::DEFAULT_PAUSE;

/// A failed attempt that another attempt may fix.
enum Retryable {
    /// No address accepted the TCP connect.
    Connect(ConnectAttempt),
    /// The joiner ended the handshake without a verdict.
    Dropped(TlsError),
}

/// Connects to the joiner (retrying while it is not listening yet) and
/// completes the TLS handshake, name check included. A joiner that closes
/// or resets the connection before the handshake completes (no alert, no
/// verdict on any certificate: its handshake table overflowed under a
/// flood, or it is restarting) is retried the same way.
pub async fn connect_joiner(
    cfg: &DonorConfig,
    token: &CancellationToken,
) -> Result<(TlsStream, PeerInfo), DonorError> {
    let plan = cfg.sockopts.connect_retry(cfg.timeouts.connect_retry);
    let started = Instant::now();
    let mut attempts = 0u32;
    loop {
        attempts = attempts.saturating_add(1);
        let failed = match attempt(cfg).await? {
            Ok(connected) => return Ok(connected),
            Err(failed) => failed,
        };
        let pause = match plan.after(attempts, started.elapsed()) {
            Ok(pause) => pause,
            Err(gave_up) => return Err(give_up(cfg, attempts, gave_up, failed)),
        };
        if let Retryable::Dropped(e) = &failed {
            warn!(joiner = %cfg.target, error = %e, "the joiner closed the connection before the handshake completed, retrying");
        }
        tokio::select! {
            _ = token.cancelled() => {
                let failed = match failed {
                    Retryable::Connect(_) => Retryable::Connect(ConnectAttempt::Cancelled),
                    dropped => dropped,
                };
                let window = Exhausted::Window { window: plan.window };
                return Err(give_up(cfg, attempts, window, failed));
            }
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

fn give_up(cfg: &DonorConfig, attempts: u32, gave_up: Exhausted, last: Retryable) -> DonorError {
    match last {
        Retryable::Connect(last) => DonorError::Unreachable {
            target: cfg.target.clone(),
            attempts,
            gave_up,
            last,
        },
        Retryable::Dropped(source) => DonorError::Tls {
            target: cfg.target.clone(),
            source: Box::new(source),
        },
    }
}

/// One attempt: TCP, socket options, handshake.
async fn attempt(
    cfg: &DonorConfig,
) -> Result<Result<(TlsStream, PeerInfo), Retryable>, DonorError> {
    let tcp = match connect_tcp(cfg).await? {
        Ok(tcp) => tcp,
        Err(last) => return Ok(Err(Retryable::Connect(last))),
    };
    tcp.set_nodelay(true).map_err(DonorError::Listener)?;
    if let Err(e) = cfg.sockopts.apply_tcp(&tcp) {
        warn!(error = %e, "cannot set socket options");
    }
    match cfg.tls.connect(tcp, cfg.timeouts.handshake).await {
        Ok(connected) => Ok(Ok(connected)),
        Err(source) if dropped_by_joiner(&source) => Ok(Err(Retryable::Dropped(source))),
        Err(source) => Err(DonorError::Tls {
            target: cfg.target.clone(),
            source: Box::new(source),
        }),
    }
}

/// A TCP connect to each address of the joiner in turn (of `pf`'s family
/// only, when given), each bounded by the attempt timeout; the first that
/// succeeds wins, else how the last one failed.
async fn connect_tcp(cfg: &DonorConfig) -> Result<Result<TcpStream, ConnectAttempt>, DonorError> {
    let (timeout, setting) = cfg.sockopts.attempt_timeout(cfg.timeouts.connect);
    let host = cfg.target.host.as_str();
    // An IP literal needs no resolver (which would be a thread hop per
    // relay connection); a host name is resolved again on every attempt.
    let resolved: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, cfg.target.port)],
        Err(_) => tokio::net::lookup_host((host, cfg.target.port))
            .await
            .map_err(|source| DonorError::Resolve {
                target: cfg.target.clone(),
                source,
            })?
            .collect(),
    };
    let addrs = sockopt::select_family(cfg.sockopts.pf, host, &cfg.target.to_string(), resolved)?;
    let mut last = ConnectAttempt::None;
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => return Ok(Ok(tcp)),
            Ok(Err(source)) => last = ConnectAttempt::Failed { addr, source },
            Err(_) => {
                last = ConnectAttempt::TimedOut {
                    addr,
                    timeout,
                    setting,
                }
            }
        }
    }
    Ok(Err(last))
}

/// The joiner ended the connection during the handshake without a TLS
/// verdict: a close, or a reset (a dropped socket with our ClientHello
/// unread). Alerts and certificate failures are never retried.
fn dropped_by_joiner(e: &TlsError) -> bool {
    match e {
        TlsError::PeerClosed { .. } => true,
        TlsError::Io { source, .. } => matches!(
            source.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}
