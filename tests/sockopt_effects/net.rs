//! Sockets the sockopt tests control: a port that refuses, a listener that
//! accepts nothing more (connects hang), and listeners that accept and drop
//! each connection at once, counting them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

fn unlistened(addr: SocketAddr) -> std::io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    sock.bind(&addr.into())?;
    Ok(sock)
}

/// A port bound but not listening: every connect to it is refused, and no
/// other process can take it meanwhile.
pub struct ClosedPort {
    _sock: Socket,
    addr: SocketAddr,
}

impl fmt::Display for ClosedPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.addr.fmt(f)
    }
}

pub fn closed_port(ip: IpAddr) -> ClosedPort {
    let sock = unlistened(SocketAddr::new(ip, 0)).unwrap();
    let addr = sock.local_addr().unwrap().as_socket().unwrap();
    ClosedPort { _sock: sock, addr }
}

/// A listener with a backlog of 0 already holding one connection it never
/// accepts: the kernel drops further SYNs, so a connect to it hangs.
pub struct Blackhole {
    _listener: Socket,
    _filler: TcpStream,
    addr: SocketAddr,
}

impl Blackhole {
    pub fn new() -> Blackhole {
        let listener = unlistened((Ipv4Addr::LOCALHOST, 0).into()).unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        let filler = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
        Blackhole {
            _listener: listener,
            _filler: filler,
            addr,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A listener that accepts each connection and closes it at once (a joiner
/// dropping the handshake without a verdict), counting them.
pub struct AcceptAndDrop {
    addr: SocketAddr,
    count: Arc<AtomicUsize>,
    accepted: Receiver<usize>,
    stop: Arc<AtomicBool>,
}

impl AcceptAndDrop {
    pub fn new(ip: IpAddr) -> AcceptAndDrop {
        AcceptAndDrop::on(TcpListener::bind((ip, 0)).unwrap())
    }

    fn on(listener: TcpListener) -> AcceptAndDrop {
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, accepted) = mpsc::channel();
        let (c, s) = (count.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                // Counted before the close, which is what the donor sees.
                let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                drop(conn);
                if tx.send(n).is_err() {
                    return;
                }
            }
        });
        AcceptAndDrop {
            addr,
            count,
            accepted,
            stop,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits until `n` connections were accepted, or panics.
    pub fn wait_for(&self, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.count() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.accepted.recv_timeout(left).is_err() {
                panic!(
                    "{}: {} connection(s) within {timeout:?}, expected {n}",
                    self.addr,
                    self.count()
                );
            }
        }
    }
}

impl Drop for AcceptAndDrop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _wake = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Accept-and-drop listeners on `127.0.0.1:P` and `[::1]:P`, same port.
pub fn dual_accept_and_drop() -> (AcceptAndDrop, AcceptAndDrop) {
    for _ in 0..50 {
        let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = v4.local_addr().unwrap().port();
        if let Ok(v6) = TcpListener::bind((Ipv6Addr::LOCALHOST, port)) {
            return (AcceptAndDrop::on(v4), AcceptAndDrop::on(v6));
        }
    }
    panic!("no port free on both 127.0.0.1 and ::1 in 50 tries");
}

/// A listener on `127.0.0.1:P` that accepts nothing (connections stay
/// queued), and `[::1]:P` bound without listening (connects refused).
pub fn v4_listener_v6_closed() -> (TcpListener, Socket) {
    for _ in 0..50 {
        let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = v4.local_addr().unwrap().port();
        if let Ok(v6) = unlistened((Ipv6Addr::LOCALHOST, port).into()) {
            return (v4, v6);
        }
    }
    panic!("no port free on both 127.0.0.1 and ::1 in 50 tries");
}

/// True when no connection waits in `listener`'s accept queue.
pub fn queue_is_empty(listener: &TcpListener) -> bool {
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
        Err(e) => panic!("accept: {e}"),
    }
}
