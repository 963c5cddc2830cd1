//! Which uid owns the other end of a loopback TCP connection, read from the
//! kernel's socket tables.
//!
//! The donor's relay serves only processes of its own user: for each
//! accepted connection it looks up the socket whose local address is the
//! connection's peer and whose remote address is our local end, and reads
//! the owner uid the kernel records for it.
//!
//! Only an ESTABLISHED socket with a non-zero inode names an owner. A client
//! that closed before the relay looked leaves a TIME_WAIT entry (also what
//! the kernel reports for an orphaned FIN_WAIT2) with inode 0 and uid 0: it
//! belongs to nobody, and a root donor must not read it as its own (issue 9).
//! A live client that half-closed first is refused too; rsync never does.
//!
//! The lookup asks the kernel first through `NETLINK_SOCK_DIAG` for exactly
//! that socket (about 7 µs, `netlink.rs`); reading `/proc/net/tcp`
//! walks the whole established-hash table and took 6 ms per connection even
//! on an idle test VM, more on a busy database host. The tables (`table.rs`)
//! stay as the fallback when netlink is unavailable, with the same rule. An
//! IPv4 client of a dual-stack listener appears in `tcp` while our side sees
//! an IPv4-mapped IPv6 address, so both sides are compared canonically.

mod netlink;
mod table;

use std::fs;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use table::{listening_inode, uid_in_table, TABLES};

/// `TCP_ESTABLISHED` in the kernel's state numbering (netlink and tables).
const TCP_ESTABLISHED: u8 = 1;

/// The uid owning the established socket whose local address is `peer` and
/// whose remote address is `local` (our accepted connection seen from the
/// other side). `Ok(None)` when no such socket is found: none at all, or
/// only what a closed client leaves behind (TIME_WAIT, an orphaned
/// FIN_WAIT2), or one in another state. A caller refuses the connection then.
pub fn uid_of_peer(peer: SocketAddr, local: SocketAddr) -> io::Result<Option<u32>> {
    if let Ok(Some(uid)) = netlink::uid_of(canonical(peer), canonical(local)) {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::table::{find_uid, parse_addr};
    use super::*;

    #[test]
    fn netlink_and_the_tables_agree_on_our_own_connection() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (_s, peer) = l.accept().unwrap();
        let local = l.local_addr().unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        let via_netlink = netlink::uid_of(peer, local).unwrap();
        let table = fs::read_to_string("/proc/net/tcp").unwrap();
        let via_table = find_uid(&table, peer, local);
        assert!(via_netlink.is_some(), "netlink found no socket");
        assert_eq!(via_netlink, via_table);
        // A 4-tuple nobody has: no answer, not a wrong one.
        let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(netlink::uid_of(nobody, local).unwrap(), None);
        // The kernel would answer this with the listener on `local`: refused.
        assert_eq!(netlink::uid_of(local, nobody).unwrap(), None);
    }

    /// Our uid, as the owner of our own /proc entry.
    fn our_uid() -> u32 {
        use std::os::unix::fs::MetadataExt;
        fs::metadata("/proc/self").unwrap().uid()
    }

    /// The text of the table holding `addr`'s family.
    fn table_for(addr: SocketAddr) -> String {
        let name = if addr.is_ipv4() { TABLES[0] } else { TABLES[1] };
        fs::read_to_string(name).unwrap()
    }

    /// The state field of the socket `src → dst` in the tables, if listed.
    fn state_of(src: SocketAddr, dst: SocketAddr) -> Option<String> {
        table_for(src).lines().skip(1).find_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let matches = parse_addr(f.get(1)?)? == canonical(src)
                && parse_addr(f.get(2)?)? == canonical(dst);
            matches.then(|| f[3].to_string())
        })
    }

    /// Polls the tables until the socket `src → dst` is in `state`.
    fn wait_for_state(src: SocketAddr, dst: SocketAddr, state: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while state_of(src, dst).as_deref() != Some(state) {
            assert!(
                std::time::Instant::now() < deadline,
                "{src} -> {dst} never reached state {state}: {:?}",
                state_of(src, dst)
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// A loopback connection whose client side is in TIME_WAIT: the client
    /// closes first, the server reads EOF and closes too. Returns the
    /// client's address and the listener's (the relay's view: peer, local).
    fn time_wait_pair(listen: &str) -> (SocketAddr, SocketAddr) {
        use std::io::Read;
        let l = std::net::TcpListener::bind(listen).unwrap();
        let local = l.local_addr().unwrap();
        let c = std::net::TcpStream::connect(local).unwrap();
        let (mut s, peer) = l.accept().unwrap();
        drop(c);
        assert_eq!(s.read(&mut [0u8; 1]).unwrap(), 0, "EOF from the client");
        drop(s);
        wait_for_state(peer, local, "06");
        (peer, local)
    }

    #[test]
    fn netlink_and_the_tables_give_our_uid_for_an_established_connection() {
        for listen in ["127.0.0.1:0", "[::1]:0"] {
            let l = std::net::TcpListener::bind(listen).unwrap();
            let local = l.local_addr().unwrap();
            let _c = std::net::TcpStream::connect(local).unwrap();
            let (_s, peer) = l.accept().unwrap();
            assert_eq!(state_of(peer, local).as_deref(), Some("01"));
            assert_eq!(netlink::uid_of(peer, local).unwrap(), Some(our_uid()));
            assert_eq!(
                find_uid(&table_for(peer), peer, local),
                Some(our_uid()),
                "{listen}"
            );
        }
    }

    /// Issue 9: a TIME_WAIT socket has inode 0 and is reported with uid 0,
    /// which a root donor took for its own. Neither path may name an owner.
    #[test]
    fn a_peer_in_time_wait_has_no_owner_through_netlink_or_the_tables() {
        for listen in ["127.0.0.1:0", "[::1]:0"] {
            let (peer, local) = time_wait_pair(listen);
            assert_eq!(
                netlink::uid_of(peer, local).unwrap(),
                None,
                "{listen} netlink"
            );
            assert_eq!(
                find_uid(&table_for(peer), peer, local),
                None,
                "{listen} table"
            );
        }
    }

    /// The client shut its side down, then closed, while the server keeps
    /// its end open: the kernel keeps the client's end as a bare FIN_WAIT2
    /// entry (inode 0, uid 0), which is nobody's either.
    #[test]
    fn a_closed_peer_in_fin_wait2_has_no_owner() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = l.local_addr().unwrap();
        let c = std::net::TcpStream::connect(local).unwrap();
        let (_s, peer) = l.accept().unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        wait_for_state(peer, local, "05");
        // Still ours while the client holds it, but not established.
        assert_eq!(netlink::uid_of(peer, local).unwrap(), None, "half-closed");
        drop(c);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !table_for(peer).lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 9
                && parse_addr(f[1]) == Some(peer)
                && parse_addr(f[2]) == Some(local)
                && f[9] == "0"
        }) {
            assert!(std::time::Instant::now() < deadline, "never orphaned");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(netlink::uid_of(peer, local).unwrap(), None, "netlink");
        assert_eq!(find_uid(&table_for(peer), peer, local), None, "table");
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
}
