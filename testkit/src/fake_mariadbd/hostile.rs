//! Clients that must get nothing out of the joiner: plaintext TCP (rsync's
//! greeting or random garbage), silent connections, bursts of connections
//! opened and closed at once, and TLS with a certificate from an untrusted
//! CA, an expired one, or none. Each returns the bytes it received, which
//! must never contain rsync's `@RSYNCD:` greeting (the daemon speaks first
//! on a served connection).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode};

use sst_tunnel::pki::LeafFiles;

/// How long a probe listens for an answer.
const LISTEN: Duration = Duration::from_secs(3);

fn read_some(r: &mut impl Read, within: Duration) -> Vec<u8> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(7).any(|w| w == b"@RSYNCD") {
                    break;
                }
            }
            // A read timeout only bounds one read; listen until the deadline.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    got
}

/// Connects in plaintext, speaks rsync's greeting, returns the open stream
/// (kept by the caller, to sit idle during a good transfer) and what came back.
pub fn plaintext(port: u16) -> (TcpStream, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let _ = s.write_all(b"@RSYNCD: 31.0\nrsync_tunnel_sst\n");
    let got = read_some(&mut s, LISTEN);
    (s, got)
}

/// Connects to `addr` in plaintext, speaks rsync's greeting and returns
/// what came back (nothing if the connect fails).
pub fn plaintext_at(addr: std::net::SocketAddr) -> Vec<u8> {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return Vec::new();
    };
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let _ = s.write_all(b"@RSYNCD: 31.0\nrsync_tunnel_sst\n");
    read_some(&mut s, LISTEN)
}

/// Connects in plaintext, sends `len` bytes of seeded garbage, and returns
/// what came back before the joiner closed (or `within` passed).
pub fn garbage(port: u16, seed: &str, len: usize, within: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    // The joiner may drop us before all of it is written: that is fine.
    let _ = s.write_all(&crate::bytes::named(seed, len));
    read_some(&mut s, within)
}

/// A connection that sends nothing.
pub struct Silent {
    /// When `connect` returned.
    pub opened: Instant,
    /// The joiner closed it after this long (`None`: still open at the deadline).
    pub held: Option<Duration>,
    /// Whatever it received (must be nothing from rsync).
    pub got: Vec<u8>,
}

/// Connects, sends nothing, and waits (up to `within`) for the joiner to
/// close the connection; measures how long it was kept open.
pub fn silent(port: u16, within: Duration) -> Silent {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let opened = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = opened + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let held = loop {
        if Instant::now() >= deadline {
            break None;
        }
        match s.read(&mut buf) {
            Ok(0) => break Some(opened.elapsed()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // A reset is a close too.
            Err(_) => break Some(opened.elapsed()),
        }
    };
    Silent { opened, held, got }
}

/// Opens `n` connections as fast as possible, holds them all, then closes
/// them all at once; returns how many connects succeeded.
pub fn burst(port: u16, n: usize) -> usize {
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            open.push(s);
        }
    }
    let opened = open.len();
    drop(open);
    opened
}

/// Connects with TLS presenting `cert` (or none), trusting anything, and
/// speaks rsync's greeting; returns what came back as application data.
pub fn tls(port: u16, cert: Option<&LeafFiles>) -> Vec<u8> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_verify(SslVerifyMode::NONE);
    if let Some(c) = cert {
        b.set_certificate_chain_file(&c.cert).unwrap();
        b.set_private_key_file(&c.key, SslFiletype::PEM).unwrap();
    }
    let connector = b.build();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let cfg = connector
        .configure()
        .unwrap()
        .verify_hostname(false)
        .use_server_name_indication(true);
    let mut s = match cfg.connect("127.0.0.1", tcp) {
        Ok(s) => s,
        // Rejected inside the handshake: nothing reached rsync.
        Err(_) => return Vec::new(),
    };
    let _ = s.write_all(b"@RSYNCD: 31.0\nrsync_tunnel_sst\n");
    read_some(&mut s, LISTEN)
}

/// Panics if `got` holds rsync's greeting.
pub fn assert_no_rsync(what: &str, got: &[u8]) {
    let text = String::from_utf8_lossy(got);
    assert!(
        !text.contains("@RSYNCD"),
        "{what} got bytes from rsync: {text:?}"
    );
}

/// A TCP front for the joiner that drops the first `drop_first` connections
/// on accept (before any TLS byte, like a joiner whose handshake table
/// overflowed) and forwards the rest to `127.0.0.1:<target>`.
pub struct DroppingFront {
    /// Where the donor is pointed.
    pub port: u16,
    listener: Option<std::net::TcpListener>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl DroppingFront {
    /// Binds the front on a fresh loopback port (started later).
    pub fn bind() -> DroppingFront {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        DroppingFront {
            port,
            listener: Some(listener),
            stop: Default::default(),
            thread: None,
        }
    }

    /// Starts serving towards the joiner on `target`.
    pub fn start(&mut self, target: u16, drop_first: usize) {
        use std::sync::atomic::Ordering;
        let listener = self.listener.take().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = self.stop.clone();
        self.thread = Some(std::thread::spawn(move || {
            let mut accepted = 0;
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        accepted += 1;
                        if accepted <= drop_first {
                            drop(client);
                            continue;
                        }
                        client.set_nonblocking(false).unwrap();
                        let server = TcpStream::connect(("127.0.0.1", target)).unwrap();
                        for (mut from, to) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap()),
                            (server, client),
                        ] {
                            std::thread::spawn(move || {
                                let mut to_w = &to;
                                let _ = std::io::copy(&mut from, &mut to_w);
                                let _ = to.shutdown(std::net::Shutdown::Write);
                            });
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => panic!("front accept: {e}"),
                }
            }
            accepted
        }));
    }

    /// Stops accepting; returns how many connections arrived.
    pub fn stop(&mut self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().map_or(0, |t| t.join().unwrap())
    }
}
