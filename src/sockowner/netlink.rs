//! The owner lookup through `NETLINK_SOCK_DIAG`: one `SOCK_DIAG_BY_FAMILY`
//! request for one exact TCP 4-tuple, built from plain bytes so no `unsafe`
//! is needed, and the checks a reply must pass before its uid is believed.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::TCP_ESTABLISHED;

const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDR: usize = 16;

/// `inet_diag_msg` after the netlink header: family, state, timer, retrans,
/// sockid (48 bytes), expires, rqueue, wqueue, uid, inode.
const STATE_OFFSET: usize = NLMSG_HDR + 1;
const UID_OFFSET: usize = NLMSG_HDR + 4 + 48 + 12;
const INODE_OFFSET: usize = UID_OFFSET + 4;

/// Ports and addresses of the socket id, in the request and in a reply.
const REQUEST_ID: std::ops::Range<usize> = NLMSG_HDR + 8..NLMSG_HDR + 8 + 36;
const REPLY_ID: std::ops::Range<usize> = NLMSG_HDR + 4..NLMSG_HDR + 4 + 36;

/// The request for the socket `src → dst` (its own view: `src` is local),
/// in state ESTABLISHED. The kernel's one-socket lookup ignores the state
/// mask (Linux 6.18 returns a TIME_WAIT entry for this request all the
/// same), so [`parse_reply`] checks the state itself.
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
    msg.extend_from_slice(&(1u32 << TCP_ESTABLISHED).to_ne_bytes());
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

/// The uid in a reply to `request`, `None` for "no such socket", a socket
/// that is not an owned, established one, or an unexpected reply.
///
/// The kernel's exact lookup falls back to a *listener* on the source
/// address when no connection matches, so the reply only counts when it
/// names exactly the socket asked for. It also finds TIME_WAIT entries
/// (what is left of a client that closed, also reported for an orphaned
/// FIN_WAIT2): those have inode 0 and are reported with uid 0, which is no
/// owner at all, so only ESTABLISHED with a non-zero inode counts.
pub(super) fn parse_reply(request: &[u8], reply: &[u8]) -> Option<u32> {
    let kind = u16::from_ne_bytes(reply.get(4..6)?.try_into().ok()?);
    if kind == NLMSG_ERROR || kind == NLMSG_DONE || kind != SOCK_DIAG_BY_FAMILY {
        return None;
    }
    if reply.get(REPLY_ID)? != request.get(REQUEST_ID)? {
        return None;
    }
    if *reply.get(STATE_OFFSET)? != TCP_ESTABLISHED {
        return None;
    }
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(reply.get(at..at + 4)?.try_into().ok()?))
    };
    if word(INODE_OFFSET)? == 0 {
        return None;
    }
    word(UID_OFFSET)
}

/// Asks the kernel who owns the established socket whose local end is
/// `peer` and whose remote end is `local`.
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A reply to `req` as the kernel lays it out, for `state`, `uid`, `inode`.
    fn reply(req: &[u8], state: u8, uid: u32, inode: u32) -> Vec<u8> {
        let mut r = vec![0u8; INODE_OFFSET + 4];
        let len = r.len() as u32;
        r[..4].copy_from_slice(&len.to_ne_bytes());
        r[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        r[NLMSG_HDR] = libc::AF_INET as u8;
        r[STATE_OFFSET] = state;
        r[REPLY_ID].copy_from_slice(&req[REQUEST_ID]);
        r[UID_OFFSET..UID_OFFSET + 4].copy_from_slice(&uid.to_ne_bytes());
        r[INODE_OFFSET..INODE_OFFSET + 4].copy_from_slice(&inode.to_ne_bytes());
        r
    }

    #[test]
    fn only_an_established_socket_with_an_inode_names_an_owner() {
        let req = request(
            "127.0.0.1:50000".parse().unwrap(),
            "127.0.0.1:8080".parse().unwrap(),
        )
        .unwrap();
        // The request asks for ESTABLISHED only.
        assert_eq!(req[NLMSG_HDR + 4..NLMSG_HDR + 8], 2u32.to_ne_bytes());
        assert_eq!(parse_reply(&req, &reply(&req, 1, 1000, 77)), Some(1000));
        // TIME_WAIT (6) and an orphaned FIN_WAIT2 (5), as the kernel reports them.
        assert_eq!(parse_reply(&req, &reply(&req, 6, 0, 0)), None);
        assert_eq!(parse_reply(&req, &reply(&req, 5, 0, 0)), None);
        // Not established, even with an owner; established without an inode.
        assert_eq!(parse_reply(&req, &reply(&req, 5, 1000, 77)), None);
        assert_eq!(parse_reply(&req, &reply(&req, 1, 0, 0)), None);
        // Another socket (the listener fallback), a truncated reply.
        let other = request(
            "127.0.0.1:8080".parse().unwrap(),
            "0.0.0.0:0".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(parse_reply(&req, &reply(&other, 1, 1000, 77)), None);
        assert_eq!(
            parse_reply(&req, &reply(&req, 1, 1000, 77)[..UID_OFFSET + 4]),
            None
        );
    }
}
