//! The donor's connection to the joiner: TCP connects retried while the
//! joiner is not listening yet, then the TLS handshake (chain and name
//! checked inside it), retried as well when the joiner drops the connection
//! before any verdict, all within `sst-connect-retry`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{ConnectAttempt, DonorConfig, DonorError};
use crate::tls::{PeerInfo, TlsError};

/// Pause between connect attempts while the joiner is not listening yet.
pub(super) const RETRY_PAUSE: Duration = Duration::from_millis(200);

async fn connect_tcp(
    cfg: &DonorConfig,
    token: &CancellationToken,
) -> Result<TcpStream, DonorError> {
    let deadline = Instant::now() + cfg.timeouts.connect_retry;
    let mut last = ConnectAttempt::None;
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
                Ok(Err(source)) => last = ConnectAttempt::Failed { addr, source },
                Err(_) => {
                    last = ConnectAttempt::TimedOut {
                        addr,
                        timeout: cfg.timeouts.connect,
                    }
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
                last: ConnectAttempt::Cancelled,
            }),
            _ = tokio::time::sleep(RETRY_PAUSE) => {}
        }
    }
}

/// Connects to the joiner (retrying while it is not listening yet) and
/// completes the TLS handshake, name check included. A joiner that closes
/// or resets the connection before the handshake completes (no alert, no verdict on
/// any certificate: its handshake table overflowed under a flood, or it is
/// restarting) is retried within the same `sst-connect-retry` window.
pub async fn connect_joiner(
    cfg: &DonorConfig,
    token: &CancellationToken,
) -> Result<(crate::tls::TlsStream, PeerInfo), DonorError> {
    let deadline = Instant::now() + cfg.timeouts.connect_retry;
    loop {
        let tcp = connect_tcp(cfg, token).await?;
        tcp.set_nodelay(true).map_err(DonorError::Listener)?;
        if let Err(e) = cfg.sockopts.apply_tcp(&tcp) {
            warn!(error = %e, "cannot set socket options");
        }
        match cfg.tls.connect(tcp, cfg.timeouts.handshake).await {
            Ok(ok) => return Ok(ok),
            Err(source)
                if dropped_by_joiner(&source)
                    && Instant::now() < deadline
                    && !token.is_cancelled() =>
            {
                warn!(joiner = %cfg.target, error = %source, "the joiner closed the connection before the handshake completed, retrying");
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = tokio::time::sleep(RETRY_PAUSE) => {}
                }
            }
            Err(source) => {
                return Err(DonorError::Tls {
                    target: cfg.target.clone(),
                    source: Box::new(source),
                })
            }
        }
    }
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
