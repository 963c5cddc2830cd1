//! Binding the joiner's TLS listener: the SST address as advertised, or all
//! interfaces when that address is not on this host (NAT); of `sockopt`'s
//! `pf` family when given; a port in use tried again when `sockopt` asks
//! for it (`retry`/`interval`/`forever`, within `sst-connect-retry`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::error::JoinerError;
use crate::sst::address::SstAddress;
use crate::tls::sockopt::{self, SockOpts};

/// Binds the joiner's TLS listener and returns it with the address it got
/// (port 0 becomes the port the kernel chose). A port in use is
/// [`crate::exit::ExitCode::Busy`] with the holder named when it can be
/// found; an address that is not on this host (NAT: the advertised address
/// belongs to a router) falls back to all interfaces, as MariaDB's own
/// rsync method does. No `sockopt` applies: see [`bind_listener_with`].
pub async fn bind_listener(address: &SstAddress) -> Result<(TcpListener, SocketAddr), JoinerError> {
    let never = CancellationToken::new();
    bind_listener_with(address, &SockOpts::default(), Duration::ZERO, &never).await
}

/// [`bind_listener`] with `sockopt`'s socket items: `pf` keeps only the
/// addresses of its family (an IP literal of the other family is
/// [`JoinerError::Family`], exit 22); `retry`/`forever` try a port in use
/// again every `interval` (socat's 1 s by default) until the count is used
/// up or `window` (`sst-connect-retry`) has passed, or `token` is
/// cancelled. `connect-timeout` does not apply to a listener (socat
/// refuses it there; the same `sockopt` serves the donor).
pub async fn bind_listener_with(
    address: &SstAddress,
    opts: &SockOpts,
    window: Duration,
    token: &CancellationToken,
) -> Result<(TcpListener, SocketAddr), JoinerError> {
    if opts.connect_timeout.is_some() {
        debug!(
            "sockopt connect-timeout applies to the donor only; the joiner's listener ignores it"
        );
    }
    let plan = opts.bind_retry(window);
    let started = Instant::now();
    let mut attempts = 0u32;
    let listener = loop {
        attempts = attempts.saturating_add(1);
        let (addr, source) = match bind(address, opts).await? {
            Ok(listener) => break listener,
            Err(failed) => failed,
        };
        let busy = source.kind() == std::io::ErrorKind::AddrInUse;
        let pause = match plan.after(attempts, started.elapsed()) {
            Ok(pause) if busy => pause,
            _ => return Err(bind_error(address.port, addr, source)),
        };
        if attempts == 1 {
            let retries = plan
                .retries
                .map_or_else(|| "no count".to_string(), |r| r.to_string());
            warn!(
                address = %addr, retries = %retries, interval = ?plan.pause, window = ?plan.window,
                "port in use, retrying (sockopt retry/forever)"
            );
        } else {
            debug!(address = %addr, attempts, "port in use, retrying (sockopt retry/forever)");
        }
        tokio::select! {
            _ = token.cancelled() => return Err(bind_error(address.port, addr, source)),
            _ = tokio::time::sleep(pause) => {}
        }
    };
    let bound = listener.local_addr().map_err(|source| JoinerError::Bind {
        held_by: None,
        address: address.authority(),
        source,
    })?;
    Ok((listener, bound))
}

/// A port in use names its holder when it can be found.
fn bind_error(port: u16, address: String, source: std::io::Error) -> JoinerError {
    let held_by = if source.kind() == std::io::ErrorKind::AddrInUse {
        crate::sockowner::listener_owner(port)
    } else {
        None
    };
    JoinerError::Bind {
        held_by,
        address,
        source,
    }
}

/// One bind of every address `address` resolves to (of `pf`'s family), the
/// first that works; else the address and error of the last one. A name
/// that does not resolve is a failed bind too, never retried.
async fn bind(
    address: &SstAddress,
    opts: &SockOpts,
) -> Result<Result<TcpListener, (String, std::io::Error)>, JoinerError> {
    let port = address.port;
    let resolved = match tokio::net::lookup_host((address.host_unbracketed.as_str(), port)).await {
        Ok(addrs) => addrs,
        Err(source) => return Ok(Err((address.authority(), source))),
    };
    let addrs = sockopt::select_family(
        opts.pf,
        &address.host_unbracketed,
        &address.authority(),
        resolved,
    )?;
    let mut last = None;
    for addr in addrs {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(Ok(l)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
                let any: SocketAddr = if addr.is_ipv6() {
                    (std::net::Ipv6Addr::UNSPECIFIED, port).into()
                } else {
                    (std::net::Ipv4Addr::UNSPECIFIED, port).into()
                };
                warn!(address = %addr, "not an address of this host, listening on all interfaces");
                match TcpListener::bind(any).await {
                    Ok(l) => return Ok(Ok(l)),
                    Err(e) => last = Some((any, e)),
                }
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    Ok(Err(match last {
        Some((a, e)) => (a.to_string(), e),
        None => (
            address.authority(),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the name resolved to no address",
            ),
        ),
    }))
}
