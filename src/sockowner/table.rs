//! The kernel's text socket tables (`/proc/net/tcp`, `/proc/net/tcp6`):
//! parsing their lines, the owner of one connection, the inode of a
//! listener.
//!
//! Format (one socket per line, after a header):
//! `sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...`
//! with addresses as `HEX:PORT` and the state `st` in hex (`01` is
//! ESTABLISHED, `0A` LISTEN). The address hex is the in-memory (network
//! order) bytes printed as native-endian 32-bit words, so on little-endian
//! hosts `0100007F` is 127.0.0.1; the port is plain hex.

use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use super::{canonical, TCP_ESTABLISHED};

/// The socket tables searched, in order.
pub(super) const TABLES: [&str; 2] = ["/proc/net/tcp", "/proc/net/tcp6"];

/// The owner of the established socket `peer → local` in the table at `path`.
pub(super) fn uid_in_table(
    path: &Path,
    peer: SocketAddr,
    local: SocketAddr,
) -> io::Result<Option<u32>> {
    let text = fs::read_to_string(path)?;
    Ok(find_uid(&text, peer, local))
}

/// Searches one table's text for the socket `peer → local` and returns its
/// uid when it is ESTABLISHED with a non-zero inode. What a closed client
/// leaves behind (TIME_WAIT, an orphaned FIN_WAIT2) is listed with inode 0
/// and uid 0: nobody's socket, not root's.
pub(super) fn find_uid(table: &str, peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    let want_local = canonical(peer);
    let want_remote = canonical(local);
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if parse_addr(f.get(1)?)? != want_local || parse_addr(f.get(2)?)? != want_remote {
            return None;
        }
        let state = u8::from_str_radix(f.get(3)?, 16).ok()?;
        let inode: u64 = f.get(9)?.parse().ok()?;
        if state != TCP_ESTABLISHED || inode == 0 {
            return None;
        }
        f.get(7)?.parse().ok()
    })
}

/// The inode of a socket listening (state `0A`) on `port` in one table.
pub(super) fn listening_inode(table: &str, port: u16) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let local = parse_addr(f.get(1)?)?;
        (local.port() == port && *f.get(3)? == "0A").then_some(())?;
        f.get(9)?.parse().ok()
    })
}

/// Parses `HEX:PORT` as printed by the kernel, canonicalised.
pub(super) fn parse_addr(field: &str) -> Option<SocketAddr> {
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

/// One 32-bit word of address bytes, printed native-endian by the kernel.
fn word(hex: &str) -> Option<[u8; 4]> {
    u32::from_str_radix(hex, 16).ok().map(u32::to_ne_bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

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
    fn finds_the_uid_of_the_matching_line_only() {
        let lo = hex4(Ipv4Addr::LOCALHOST);
        let table = format!(
            "{HEADER}\
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

    /// Issue 9: the lines a closed client leaves (inode 0, uid 0) name no
    /// owner, and neither does any state but ESTABLISHED.
    #[test]
    fn counts_only_established_sockets_with_an_inode() {
        let lo = hex4(Ipv4Addr::LOCALHOST);
        let line = |state: &str, uid: u32, inode: u64| {
            format!(
                "0: {lo}:C350 {lo}:1F90 {state} 00000000:00000000 00:00000000 00000000 {uid:5}        0 {inode} 1 0\n"
            )
        };
        let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let uid_of =
            |lines: &[String]| find_uid(&format!("{HEADER}{}", lines.concat()), peer, local);
        // TIME_WAIT (06) and an orphaned FIN_WAIT2 (05) as the kernel prints them.
        assert_eq!(uid_of(&[line("06", 0, 0)]), None);
        assert_eq!(uid_of(&[line("05", 0, 0)]), None);
        // Not established, even with an owner: a half-closed client, CLOSE_WAIT.
        assert_eq!(uid_of(&[line("05", 1000, 77)]), None);
        assert_eq!(uid_of(&[line("08", 1000, 77)]), None);
        // Established without an inode: no owner to trust.
        assert_eq!(uid_of(&[line("01", 0, 0)]), None);
        assert_eq!(uid_of(&[line("01", 1000, 77)]), Some(1000));
        // A line that does not qualify does not hide a later one that does.
        assert_eq!(
            uid_of(&[line("06", 0, 0), line("01", 4242, 78)]),
            Some(4242)
        );
        // A truncated line is no answer.
        let short = format!("{HEADER}0: {lo}:C350 {lo}:1F90 01 0:0 0:0 0 1000\n");
        assert_eq!(find_uid(&short, peer, local), None);
    }
}
