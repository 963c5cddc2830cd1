//! `sockowner::uid_of_peer` against real loopback connections: from this
//! process (our uid, IPv4, IPv6 and IPv4-mapped on a dual-stack listener),
//! from a process running as another uid (`setpriv`, uid 65534), and from
//! clients already gone (TIME_WAIT): those have no owner, and the donor's
//! relay (the real binary) refuses such a connection instead of relaying it.

#![allow(clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

use sst_tunnel::sockowner::uid_of_peer;
use testkit::poll::{must, Probe};
use testkit::procs::{our_uid, Signal};
use testkit::socat::gen_certs::GenCerts;
use testkit::socat::{tunnel_joiner, tunnel_relay};

const SHORT: Duration = Duration::from_secs(20);

fn check_self(listen: &str, connect_ip: &str) {
    let l = TcpListener::bind(listen).expect("bind");
    let port = l.local_addr().expect("addr").port();
    let target: SocketAddr = format!("{connect_ip}:{port}").parse().expect("addr");
    let _c = TcpStream::connect(target).expect("connect");
    let (s, peer) = l.accept().expect("accept");
    let local = s.local_addr().expect("local");
    assert_eq!(
        uid_of_peer(peer, local).expect("tables"),
        Some(our_uid()),
        "peer {peer} local {local}"
    );
    // Our own accepted socket is not "the peer's" socket.
    assert_eq!(
        uid_of_peer(local, "127.0.0.1:1".parse().expect("addr")).expect("tables"),
        None
    );
}

#[test]
fn connection_from_this_process_is_ours_ipv4() {
    check_self("127.0.0.1:0", "127.0.0.1");
}

#[test]
fn connection_from_this_process_is_ours_ipv6() {
    check_self("[::1]:0", "[::1]");
}

#[test]
fn ipv4_client_of_a_dual_stack_listener_is_found() {
    check_self("[::]:0", "127.0.0.1");
}

#[test]
fn unknown_connection_is_none() {
    let a: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let b: SocketAddr = "127.0.0.1:7".parse().expect("addr");
    assert_eq!(uid_of_peer(a, b).expect("tables"), None);
}

#[test]
fn connection_from_another_uid_reports_that_uid() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{port}; read -r _ <&3");
    let mut child = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "bash",
            "-c",
        ])
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("setpriv not runnable (apt-get install util-linux)");
    let (mut s, peer) = l.accept().expect("accept");
    let local = s.local_addr().expect("local");
    let uid = uid_of_peer(peer, local).expect("tables");
    s.write_all(b"bye\n").expect("write");
    drop(s);
    let status = child.wait().expect("wait");
    assert_eq!(uid, Some(65534), "peer {peer}");
    assert!(status.success(), "setpriv child: {status}");
}

/// Polls `cond` until it holds; panics naming `what` after `SHORT`.
fn poll_until<T>(what: &str, mut cond: impl FnMut() -> Option<T>) -> T {
    must(what, SHORT, || cond().map_or(Probe::Pending, Probe::Ready))
}

/// The kernel's table lines (`/proc/net/tcp` and `tcp6`) as fields.
fn table_lines() -> Vec<Vec<String>> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|t| std::fs::read_to_string(t).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .map(|l| l.split_whitespace().map(str::to_owned).collect())
                .collect::<Vec<Vec<String>>>()
        })
        .collect()
}

/// The port of a `HEX:PORT` table field.
fn port_of(field: &str) -> Option<u16> {
    u16::from_str_radix(field.rsplit_once(':')?.1, 16).ok()
}

/// The state field of the socket with local port `src` and remote port `dst`.
fn state_of(src: u16, dst: u16) -> Option<String> {
    table_lines().into_iter().find_map(|f| {
        (port_of(f.get(1)?)? == src && port_of(f.get(2)?)? == dst).then(|| f[3].clone())
    })
}

/// A loopback connection whose client end is in TIME_WAIT (the client
/// closed first, then the server): returns (client, server) addresses.
fn time_wait(listen: &str, connect_ip: &str) -> (SocketAddr, SocketAddr) {
    let l = TcpListener::bind(listen).expect("bind");
    let port = l.local_addr().expect("addr").port();
    let target: SocketAddr = format!("{connect_ip}:{port}").parse().expect("addr");
    let c = TcpStream::connect(target).expect("connect");
    let (mut s, peer) = l.accept().expect("accept");
    let local = s.local_addr().expect("local");
    drop(c);
    assert_eq!(
        s.read(&mut [0u8; 1]).expect("read"),
        0,
        "EOF from the client"
    );
    drop(s);
    poll_until(&format!("{peer} -> {local} in TIME_WAIT"), || {
        (state_of(peer.port(), local.port()).as_deref() == Some("06")).then_some(())
    });
    (peer, local)
}

