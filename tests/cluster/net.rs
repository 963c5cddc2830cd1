//! Free loopback ports for the nodes (bind port 0, release, never hand the same one out twice).

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::sync::Mutex;

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A port that is free on every address in `on` right now (and on 127.0.0.1, which
/// `localhost` resolves to here: the socat peer also binds localhost:PORT).
///
/// The kernel picks it (port 0); it is released again, so there is a small race with other
/// processes, but never with another node of this test binary.
pub fn free_port(on: &[Ipv4Addr]) -> u16 {
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    for _ in 0..100 {
        let probe = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
        let port = probe
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address for 127.0.0.1:0: {e}"))
            .port();
        if handed_out.contains(&port) {
            continue;
        }
        let also_free = on
            .iter()
            .filter(|ip| **ip != Ipv4Addr::LOCALHOST)
            .all(|ip| TcpListener::bind(SocketAddrV4::new(*ip, port)).is_ok());
        if also_free {
            handed_out.insert(port);
            return port;
        }
    }
    panic!("found no port free on {on:?} and 127.0.0.1 in 100 tries");
}

/// Whether `ip:port` can be bound (listened on) right now.
pub fn is_bindable(ip: Ipv4Addr, port: u16) -> Result<(), String> {
    TcpListener::bind(SocketAddrV4::new(ip, port))
        .map(drop)
        .map_err(|e| format!("{ip}:{port} is still taken: {e}"))
}
