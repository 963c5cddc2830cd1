//! Loopback plumbing: free ports, waiting for a listener, and an echo service
//! that proves bytes cross a tunnel intact in both directions.

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use crate::poll;

/// Every port [`free_port_on`] handed out in this test process.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback port that was free a moment ago: bind `127.0.0.1:0`, read it,
/// close. Never the same port twice in one test process.
///
/// Only for programs that cannot bind port 0 and report it (an rsync daemon,
/// a method told its address, a node of a cluster); a test's own listeners
/// bind port 0.
pub fn free_port() -> u16 {
    free_port_on(&[])
}

/// A port that is free on every address in `on` right now, and on
/// 127.0.0.1 (which `localhost` resolves to here: the socat peer also binds
/// localhost:PORT).
///
/// The kernel picks it (port 0); it is released again, so there is a small race with other
/// processes, but never with another caller in this test process.
pub fn free_port_on(on: &[Ipv4Addr]) -> u16 {
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

/// True if `127.0.0.1:port` can be bound (nobody listens on it).
pub fn port_is_free(port: u16) -> bool {
    is_bindable(Ipv4Addr::LOCALHOST, port).is_ok()
}

/// True once something listens on `127.0.0.1:port`, read from
/// `/proc/net/tcp` so that looking does not itself connect (a forking socat
/// would serve the probe).
pub fn listening(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let want = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[1] == want && f[3] == "0A"
    })
}

/// Connects to `addr` until it accepts or `timeout` passes (then panics with `what`).
pub fn wait_listening(addr: SocketAddr, timeout: Duration, what: &str) {
    let mut last = None;
    let accepted = poll::until(timeout, || {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(_probe) => true,
            Err(e) => {
                last = Some(e);
                false
            }
        }
    });
    if !accepted {
        let e = last.map_or_else(String::new, |e| e.to_string());
        panic!("{what}: {addr} not listening after {timeout:?}: {e}")
    }
}

/// A TCP service on `127.0.0.1:0` that echoes every connection until EOF,
/// then half-closes its side.
pub struct Echo {
    addr: SocketAddr,
}

impl Echo {
    /// Starts the service on a background thread (it lives until the test process ends).
    pub fn start() -> Echo {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind echo listener");
        let addr = listener.local_addr().expect("echo addr");
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match conn.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => {
                                if conn.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                            Err(e) if e.kind() == ErrorKind::Interrupted => {}
                            Err(_) => return,
                        }
                    }
                    let _ignored = conn.shutdown(Shutdown::Write);
                });
            }
        });
        Echo { addr }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Sends `data` to `addr` while reading the echo back, checks the echo is
/// identical, then half-closes and checks the far end closes too (EOF
/// crossed the tunnel both ways). The error says what went wrong where.
pub fn echo_through(addr: SocketAddr, data: &[u8], timeout: Duration) -> Result<(), String> {
    let mut conn = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    conn.set_read_timeout(Some(timeout))
        .map_err(|e| format!("{addr}: set read timeout: {e}"))?;
    let mut writer = conn
        .try_clone()
        .map_err(|e| format!("{addr}: clone: {e}"))?;
    let outgoing = data.to_vec();
    let sender = thread::spawn(move || writer.write_all(&outgoing));

    let mut echoed = vec![0u8; data.len()];
    let mut got = 0;
    let mut failure = None;
    while got < data.len() {
        match conn.read(&mut echoed[got..]) {
            Ok(0) => {
                failure = Some(format!(
                    "{addr}: stream closed after {got} of {} echoed bytes",
                    data.len()
                ));
                break;
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                failure = Some(format!(
                    "{addr}: reading the echo after {got} of {} bytes: {e}",
                    data.len()
                ));
                break;
            }
        }
    }
    if let Some(failure) = failure {
        // Unblock the sender (the tunnel may have stopped reading) before joining it.
        let _closed = conn.shutdown(Shutdown::Both);
        let _sent = sender.join();
        return Err(failure);
    }
    match sender.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("{addr}: sending: {e}")),
        Err(_) => return Err(format!("{addr}: sender thread panicked")),
    }
    if echoed != data {
        return Err(format!(
            "{addr}: echoed bytes differ from the sent ones (first difference at {:?})",
            echoed.iter().zip(data).position(|(a, b)| a != b)
        ));
    }

    conn.shutdown(Shutdown::Write)
        .map_err(|e| format!("{addr}: half-close: {e}"))?;
    let mut rest = Vec::new();
    match conn.read_to_end(&mut rest) {
        Ok(_) if rest.is_empty() => Ok(()),
        Ok(_) => Err(format!("{addr}: {} extra bytes after the echo", rest.len())),
        Err(e) => Err(format!("{addr}: no EOF after half-close: {e}")),
    }
}
