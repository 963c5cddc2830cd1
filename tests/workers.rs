//! Issue 12 item 3: connections are spread over one worker per CPU the
//! process may use, and each stays on its worker. Proved on the real binary
//! (`sst-tunnel joiner --forward` and `sst-tunnel donor --relay-only`, real
//! mutual TLS) under `taskset`: with CPUs 0 and 1, two connections open at
//! the same time are served by different workers on both sides (the
//! `worker=<i>` field of their `connection opened` lines); with CPU 0 alone
//! there is one worker and both land on it. Bytes through every connection
//! are checked; nothing is timed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use testkit::bytes::pattern;
use testkit::child::Proc;
use testkit::manual::ready_address;
use testkit::project::binary;
use testkit::socat::gen_certs::GenCerts;

/// Bound of every wait (generous: the machine is shared).
const STEP: Duration = Duration::from_secs(60);
/// Bytes each connection carries both ways.
const PAYLOAD: usize = 512 * 1024 + 3;

/// An echo service on loopback, one thread per connection, until the test ends.
fn echo_service() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut back = conn.try_clone().unwrap();
                // Ends at the client's half-close; then close our side.
                let _copied = std::io::copy(&mut conn, &mut back);
                let _closed = back.shutdown(Shutdown::Write);
            });
        }
    });
    addr
}

/// `sst-tunnel ARGS…` under `taskset -c CPUS`, logging at debug level.
fn tunnel(name: &str, cpus: &str, args: &[std::ffi::OsString]) -> Proc {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", cpus])
        .arg(binary())
        .args(args)
        .env("SST_TUNNEL_LOG", "debug");
    Proc::spawn(name, cmd)
}

/// The worker index in a log line's `worker=<i>` span field.
fn worker_of(line: &str) -> usize {
    let at = line
        .find("worker=")
        .unwrap_or_else(|| panic!("no worker= field in {line:?}"));
    let digits: String = line[at + "worker=".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("worker= without a number in {line:?}"))
}

/// Sends one byte through `conn` and reads it back: the connection is open
/// end to end (so both tunnels have logged it as opened).
fn ping(conn: &mut TcpStream, byte: u8) {
    conn.write_all(&[byte]).unwrap();
    let mut got = [0u8; 1];
    conn.read_exact(&mut got).unwrap();
    assert_eq!(got[0], byte, "the echo returned another byte");
}

/// Sends `PAYLOAD` pseudo-random bytes through `conn`, half-closes, and
/// checks that the same bytes come back.
fn exchange(mut conn: TcpStream, seed: u64) {
    let data = pattern(PAYLOAD, seed);
    let mut reader = conn.try_clone().unwrap();
    let expected = data.clone();
    let read = std::thread::spawn(move || {
        let mut got = Vec::new();
        reader.read_to_end(&mut got).unwrap();
        got
    });
    conn.write_all(&data).unwrap();
    conn.shutdown(Shutdown::Write).unwrap();
    let got = read.join().unwrap();
    assert_eq!(got.len(), expected.len(), "bytes lost through the tunnel");
    assert!(got == expected, "bytes corrupted through the tunnel");
}

/// Runs the tunnel pair on `cpus`, opens two connections that stay open
/// together, and returns the workers the joiner and the relay served them
/// on, and the worker counts each announced.
fn two_connections(cpus: &str) -> (Vec<usize>, Vec<usize>, String, String) {
    let pki = GenCerts::generate();
    let echo = echo_service();
    let mut args: Vec<std::ffi::OsString> = vec![
        "joiner".into(),
        "--address".into(),
        "127.0.0.1:0".into(),
        "--forward".into(),
        echo.into(),
    ];
    args.extend(pki.tunnel_args("joiner"));
    let mut joiner = tunnel("joiner", cpus, &args);
    let address = ready_address(&mut joiner, STEP);
    let mut args: Vec<std::ffi::OsString> = vec![
        "donor".into(),
        "--relay-only".into(),
        "--address".into(),
        address.into(),
    ];
    args.extend(pki.tunnel_args("donor"));
    let mut relay = tunnel("relay", cpus, &args);
    let line = relay.stdout_line(STEP);
    let entry = line
        .strip_prefix("relay ")
        .unwrap_or_else(|| panic!("relay printed {line:?}, not `relay ADDRESS`"))
        .to_string();

    let opened = |line: &str| line.contains("connection opened");
    let mut first = TcpStream::connect(&entry).unwrap();
    first.set_read_timeout(Some(STEP)).unwrap();
    ping(&mut first, b'a');
    let mut second = TcpStream::connect(&entry).unwrap();
    second.set_read_timeout(Some(STEP)).unwrap();
    ping(&mut second, b'b');
    // Both are open now; each side has logged both as opened.
    let joined: Vec<usize> = (0..2)
        .map(|_| worker_of(&joiner.stderr_line_matching(opened, STEP)))
        .collect();
    let relayed: Vec<usize> = (0..2)
        .map(|_| worker_of(&relay.stderr_line_matching(opened, STEP)))
        .collect();
    let a = std::thread::spawn(move || exchange(first, 1));
    exchange(second, 2);
    a.join().unwrap();
    let announced = |p: &Proc, what: &str| {
        p.stderr()
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("{}: no `{what}` line:\n{}", p.name(), p.stderr()))
            .to_string()
    };
    let joiner_count = announced(&joiner, "joiner: connections spread over the workers");
    let relay_count = announced(&relay, "relay: connections spread over the workers");
    (joined, relayed, joiner_count, relay_count)
}

/// With two CPUs, two connections open at once are on different workers,
/// on the joiner and on the donor's relay.
#[test]
fn two_cpus_put_two_connections_on_two_workers() {
    let (mut joined, mut relayed, joiner_count, relay_count) = two_connections("0,1");
    assert!(joiner_count.contains("workers=2"), "{joiner_count}");
    assert!(relay_count.contains("workers=2"), "{relay_count}");
    joined.sort_unstable();
    relayed.sort_unstable();
    assert_eq!(joined, [0, 1], "joiner: both connections on one worker");
    assert_eq!(relayed, [0, 1], "relay: both connections on one worker");
}

/// With one CPU there is one worker, the accepting runtime: both
/// connections are served there (no hand-off).
#[test]
fn one_cpu_means_one_worker() {
    let (joined, relayed, joiner_count, relay_count) = two_connections("0");
    assert!(joiner_count.contains("workers=1"), "{joiner_count}");
    assert!(relay_count.contains("workers=1"), "{relay_count}");
    assert_eq!(joined, [0, 0]);
    assert_eq!(relayed, [0, 0]);
}