/// Issue 9: a TIME_WAIT socket is reported with uid 0 and inode 0; it is
/// nobody's, so it has no owner (a root donor took it for its own).
#[test]
fn a_client_in_time_wait_has_no_owner() {
    for (listen, connect_ip) in [
        ("127.0.0.1:0", "127.0.0.1"),
        ("[::1]:0", "[::1]"),
        ("[::]:0", "127.0.0.1"),
    ] {
        let (peer, local) = time_wait(listen, connect_ip);
        assert_eq!(
            uid_of_peer(peer, local).expect("tables"),
            None,
            "{listen} <- {connect_ip}: peer {peer} local {local}"
        );
    }
}

/// A TCP service that reports each connection's bytes once it reaches EOF.
struct Sink {
    addr: SocketAddr,
    received: Receiver<Vec<u8>>,
}

impl Sink {
    fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind sink");
        let addr = listener.local_addr().expect("sink addr");
        let (tx, received) = mpsc::channel();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let tx = tx.clone();
                thread::spawn(move || {
                    let mut got = Vec::new();
                    let _eof = conn.read_to_end(&mut got);
                    let _gone = tx.send(got);
                });
            }
        });
        Sink { addr, received }
    }
}

/// The local port of a client socket connected to `port` that the kernel
/// keeps as a bare TIME_WAIT-style entry: no inode (no process holds it)
/// and uid 0 whoever opened it.
fn stale_client_of(port: u16) -> Option<u16> {
    table_lines().into_iter().find_map(|f| {
        (port_of(f.get(2)?)? == port && f.get(7)? == "0" && f.get(9)? == "0")
            .then(|| port_of(&f[1]))
            .flatten()
    })
}

/// Issue 9, end to end: with the relay stopped, a client of uid 65534
/// connects, writes, shuts its side down and closes (socat does exactly
/// that at EOF), so when the relay looks the client's socket is a bare
/// FIN_WAIT2 entry reported as uid 0. A root donor used to take that for
/// its own and relay the bytes to the joiner. The relay must refuse it with
/// a line naming the peer and the reason, and still serve a live client of
/// its own uid; the joiner's backend sees only that client's bytes.
#[test]
fn relay_refuses_a_connection_whose_client_is_gone_before_it_looks() {
    const STALE: &str = "stale-bytes-from-uid-65534";
    const LIVE: &[u8] = b"live-bytes-from-our-uid";
    let pki = GenCerts::generate();
    let sink = Sink::start();
    let forward = sink.addr.to_string();
    let (_joiner, jport) = tunnel_joiner(&pki, "joiner", &["--forward".as_ref(), forward.as_ref()]);
    let (mut relay, rport) = tunnel_relay(&pki, "donor", jport);

    relay.signal(Signal::STOP);
    let script = format!("printf {STALE} | socat -u - TCP:127.0.0.1:{rport}");
    let status = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "bash",
            "-c",
        ])
        .arg(&script)
        .stdin(Stdio::null())
        .status()
        .expect("setpriv not runnable (apt-get install util-linux)");
    let client = poll_until("the uid-65534 client's socket reported as uid 0", || {
        stale_client_of(rport)
    });
    relay.signal(Signal::CONT);
    assert!(status.success(), "uid-65534 client: {status}");

    let verdict = relay.stderr_line_matching(
        |l| l.contains("refused") || l.contains("connection opened") || l.contains("failed"),
        SHORT,
    );

    let mut live = TcpStream::connect(("127.0.0.1", rport)).expect("connect to the relay");
    live.write_all(LIVE).expect("write");
    // Half-close only once the relay has checked it: a half-closed client
    // is no longer ESTABLISHED, and the relay refuses those too.
    let live_peer = format!("peer={}", live.local_addr().expect("local"));
    relay.stderr_line_matching(
        |l| l.contains(&live_peer) && l.contains("connection opened"),
        SHORT,
    );
    live.shutdown(Shutdown::Write).expect("shutdown");
    // Everything the joiner's backend received, up to the live client's bytes.
    let mut backend = Vec::new();
    while !backend.iter().any(|b: &Vec<u8>| b == LIVE) {
        let got = sink.received.recv_timeout(SHORT).unwrap_or_else(|_| {
            panic!(
                "the live client's bytes never reached the joiner's backend; got {backend:?}\n{}",
                relay.stderr()
            )
        });
        backend.push(got);
    }
    let backend: Vec<String> = backend
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert!(
        verdict.contains("relay connection refused: no established socket")
            && verdict.contains("closed before the relay checked it")
            && verdict.contains(&format!("peer=127.0.0.1:{client}")),
        "the relay did not refuse the gone client 127.0.0.1:{client}: {verdict}\nthe joiner's backend received {backend:?}"
    );
    assert_eq!(
        backend,
        [String::from_utf8_lossy(LIVE)],
        "the joiner's backend received other bytes"
    );
}
