//! Which uid owns the other end of a loopback TCP connection, read from the
//! kernel's socket tables (`/proc/net/tcp`, `/proc/net/tcp6`).
//!
//! The donor's relay serves only processes of its own user: for each
//! accepted connection it looks up the socket whose local address is the
//! connection's peer and whose remote address is our local end, and reads
//! the owner uid the kernel records for it.
//!
//! The lookup asks the kernel first through `NETLINK_SOCK_DIAG` for exactly
//! that socket (tens of microseconds); reading `/proc/net/tcp` walks the
//! whole established-hash table and took 6 ms per connection even on an
//! idle test VM, more on a busy database host. The tables stay as the
//! fallback when netlink is unavailable.
//!
//! Table format (one socket per line, after a header):
//! `sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...`
//! with addresses as `HEX:PORT`. The address hex is the in-memory (network
//! order) bytes printed as native-endian 32-bit words, so on little-endian
//! hosts `0100007F` is 127.0.0.1; the port is plain hex. An IPv4 client of
//! a dual-stack listener appears in `tcp` while our side sees an
//! IPv4-mapped IPv6 address, so both sides are compared canonically.

use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

/// The socket tables searched, in order.
const TABLES: [&str; 2] = ["/proc/net/tcp", "/proc/net/tcp6"];

/// The uid owning the socket whose local address is `peer` and whose remote
/// address is `local` (our accepted connection seen from the other side).
/// `Ok(None)` when no such socket is in the tables.
pub fn uid_of_peer(peer: SocketAddr, local: SocketAddr) -> io::Result<Option<u32>> {
    if let Ok(Some(uid)) = diag::uid_of(canonical(peer), canonical(local)) {
        return Ok(Some(uid));
    }
    for table in TABLES {
        match uid_in_table(Path::new(table), peer, local) {
            Ok(Some(uid)) => return Ok(Some(uid)),
            Ok(None) => {}
            // No IPv6 in this kernel: nothing to find there.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("reading {table}: {e}"))),
        }
    }
    Ok(None)
}

fn uid_in_table(path: &Path, peer: SocketAddr, local: SocketAddr) -> io::Result<Option<u32>> {
    let text = fs::read_to_string(path)?;
    Ok(find_uid(&text, peer, local))
}

/// Searches one table's text for the socket `peer → local`.
fn find_uid(table: &str, peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    let want_local = canonical(peer);
    let want_remote = canonical(local);
    table.lines().skip(1).find_map(|line| {
        let mut fields = line.split_whitespace();
        let _slot = fields.next()?;
        let l = parse_addr(fields.next()?)?;
        let r = parse_addr(fields.next()?)?;
        if l != want_local || r != want_remote {
            return None;
        }
        // st, tx:rx, tr:when, retrnsmt, then uid.
        fields.nth(4)?.parse().ok()
    })
}

/// IPv4-mapped IPv6 addresses become plain IPv4.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// Parses `HEX:PORT` as printed by the kernel, canonicalised.
fn parse_addr(field: &str) -> Option<SocketAddr> {
    let (ip_hex, port_hex) = field.split_once(':')?;
    let port = u16::from_str_radix(port_hex, 16).ok()?;
    let ip = match ip_hex.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(ip_hex)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(ip_hex.get(i * 8..i * 8 + 8)?)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(canonical(SocketAddr::new(ip, port)))
}

/// The uid lookup through `NETLINK_SOCK_DIAG` (`SOCK_DIAG_BY_FAMILY` for one
/// exact 4-tuple), built from plain bytes so no `unsafe` is needed.
mod diag {
    use std::io::{self, Read};
    use std::net::{IpAddr, SocketAddr};
    use std::time::Duration;

    use socket2::{Domain, Protocol, Socket, Type};

    const NETLINK_SOCK_DIAG: i32 = 4;
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 1;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const NLMSG_HDR: usize = 16;
    /// `inet_diag_msg`: family, state, timer, retrans, sockid (48), expires, rqueue, wqueue, uid.
    const UID_OFFSET: usize = NLMSG_HDR + 4 + 48 + 12;

