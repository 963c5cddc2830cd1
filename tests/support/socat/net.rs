//! Loopback plumbing for the interop tests: free ports, polling a listener
//! until it accepts, and an echo service that proves bytes cross a tunnel
//! intact in both directions.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// A port that was free a moment ago: bind `127.0.0.1:0`, read it, close.
///
/// Only for programs that cannot bind port 0 and report it (the rsync daemon).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Connects to `addr` until it accepts or `timeout` passes (then panics with `what`).
///
/// Each attempt on loopback fails at once while nothing listens; the pause
/// between attempts grows from 1 ms so the poll does not spin a shared CPU.
pub fn wait_listening(addr: SocketAddr, timeout: Duration, what: &str) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Ok(_probe) => return,
            Err(e) if Instant::now() >= deadline => {
                panic!("{what}: {addr} not listening after {timeout:?}: {e}")
            }
            Err(_) => {
                thread::sleep(pause); // poll interval, bounded by the deadline above
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
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

/// `len` deterministic pseudo-random bytes (xorshift64*), incompressible enough
/// that a tunnel cannot pass them by luck.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}
