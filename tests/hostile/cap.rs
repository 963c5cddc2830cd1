//! The joiner's connection cap: a silent flood over the cap does not lock
//! the donor out, and a donor retries a connection dropped before the
//! handshake.

use super::*;

/// Open connections of a client (the test) that have been closed by the peer.
fn closed_by_peer(streams: &[std::net::TcpStream]) -> usize {
    use std::io::{ErrorKind, Read};
    streams
        .iter()
        .filter(|s| {
            s.set_nonblocking(true).unwrap();
            let mut b = [0u8; 1];
            let r = (&**s).read(&mut b);
            s.set_nonblocking(false).unwrap();
            !matches!(r, Err(ref e) if e.kind() == ErrorKind::WouldBlock)
        })
        .count()
}

/// Twice as many silent connections as the joiner's handshake table holds
/// (4 × sst-max-connections), held open for the whole transfer with a long
/// handshake timeout: the table keeps the newest, the donor's connections
/// evict the oldest, and the SST completes. Before the two-stage admission
/// the cap counted pending handshakes and this locked the donor out.
#[test]
fn silent_flood_over_the_cap_does_not_lock_out_the_donor() {
    const CAP: usize = 4;
    const TABLE: usize = 4 * CAP;
    let mut pair = Pair::new();
    pair.joiner.set_sst("sst-max-connections", &CAP.to_string());
    pair.joiner.set_sst("sst-handshake-timeout", "50");
    let plan = Plan::default();
    let datadir = pair.joiner.datadir.clone();
    let mut silent = Vec::new();
    let mut held_by_joiner = 0;
    let mut evicted_before = 0;
    let started = Instant::now();
    let out = pair::run_with(&pair, &plan, |port| {
        let pid = procs::method_pid(&datadir).expect("joiner method process");
        // Listener, the runtime's signal socketpair...
        let baseline = listeners::socket_inodes(pid).len();
        for _ in 0..2 * TABLE {
            silent.push(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
        }
        // The baseline plus the table's worth of pending handshakes.
        let _ = poll::until(STEP, || {
            listeners::socket_inodes(pid).len() == baseline + TABLE
                && closed_by_peer(&silent) == TABLE
        });
        held_by_joiner = listeners::socket_inodes(pid).len() - baseline;
        evicted_before = closed_by_peer(&silent);
    });
    let transfer = started.elapsed();
    let donor_to_joiner_exit = out.joiner.exited.unwrap() - out.donor.exited.unwrap();
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
    let closed_after = closed_by_peer(&silent);
    let left = procs::touching(&pair.world.root).len();
    figures::record(&Figure {
        scenario: format!(
            "silent flood: {} connections vs sst-max-connections {CAP}",
            2 * TABLE
        ),
        time_to_end: Some(transfer),
        exit: exits(&out),
        procs_left: Some(left),
        notes: format!(
            "joiner held {held_by_joiner} pending (table {TABLE}), evicted {evicted_before} before the donor, \
             {closed_after} closed at the end; joiner exit {:.2}s after the donor's",
            donor_to_joiner_exit.as_secs_f64()
        ),
        ..Figure::default()
    });
    assert_eq!(
        (held_by_joiner, evicted_before),
        (TABLE, TABLE),
        "the joiner must hold the newest {TABLE} handshakes and drop the oldest"
    );
    assert_eq!(closed_after, 2 * TABLE, "silent connections left open");
    assert!(
        donor_to_joiner_exit < Duration::from_secs(10),
        "pending handshakes delayed the joiner's exit by {donor_to_joiner_exit:?}"
    );
    assert_eq!(left, 0);
}

/// The joiner side drops the donor's first connections before any TLS
/// byte (what a joiner whose handshake table overflowed does to an evicted
/// donor): the donor retries within `sst-connect-retry`, says so, and the
/// SST completes. Before the retry the donor's preflight failed (exit 1).
#[test]
fn donor_retries_a_connection_dropped_before_the_handshake() {
    const DROPPED: usize = 3;
    let pair = Pair::new();
    let mut front = hostile::DroppingFront::bind();
    let front_port = front.port;
    let plan = Plan {
        donor_edit: Box::new(move |cmd| {
            cmd.set(
                "--address",
                fake_mariadbd::command::Value::Quoted(format!(
                    "127.0.0.1:{front_port}/rsync_tunnel_sst"
                )),
            );
        }),
        ..Plan::default()
    };
    let started = Instant::now();
    let out = pair::run_with(&pair, &plan, |port| front.start(port, DROPPED));
    let elapsed = started.elapsed();
    let accepted = front.stop();
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
    let log = out.donor.log_text();
    let retries = log
        .lines()
        .filter(|l| l.contains("before the handshake completed, retrying"))
        .count();
    let left = procs::touching(&pair.world.root).len();
    figures::record(&Figure {
        scenario: format!("joiner drops the donor's first {DROPPED} connections"),
        time_to_end: Some(elapsed),
        exit: exits(&out),
        procs_left: Some(left),
        notes: format!(
            "{retries} retries logged by the donor, {accepted} connections reached the front"
        ),
        ..Figure::default()
    });
    assert_eq!(
        retries, DROPPED,
        "the donor must log one retry per dropped connection\n{log}"
    );
    assert!(accepted > DROPPED);
    assert_eq!(left, 0);
}