    /// The request for the socket `src → dst` (its own view: `src` is local).
    pub(super) fn request(src: SocketAddr, dst: SocketAddr) -> Option<Vec<u8>> {
        let family = match (src.ip(), dst.ip()) {
            (IpAddr::V4(_), IpAddr::V4(_)) => libc::AF_INET,
            (IpAddr::V6(_), IpAddr::V6(_)) => libc::AF_INET6,
            _ => return None,
        };
        let mut msg = Vec::with_capacity(NLMSG_HDR + 56);
        msg.extend_from_slice(&((NLMSG_HDR + 56) as u32).to_ne_bytes());
        msg.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        msg.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence
        msg.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
        msg.push(family as u8);
        msg.push(libc::IPPROTO_TCP as u8);
        msg.push(0); // no extensions
        msg.push(0);
        msg.extend_from_slice(&u32::MAX.to_ne_bytes()); // any state
        msg.extend_from_slice(&src.port().to_be_bytes());
        msg.extend_from_slice(&dst.port().to_be_bytes());
        for ip in [src.ip(), dst.ip()] {
            let mut raw = [0u8; 16];
            match ip {
                IpAddr::V4(v4) => raw[..4].copy_from_slice(&v4.octets()),
                IpAddr::V6(v6) => raw.copy_from_slice(&v6.octets()),
            }
            msg.extend_from_slice(&raw);
        }
        msg.extend_from_slice(&0u32.to_ne_bytes()); // any interface
        msg.extend_from_slice(&u32::MAX.to_ne_bytes()); // INET_DIAG_NOCOOKIE
        msg.extend_from_slice(&u32::MAX.to_ne_bytes());
        Some(msg)
    }

    /// Ports and addresses of the socket id, in the request and in a reply.
    const REQUEST_ID: std::ops::Range<usize> = NLMSG_HDR + 8..NLMSG_HDR + 8 + 36;
    const REPLY_ID: std::ops::Range<usize> = NLMSG_HDR + 4..NLMSG_HDR + 4 + 36;

    /// The uid in a reply to `request`, `None` for "no such socket" or an
    /// unexpected reply. The kernel's exact lookup falls back to a
    /// *listener* on the source address when no connection matches, so the
    /// reply only counts when it names exactly the socket asked for.
    pub(super) fn parse_reply(request: &[u8], reply: &[u8]) -> Option<u32> {
        let kind = u16::from_ne_bytes(reply.get(4..6)?.try_into().ok()?);
        if kind == NLMSG_ERROR || kind == NLMSG_DONE || kind != SOCK_DIAG_BY_FAMILY {
            return None;
        }
        if reply.get(REPLY_ID)? != request.get(REQUEST_ID)? {
            return None;
        }
        Some(u32::from_ne_bytes(
            reply.get(UID_OFFSET..UID_OFFSET + 4)?.try_into().ok()?,
        ))
    }

    /// Asks the kernel who owns the socket whose local end is `peer` and
    /// whose remote end is `local`.
    pub(super) fn uid_of(peer: SocketAddr, local: SocketAddr) -> io::Result<Option<u32>> {
        let Some(msg) = request(peer, local) else {
            return Ok(None);
        };
        let mut sock = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::DGRAM,
            Some(Protocol::from(NETLINK_SOCK_DIAG)),
        )?;
        sock.set_read_timeout(Some(Duration::from_secs(1)))?;
        sock.send(&msg)?;
        let mut reply = [0u8; 512];
        let n = sock.read(&mut reply)?;
        Ok(reply.get(..n).and_then(|r| parse_reply(&msg, r)))
    }
}

