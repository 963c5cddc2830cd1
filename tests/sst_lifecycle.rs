//! `wsrep_sst_rsync_tunnel` joiner lifecycle under a fake mariadbd: parent
//! death (idle and mid-transfer), signals, first-connection timeout
//! (sst-protocol.md §5.6, checklist; SPEC §5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use fake_mariadbd::datadir::UUID;
use fake_mariadbd::pair::{self, Pair, Plan};
use fake_mariadbd::run::{Sst, Stdin};
use fake_mariadbd::server;
use fake_mariadbd::{code, PARENT_DEATH, STEP};
use sst_tunnel::ExitCode;
use testkit::fake_mariadbd;
use testkit::poll;
use testkit::procs::{self, Signal};

/// Kills the joiner's parent and returns (exit code, time to exit).
fn kill_parent_and_time(pair: &mut Pair, joiner: &mut Sst) -> (i32, Duration) {
    assert_eq!(joiner.try_status(), None, "{}", joiner.diagnostics());
    pair.parent.kill();
    let killed = Instant::now();
    let deadline = killed + PARENT_DEATH;
    loop {
        if let Some(c) = joiner.try_status() {
            return (c, killed.elapsed());
        }
        if Instant::now() > deadline {
            panic!(
                "joiner still running {PARENT_DEATH:?} after its parent died\n{}",
                joiner.diagnostics()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn assert_parent_death_logged(pair: &Pair, joiner: &Sst) {
    let msg = format!(
        "Parent mysqld process (PID: {}) terminated unexpectedly.",
        pair.parent.pid()
    );
    assert!(
        joiner.log_text().contains(&msg),
        "log lacks {msg:?}\n{}",
        joiner.diagnostics()
    );
}

/// Parent dies while the joiner waits for a donor → exit 32 within 2 s,
/// the message, clean-up, port free, nothing left.
#[test]
fn parent_death_while_waiting_exits_32() {
    let mut pair = Pair::new();
    let plan = Plan::default();
    let (mut joiner, port, _) = pair::start_joiner(&pair, &plan);
    let (c, took) = kill_parent_and_time(&mut pair, &mut joiner);
    assert_eq!(c, code(ExitCode::BrokenPipe), "{}", joiner.diagnostics());
    assert!(took <= PARENT_DEATH, "took {took:?}");
    assert_parent_death_logged(&pair, &joiner);
    joiner.assert_stdout_closed(Duration::from_secs(2));
    assert_eq!(joiner.texts().len(), 1, "stdout {:?}", joiner.texts());
    pair::assert_joiner_cleaned(&pair, &joiner, port);
}

/// Parent dies while rsync children are receiving (transfer slowed with
/// sst-bwlimit) → exit 32 within 2 s and no rsync child survives.
#[test]
fn parent_death_mid_transfer_kills_rsync() {
    let mut pair = Pair::new();
    pair.donor.set_sst("sst-bwlimit", "256");
    let plan = Plan::default();
    let (mut joiner, port, addr) = pair::start_joiner(&pair, &plan);
    let cmd = pair::donor_command(&pair, &plan, &addr);
    let mut donor = Sst::spawn(&pair.world, &pair.donor, "donor", cmd, Stdin::DevNull);
    server::answer_first_flush(
        &mut donor,
        &pair.donor.datadir,
        &format!("{UUID}:7 3"),
        STEP,
    );
    let joiner_pid = joiner.method_pid();
    let rsync_running = poll::until(STEP, || {
        procs::descendants(joiner_pid)
            .into_iter()
            .any(|p| procs::argv(p).iter().any(|a| a == "--server"))
    });
    assert!(
        rsync_running,
        "no rsync --server under the joiner\n{}",
        joiner.diagnostics()
    );
    let (c, took) = kill_parent_and_time(&mut pair, &mut joiner);
    assert_eq!(c, code(ExitCode::BrokenPipe), "{}", joiner.diagnostics());
    assert!(took <= PARENT_DEATH, "took {took:?}");
    assert_parent_death_logged(&pair, &joiner);
    joiner.assert_stdout_closed(Duration::from_secs(2));
    let rsync_left: Vec<(u32, String)> = procs::touching(&pair.joiner.datadir)
        .into_iter()
        .filter(|(_, cmd)| cmd.contains("rsync"))
        .collect();
    assert!(
        rsync_left.is_empty(),
        "rsync left on the joiner: {rsync_left:?}"
    );
    // The donor notices the broken transfer and fails; it must not say done.
    let rest = donor.read_to_eof(fake_mariadbd::TRANSFER);
    let dc = donor.wait(STEP);
    assert_ne!(
        dc,
        0,
        "donor succeeded after the joiner died\n{}",
        donor.diagnostics()
    );
    assert!(
        !rest.iter().any(|l| l.starts_with("done")),
        "donor said done: {rest:?}"
    );
    pair::assert_joiner_cleaned(&pair, &joiner, port);
}

/// Sends `sig` to the waiting joiner (the binary, found under mariadbd's
/// `sh`) and expects `expected` with clean-up.
fn signal_joiner(sig: Signal, expected: ExitCode) {
    let pair = Pair::new();
    let plan = Plan::default();
    let (mut joiner, port, _) = pair::start_joiner(&pair, &plan);
    let pid = joiner.method_pid();
    procs::signal(pid, sig);
    let c = joiner.wait(STEP);
    assert_eq!(c, code(expected), "after {sig:?}\n{}", joiner.diagnostics());
    joiner.assert_stdout_closed(Duration::from_secs(2));
    assert_eq!(joiner.texts().len(), 1, "stdout {:?}", joiner.texts());
    pair::assert_joiner_cleaned(&pair, &joiner, port);
}

#[test]
fn sigterm_exits_3_with_cleanup() {
    signal_joiner(Signal::TERM, ExitCode::Interrupted);
}

#[test]
fn sigint_exits_3_with_cleanup() {
    signal_joiner(Signal::INT, ExitCode::Interrupted);
}

#[test]
fn sigquit_exits_3_with_cleanup() {
    signal_joiner(Signal::QUIT, ExitCode::Interrupted);
}

#[test]
fn sighup_exits_32_with_cleanup() {
    signal_joiner(Signal::HUP, ExitCode::BrokenPipe);
}

/// `sst-initial-timeout=1` and no donor → exit 110 after about a second,
/// naming the key, with clean-up.
#[test]
fn no_donor_within_initial_timeout_exits_110() {
    let mut pair = Pair::new();
    pair.joiner.set_sst("sst-initial-timeout", "1");
    let plan = Plan::default();
    let started = Instant::now();
    let (mut joiner, port, _) = pair::start_joiner(&pair, &plan);
    let c = joiner.wait(STEP);
    let took = started.elapsed();
    assert_eq!(c, code(ExitCode::TimedOut), "{}", joiner.diagnostics());
    assert!(took >= Duration::from_millis(900), "gave up after {took:?}");
    assert!(
        fake_mariadbd::log::find(&joiner.log_text(), &["sst-initial-timeout"]).is_some(),
        "log does not name sst-initial-timeout\n{}",
        joiner.diagnostics()
    );
    joiner.assert_stdout_closed(Duration::from_secs(2));
    pair::assert_joiner_cleaned(&pair, &joiner, port);
}

/// Checklist: `ready` is printed only once the listener accepts: a
/// connection made right after reading it is not refused.
#[test]
fn ready_is_printed_only_once_listening() {
    let mut pair = Pair::new();
    let plan = Plan::default();
    let (mut joiner, port, addr) = pair::start_joiner(&pair, &plan);
    assert_eq!(addr, format!("127.0.0.1:{port}/rsync_tunnel_sst"));
    let conn = std::net::TcpStream::connect(("127.0.0.1", port));
    assert!(
        conn.is_ok(),
        "connect right after ready: {conn:?}\n{}",
        joiner.diagnostics()
    );
    drop(conn);
    pair::end_joiner_by_parent_death(&mut pair, &mut joiner, port);
}

/// A previous transfer whose process is still ending (its pid file names a
/// live process) is waited for, as the stock scripts do, instead of failing
/// at once with 114: once it is gone the joiner goes on and the SST
/// completes. (Before, the joiner exited 114 immediately.)
#[test]
fn a_previous_transfer_still_ending_is_waited_for() {
    let pair = Pair::new();
    let plan = Plan::default();
    let mut previous = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap();
    let pid_file = pair.joiner.datadir.join("rsync_tunnel_sst.pid");
    std::fs::write(&pid_file, format!("{}\n", previous.id())).unwrap();
    let log = pair.joiner.log.clone();
    let ender = std::thread::spawn(move || {
        let seen = poll::until(STEP, || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("a previous transfer is still running")
        });
        previous.kill().unwrap();
        previous.wait().unwrap();
        seen
    });
    let out = pair::run(&pair, &plan);
    assert!(
        ender.join().unwrap(),
        "the joiner never said it was waiting"
    );
    out.assert_success(&pair, &plan);
}
