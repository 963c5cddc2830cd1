//! The owner lookup through `NETLINK_SOCK_DIAG`: one `SOCK_DIAG_BY_FAMILY`
//! request for one exact TCP 4-tuple, and the checks a reply must pass
//! before its uid is believed.
//!
//! The messages are laid out and parsed by the rust-netlink crates
//! (`netlink-packet-sock-diag` 0.5 over `netlink-packet-core` 0.9) instead
//! of byte offsets of our own; the socket is socket2's, so `netlink-sys` is
//! not needed. What the crates cannot know stays here: the reply must name
//! exactly the 4-tuple asked for (the kernel answers a miss with a
//! listener), and only ESTABLISHED with a non-zero inode is an owner (the
//! kernel ignores the state mask for an exact lookup, and a TIME_WAIT entry
//! reports uid 0). Measured against the hand-written codec it replaced, in
//! one release binary with the calls interleaved: 7.3 µs against 7.0 µs
//! median per lookup (socket, send, receive, parse; the parse itself went
//! from 2 ns to about 200 ns, allocating), noise next to a TLS handshake.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponseHeader, SocketId, StateFlags,
};
use netlink_packet_sock_diag::SockDiagMessage;
use socket2::{Domain, Protocol, Socket, Type};

use super::TCP_ESTABLISHED;

/// `INET_DIAG_NOCOOKIE` in both words: match whatever socket has the tuple.
const NO_COOKIE: [u8; 8] = [0xff; 8];

/// The request for the socket `src → dst` (its own view: `src` is local),
/// in state ESTABLISHED. The kernel's one-socket lookup ignores the state
/// mask (Linux 6.18 returns a TIME_WAIT entry for this request all the
/// same), so [`owner`] checks the state itself.
pub(super) fn request(src: SocketAddr, dst: SocketAddr) -> Option<InetRequest> {
    let family = match (src.ip(), dst.ip()) {
        (IpAddr::V4(_), IpAddr::V4(_)) => AF_INET,
        (IpAddr::V6(_), IpAddr::V6(_)) => AF_INET6,
        _ => return None,
    };
    Some(InetRequest {
        family,
        protocol: IPPROTO_TCP,
        extensions: ExtensionFlags::empty(),
        states: StateFlags::ESTABLISHED,
        socket_id: SocketId {
            source_port: src.port(),
            destination_port: dst.port(),
            source_address: src.ip(),
            destination_address: dst.ip(),
            interface_id: 0,
            cookie: NO_COOKIE,
        },
    })
}

/// The bytes of `request` as one netlink message.
fn encode(request: &InetRequest) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    header.sequence_number = 1;
    let payload = NetlinkPayload::InnerMessage(SockDiagMessage::InetRequest(request.clone()));
    let mut msg = NetlinkMessage::new(header, payload);
    msg.finalize();
    // Sized from the message itself, which is all `serialize` asks.
    let mut bytes = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut bytes);
    bytes
}

/// The uid in a reply to `request`, `None` for "no such socket" (an error
/// message), a reply that does not parse, or one [`owner`] refuses.
pub(super) fn parse_reply(request: &InetRequest, reply: &[u8]) -> Option<u32> {
    let msg = NetlinkMessage::<SockDiagMessage>::deserialize(reply).ok()?;
    match msg.payload {
        NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
            owner(request, &response.header)
        }
        _ => None,
    }
}

/// The uid of the socket a reply describes, if it is the one asked for and
/// owned.
///
/// The kernel's exact lookup falls back to a *listener* on the source
/// address when no connection matches, so the reply only counts when it
/// names exactly the socket asked for. It also finds TIME_WAIT entries
/// (what is left of a client that closed, also reported for an orphaned
/// FIN_WAIT2): those have inode 0 and are reported with uid 0, which is no
/// owner at all, so only ESTABLISHED with a non-zero inode counts.
fn owner(request: &InetRequest, reply: &InetResponseHeader) -> Option<u32> {
    let (want, got) = (&request.socket_id, &reply.socket_id);
    let same_socket = reply.family == request.family
        && got.source_port == want.source_port
        && got.destination_port == want.destination_port
        && got.source_address == want.source_address
        && got.destination_address == want.destination_address;
    (same_socket && reply.state == TCP_ESTABLISHED && reply.inode != 0).then_some(reply.uid)
}

/// Asks the kernel who owns the established socket whose local end is
/// `peer` and whose remote end is `local`.
pub(super) fn uid_of(peer: SocketAddr, local: SocketAddr) -> io::Result<Option<u32>> {
    let Some(req) = request(peer, local) else {
        return Ok(None);
    };
    let mut sock = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::DGRAM,
        Some(Protocol::from(libc::NETLINK_SOCK_DIAG)),
    )?;
    sock.set_read_timeout(Some(Duration::from_secs(1)))?;
    sock.send(&encode(&req))?;
    let mut reply = [0u8; 512];
    let n = sock.read(&mut reply)?;
    Ok(reply.get(..n).and_then(|r| parse_reply(&req, r)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use netlink_packet_sock_diag::inet::InetResponse;

    /// A reply to `req` as the kernel sends it, for `state`, `uid`, `inode`.
    fn reply(req: &InetRequest, state: u8, uid: u32, inode: u32) -> Vec<u8> {
        let header = InetResponseHeader {
            family: req.family,
            state,
            timer: None,
            socket_id: req.socket_id.clone(),
            recv_queue: 0,
            send_queue: 0,
            uid,
            inode,
        };
        let response = InetResponse {
            header,
            nlas: Default::default(),
        };
        let payload =
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(Box::new(response)));
        let mut msg = NetlinkMessage::new(NetlinkHeader::default(), payload);
        msg.finalize();
        let mut bytes = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut bytes);
        bytes
    }

    #[test]
    fn only_an_established_socket_with_an_inode_names_an_owner() {
        let req = request(
            "127.0.0.1:50000".parse().unwrap(),
            "127.0.0.1:8080".parse().unwrap(),
        )
        .unwrap();
        // The request asks for ESTABLISHED only, for any cookie.
        let bytes = encode(&req);
        assert_eq!(bytes[16 + 4..16 + 8], 2u32.to_ne_bytes());
        assert_eq!(bytes[bytes.len() - 8..], NO_COOKIE);
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
        let whole = reply(&req, 1, 1000, 77);
        assert_eq!(parse_reply(&req, &whole[..whole.len() - 4]), None);
    }
}