/// The process holding a TCP listener on `port`, as `pid N (name)`, for
/// "address already in use" messages. Best effort: `None` when the tables
/// or the process's descriptors cannot be read (another user's process as
/// non-root).
pub fn listener_owner(port: u16) -> Option<String> {
    let inode = TABLES.iter().find_map(|t| {
        let text = fs::read_to_string(t).ok()?;
        listening_inode(&text, port)
    })?;
    let target = format!("socket:[{inode}]");
    for proc_entry in fs::read_dir("/proc").ok()?.flatten() {
        let name = proc_entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        let holds = fds
            .flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str()));
        if holds {
            let comm = fs::read_to_string(proc_entry.path().join("comm")).unwrap_or_default();
            return Some(format!("pid {pid} ({})", comm.trim()));
        }
    }
    None
}

/// The inode of a socket listening (state `0A`) on `port` in one table.
fn listening_inode(table: &str, port: u16) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let local = parse_addr(f.get(1)?)?;
        (local.port() == port && *f.get(3)? == "0A").then_some(())?;
        f.get(9)?.parse().ok()
    })
}

/// One 32-bit word of address bytes, printed native-endian by the kernel.
fn word(hex: &str) -> Option<[u8; 4]> {
    u32::from_str_radix(hex, 16).ok().map(u32::to_ne_bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex4(ip: Ipv4Addr) -> String {
        format!("{:08X}", u32::from_ne_bytes(ip.octets()))
    }

    fn hex6(ip: Ipv6Addr) -> String {
        ip.octets()
            .chunks_exact(4)
            .map(|c| format!("{:08X}", u32::from_ne_bytes([c[0], c[1], c[2], c[3]])))
            .collect()
    }

    #[test]
    fn parses_ipv4_and_ipv6_fields() {
        let v4: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let field = format!("{}:1F90", hex4(Ipv4Addr::LOCALHOST));
        assert_eq!(parse_addr(&field), Some(v4));
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        let field = format!("{}:01BB", hex6(Ipv6Addr::LOCALHOST));
        assert_eq!(parse_addr(&field), Some(v6));
        assert_eq!(parse_addr("zz:01"), None);
        assert_eq!(parse_addr("0100007F"), None);
    }

    #[test]
    fn mapped_addresses_compare_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        let field = format!("{}:1388", hex6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()));
        assert_eq!(parse_addr(&field), Some("127.0.0.1:5000".parse().unwrap()));
        assert_eq!(canonical(mapped), "127.0.0.1:5000".parse().unwrap());
    }

    #[test]
    fn netlink_and_the_tables_agree_on_our_own_connection() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (_s, peer) = l.accept().unwrap();
        let local = l.local_addr().unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        let via_netlink = diag::uid_of(peer, local).unwrap();
        let table = fs::read_to_string("/proc/net/tcp").unwrap();
        let via_table = find_uid(&table, peer, local);
        assert!(via_netlink.is_some(), "netlink found no socket");
        assert_eq!(via_netlink, via_table);
        // A 4-tuple nobody has: no answer, not a wrong one.
        let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(diag::uid_of(nobody, local).unwrap(), None);
        // The kernel would answer this with the listener on `local`: refused.
        assert_eq!(diag::uid_of(local, nobody).unwrap(), None);
    }

    #[test]
    fn names_the_process_holding_a_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let owner = listener_owner(port).unwrap_or_default();
        assert!(
            owner.starts_with(&format!("pid {} ", std::process::id())),
            "{owner}"
        );
    }

    #[test]
    fn finds_the_uid_of_the_matching_line_only() {
        let lo = hex4(Ipv4Addr::LOCALHOST);
        let table = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             0: {lo}:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0\n\
             1: {lo}:1F90 {lo}:C350 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0\n\
             2: {lo}:C350 {lo}:1F90 01 00000000:00000000 00:00000000 00000000  4242        0 3 1 0\n"
        );
        let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(find_uid(&table, peer, local), Some(4242));
        assert_eq!(find_uid(&table, local, peer), Some(1000));
        let other: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(find_uid(&table, other, local), None);
    }
}
