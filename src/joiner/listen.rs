//! Binding the joiner's TLS listener: the SST address as advertised, or all
//! interfaces when that address is not on this host (NAT).

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tracing::warn;

use super::error::JoinerError;
use crate::sst::address::SstAddress;

/// Binds the joiner's TLS listener and returns it with the address it got
/// (port 0 becomes the port the kernel chose). A port in use is
/// [`crate::exit::ExitCode::Busy`] with the holder named when it can be
/// found; an address that is not on this host (NAT: the advertised address
/// belongs to a router) falls back to all interfaces, as MariaDB's own
/// rsync method does.
pub async fn bind_listener(address: &SstAddress) -> Result<(TcpListener, SocketAddr), JoinerError> {
    let listener = bind(address).await?;
    let bound = listener.local_addr().map_err(|source| JoinerError::Bind {
        held_by: None,
        address: address.authority(),
        source,
    })?;
    Ok((listener, bound))
}

async fn bind(address: &SstAddress) -> Result<TcpListener, JoinerError> {
    let port = address.port;
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((address.host_unbracketed.as_str(), port))
        .await
        .map_err(|source| JoinerError::Bind {
            held_by: None,
            address: address.authority(),
            source,
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
                let any: SocketAddr = if addr.is_ipv6() {
                    (std::net::Ipv6Addr::UNSPECIFIED, port).into()
                } else {
                    (std::net::Ipv4Addr::UNSPECIFIED, port).into()
                };
                warn!(address = %addr, "not an address of this host, listening on all interfaces");
                match TcpListener::bind(any).await {
                    Ok(l) => return Ok(l),
                    Err(e) => last = Some((any, e)),
                }
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, source) = match last {
        Some((a, e)) => (a.to_string(), e),
        None => (
            address.authority(),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the name resolved to no address",
            ),
        ),
    };
    let held_by = if source.kind() == std::io::ErrorKind::AddrInUse {
        crate::sockowner::listener_owner(port)
    } else {
        None
    };
    Err(JoinerError::Bind {
        held_by,
        address: addr,
        source,
    })
}
