//! Which uid owns the other end of a loopback TCP connection, read from the
//! kernel's socket tables (`/proc/net/tcp`, `/proc/net/tcp6`).
//!
//! The donor's relay serves only processes of its own user: for each
//! accepted connection it looks up the socket whose local address is the
//! connection's peer and whose remote address is our local end, and reads
//! the owner uid the kernel records for it.
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
