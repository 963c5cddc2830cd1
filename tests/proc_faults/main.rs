//! Process and disk faults mid-transfer, driven by the fake mariadbd: the
//! donor's process tree killed, the joiner's killed, either role's parent
//! (mariadbd) dying, the joiner's data directory filling up, and a restart
//! right after a failure (issue 4; SPEC §5, sst-protocol.md §5.5–5.6).
//!
//! Every transfer is slowed with `sst-bwlimit` so that the fault lands while
//! rsync is writing, and each test checks that it did: some, not all, of the
//! donor's bytes had arrived. Each scenario records one [`figures::Figure`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use fake_mariadbd::datadir::{self, UUID};
use fake_mariadbd::faults::{self, Reaper};
use fake_mariadbd::log;
use fake_mariadbd::midway::{self, JOINER_IDLE};
use fake_mariadbd::pair::{self, Pair, Plan};
use fake_mariadbd::run::{Parentage, Sst, Stdin};
use fake_mariadbd::server;
use fake_mariadbd::{code, STEP};
use figures::Figure;
use sst_tunnel::ExitCode;
use testkit::fake_mariadbd;
use testkit::figures;
use testkit::procs;

mod disk;

/// The spec's bound for a dead parent (SPEC §5: 2 s), asserted with margin.
const GONE_MARGIN: Duration = Duration::from_secs(5);
/// A hold after everything is gone, to see that nothing writes any more.
const HOLD: Duration = Duration::from_millis(1500);

/// Scenario 1, order A: the donor's SST tree (method, rsync clients, every
/// group) is SIGKILLed mid-transfer, then its mariadbd goes too. The joiner
/// fails cleanly on its own; nothing of either role is left.
#[test]
fn donor_tree_killed_then_its_parent_gone() {
    let pair = midway::slow_pair();
    let _reaper = Reaper(pair.world.root.clone());
    let mut mid = midway::start_mid_transfer(&pair, Parentage::FakeParent);
    let arrived = mid.arrived();
    let rss = figures::peak_rss_kib(mid.joiner_pid);
    let fault = Instant::now();
    let killed = faults::kill_tree(mid.donor_pid);
    assert!(
        killed.len() > 1,
        "the donor had no children to kill: {killed:?}"
    );
    mid.donor.kill_fake_parent();
    let (jc, took) = midway::assert_joiner_gives_up(&pair, &mut mid, fault);
    let gone = faults::time_until_none_left(&pair.world.root, fault, STEP)
        .unwrap_or_else(|left| panic!("left behind: {left:#?}\n{}", mid.diagnostics()));
    let after = faults::usage(&pair.joiner.datadir);
    figures::record(&Figure {
        scenario: "donor SST tree SIGKILLed mid-transfer, then its mysqld gone".into(),
        time_to_end: Some(took.max(gone)),
        exit: format!("joiner {jc}, donor SIGKILL"),
        bytes_after: Some(faults::written_between(&mid.at_fault, &after)),
        procs_left: Some(procs::touching(&pair.world.root).len()),
        peak_rss_kib: rss,
        notes: format!(
            "{arrived} of {} bytes had arrived; {} processes killed",
            mid.total,
            killed.len()
        ),
    });
}

/// Scenario 1, order B, and scenario 3 for the donor: the donor's mariadbd
/// dies mid-transfer (its stand-in and the stand-in's stdout reader are
/// SIGKILLed). The donor notices the closed stdout, ends its whole tree
/// within 2 s with exit 32, and once every process is gone nothing more is
/// written into the joiner's datadir. The joiner fails cleanly on its own.
#[test]
fn donor_parent_death_mid_transfer_ends_the_donor_tree() {
    let pair = midway::slow_pair();
    let _reaper = Reaper(pair.world.root.clone());
    let mut mid = midway::start_mid_transfer(&pair, Parentage::FakeParent);
    let arrived = mid.arrived();
    let rss = figures::peak_rss_kib(mid.donor_pid);
    let donor_tree = faults::tree(mid.donor_pid);
    assert!(
        donor_tree.len() > 1,
        "the donor runs no rsync: {donor_tree:?}"
    );
    let at_kill = faults::usage(&pair.joiner.datadir);
    let fault = Instant::now();
    let method = mid.donor.kill_fake_parent();
    assert_eq!(method, Some(mid.donor_pid), "{}", mid.diagnostics());
    let donor_gone = faults::time_until_none_left(&pair.donor.dir, fault, GONE_MARGIN)
        .unwrap_or_else(|left| {
            panic!(
                "donor processes left {GONE_MARGIN:?} after its parent died: {left:#?}\n{}",
                mid.diagnostics()
            )
        });
    let at_donor_gone = faults::usage(&pair.joiner.datadir);
    assert!(
        donor_tree.iter().all(|&p| !procs::alive(p)),
        "a process of the donor's tree survives: {donor_tree:?}"
    );
    let donor_log = mid.donor.log_text();
    assert_eq!(
        faults::logged_exit(&donor_log),
        Some(code(ExitCode::BrokenPipe)),
        "donor's exit after its parent died\n{}",
        mid.diagnostics()
    );
    assert!(
        log::find(&donor_log, &["[ERROR]", "stdout", "mysqld"]).is_some(),
        "donor does not say that mysqld is gone\n{}",
        mid.diagnostics()
    );
    for f in ["tables_flushed", "wsrep_sst_binlog.tar"] {
        assert!(
            !pair.donor.datadir.join(f).exists(),
            "donor left {f}\n{}",
            mid.diagnostics()
        );
    }
    let (jc, _) = midway::assert_joiner_gives_up(&pair, &mut mid, fault);
    let all_gone = faults::time_until_none_left(&pair.world.root, fault, STEP)
        .unwrap_or_else(|left| panic!("left behind: {left:#?}\n{}", mid.diagnostics()));
    let at_all_gone = faults::usage(&pair.joiner.datadir);
    std::thread::sleep(HOLD);
    let held = faults::usage(&pair.joiner.datadir);
    let after_gone = faults::written_between(&at_all_gone, &held);
    assert_eq!(
        after_gone, 0,
        "bytes written into the joiner datadir after every process was gone"
    );
    figures::record(&Figure {
        scenario: "donor's mysqld dies mid-transfer".into(),
        time_to_end: Some(donor_gone),
        exit: format!("donor 32 (logged), joiner {jc}"),
        bytes_after: Some(after_gone),
        procs_left: Some(procs::touching(&pair.world.root).len()),
        peak_rss_kib: rss,
        notes: format!(
            "{arrived} of {} bytes had arrived; donor tree ({} procs) gone in {:.2}s; \
             joiner bytes kill→donor gone {}, donor gone→all gone {} (all gone at {:.2}s)",
            mid.total,
            donor_tree.len(),
            donor_gone.as_secs_f64(),
            faults::written_between(&at_kill, &at_donor_gone),
            faults::written_between(&at_donor_gone, &at_all_gone),
            all_gone.as_secs_f64()
        ),
    });
}

/// Scenario 3 for the joiner: its mariadbd dies mid-transfer. The joiner
/// and every rsync it runs are gone within 2 s (exit 32), and nothing is
/// written into its datadir once they are.
#[test]
fn joiner_parent_death_mid_transfer_writes_nothing_after() {
    let mut pair = midway::slow_pair();
    let _reaper = Reaper(pair.world.root.clone());
    let mut mid = midway::start_mid_transfer(&pair, Parentage::Test);
    let arrived = mid.arrived();
    let rss = figures::peak_rss_kib(mid.joiner_pid);
    let joiner_tree = faults::tree(mid.joiner.sh_pid());
    let at_kill = faults::usage(&pair.joiner.datadir);
    let fault = Instant::now();
    pair.parent.kill();
    let gone =
        faults::time_until_none_left(&pair.joiner.dir, fault, GONE_MARGIN).unwrap_or_else(|left| {
            panic!(
                "joiner processes left {GONE_MARGIN:?} after its parent died: {left:#?}\n{}",
                mid.diagnostics()
            )
        });
    let at_gone = faults::usage(&pair.joiner.datadir);
    std::thread::sleep(HOLD);
    let held = faults::usage(&pair.joiner.datadir);
    let jc = mid.joiner.wait(STEP);
    assert_eq!(jc, code(ExitCode::BrokenPipe), "{}", mid.diagnostics());
    mid.joiner.assert_stdout_closed(Duration::from_secs(2));
    assert_eq!(mid.joiner.texts().len(), 1, "{:?}", mid.joiner.texts());
    assert!(
        joiner_tree.iter().all(|&p| !procs::alive(p)),
        "a process of the joiner's tree survives: {joiner_tree:?}"
    );
    let after_gone = faults::written_between(&at_gone, &held);
    assert_eq!(
        after_gone, 0,
        "bytes written into the joiner datadir after its processes were gone"
    );
    // The donor notices the broken tunnel and fails without `done`.
    let rest = mid.donor.read_to_eof(fake_mariadbd::TRANSFER);
    let dc = mid.donor.wait(STEP);
    assert_eq!(
        dc,
        code(ExitCode::TransferFailed),
        "donor exit\n{}",
        mid.diagnostics()
    );
    assert!(!rest.iter().any(|l| l.starts_with("done")), "{rest:?}");
    pair::assert_joiner_cleaned(&pair, &mid.joiner, mid.port);
    figures::record(&Figure {
        scenario: "joiner's mysqld dies mid-transfer".into(),
        time_to_end: Some(gone),
        exit: format!("joiner {jc}, donor {dc}"),
        bytes_after: Some(after_gone),
        procs_left: Some(procs::touching(&pair.world.root).len()),
        peak_rss_kib: rss,
        notes: format!(
            "{arrived} of {} bytes had arrived; joiner tree ({} procs) gone in {:.2}s; \
             {} bytes written between the kill and the end",
            mid.total,
            joiner_tree.len(),
            gone.as_secs_f64(),
            faults::written_between(&at_kill, &at_gone)
        ),
    });
}

/// Scenario 2: the joiner's whole tree is SIGKILLed mid-transfer. The
/// donor's rsync fails, the donor exits with the documented code within its
/// connect and stall bounds, its relay and rsync are gone.
#[test]
fn joiner_tree_killed_donor_fails_within_bounds() {
    let mut pair = midway::slow_pair();
    let connect = 2;
    let retry = 3;
    let idle = 3;
    pair.donor
        .set_sst("sst-connect-timeout", &connect.to_string());
    pair.donor.set_sst("sst-connect-retry", &retry.to_string());
    pair.donor.set_sst("sst-idle-timeout", &idle.to_string());
    let _reaper = Reaper(pair.world.root.clone());
    let mut mid = midway::start_mid_transfer(&pair, Parentage::Test);
    let arrived = mid.arrived();
    let rss = figures::peak_rss_kib(mid.donor_pid);
    let donor_tree = faults::tree(mid.donor.sh_pid());
    let relay = midway::relay_port(mid.donor_pid);
    assert!(
        !testkit::net::port_is_free(relay),
        "relay {relay} not listening"
    );
    let at_kill = faults::usage(&pair.joiner.datadir);
    let fault = Instant::now();
    let killed = faults::kill_tree(mid.joiner.sh_pid());
    assert!(killed.len() > 1, "the joiner ran no rsync: {killed:?}");
    let after_kill = faults::usage(&pair.joiner.datadir);
    let rest = mid.donor.read_to_eof(STEP);
    let bound = Duration::from_secs(connect + retry + idle) + GONE_MARGIN;
    let dc = mid.donor.wait(bound);
    let took = fault.elapsed();
    mid.donor.assert_stdout_closed(Duration::from_secs(2));
    let diag = mid.diagnostics();
    assert!(!rest.iter().any(|l| l.starts_with("done")), "{rest:?}");
    assert_eq!(dc, code(ExitCode::TransferFailed), "donor exit\n{diag}");
    assert!(
        took <= bound,
        "donor took {took:?}, more than its bounds {bound:?}"
    );
    let joiner_addr = format!("127.0.0.1:{}", mid.port);
    assert!(
        log::find(
            &mid.donor.log_text(),
            &["[ERROR]", "connection to the joiner", &joiner_addr, "broke"]
        )
        .is_some(),
        "donor's error does not name the broken connection to {joiner_addr}\n{diag}"
    );
    for f in ["tables_flushed", "wsrep_sst_binlog.tar"] {
        assert!(
            !pair.donor.datadir.join(f).exists(),
            "donor left {f}\n{diag}"
        );
    }
    let gone = faults::time_until_none_left(&pair.donor.dir, fault, STEP)
        .unwrap_or_else(|left| panic!("donor left: {left:#?}\n{diag}"));
    assert!(
        donor_tree.iter().all(|&p| !procs::alive(p)),
        "a process of the donor's tree survives: {donor_tree:?}"
    );
    assert!(
        testkit::net::port_is_free(relay),
        "the donor's relay port {relay} is still bound"
    );
    figures::record(&Figure {
        scenario: "joiner tree SIGKILLed mid-transfer".into(),
        time_to_end: Some(took.max(gone)),
        exit: format!("donor {dc}, joiner SIGKILL"),
        bytes_after: Some(faults::written_between(
            &after_kill,
            &faults::usage(&pair.joiner.datadir),
        )),
        procs_left: Some(procs::touching(&pair.world.root).len()),
        peak_rss_kib: rss,
        notes: format!(
            "{arrived} of {} bytes had arrived; bound {bound:?}; {} bytes between kill and dead",
            mid.total,
            faults::written_between(&at_kill, &after_kill)
        ),
    });
}

/// Files a run may leave when it is SIGKILLed (no clean-up at all).
const STALE: [&str; 6] = [
    "sst_in_progress",
    "rsync_tunnel_sst.conf",
    "rsync_tunnel_sst.pid",
    "wsrep_sst_binlog.tar",
    "tables_flushed",
    "rsync_tunnel_sst_complete",
];

/// Top-level names in `dir` that are neither in `before` nor data.
fn leftovers(dir: &std::path::Path, before: &[String], data: &datadir::Tree) -> Vec<String> {
    faults::listing(dir)
        .into_iter()
        .filter(|n| !before.contains(n) && !data.contains_key(n))
        .collect()
}

/// Scenario 5: both trees SIGKILLed mid-transfer (a crash of both nodes'
/// SST processes: no clean-up ran anywhere, the worst leftovers), then at
/// once a new SST on the same nodes and the same port. It completes; what
/// the dead run left is listed, and none of it blocks the new run.
#[test]
fn restart_on_the_same_port_right_after_both_trees_were_killed() {
    let mut pair = midway::slow_pair();
    let _reaper = Reaper(pair.world.root.clone());
    let joiner_names = faults::listing(&pair.joiner.datadir);
    let donor_names = faults::listing(&pair.donor.datadir);
    let mut mid = midway::start_mid_transfer(&pair, Parentage::Test);
    mid.arrived();
    let fault = Instant::now();
    faults::kill_tree(mid.donor.sh_pid());
    faults::kill_tree(mid.joiner.sh_pid());
    mid.donor.wait(STEP);
    mid.joiner.wait(STEP);
    faults::time_until_none_left(&pair.world.root, fault, STEP)
        .unwrap_or_else(|left| panic!("left behind: {left:#?}\n{}", mid.diagnostics()));
    let port = mid.port;
    drop(mid);

    // What the dead run left, other than data.
    let shipped = datadir::shipped(&datadir::snapshot(&pair.donor.datadir));
    let joiner_left = leftovers(&pair.joiner.datadir, &joiner_names, &shipped);
    let donor_left = leftovers(&pair.donor.datadir, &donor_names, &datadir::Tree::new());
    for (role, left) in [("joiner", &joiner_left), ("donor", &donor_left)] {
        for f in left.iter() {
            assert!(
                STALE.contains(&f.as_str()),
                "{role}: unexpected file {f:?} left by the killed run"
            );
        }
    }
    assert!(
        joiner_left.iter().any(|f| f == "sst_in_progress"),
        "the killed joiner left no stale files: {joiner_left:?}"
    );

    // The new SST: a new mariadbd, the same port, at once, full speed.
    pair.parent = pair.world.parent();
    pair.donor.remove_sst("sst-bwlimit");
    let plan = Plan::default();
    let restart = Instant::now();
    let mut out = pair::run_on(&pair, &plan, port);
    let took = restart.elapsed();
    let to_ready = out.joiner.lines[0].at.duration_since(restart);
    assert_eq!(out.port, port);
    // The donor must remove its own stale files; the rest must not change.
    for f in &donor_left {
        out.donor_before.remove(f);
    }
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
    let (joiner_code, donor_code) = (out.joiner_code, out.donor_code);
    figures::record(&Figure {
        scenario: "restart on the same port after both SST trees were SIGKILLed".into(),
        time_to_end: Some(took),
        exit: format!("restart: joiner {joiner_code}, donor {donor_code}"),
        bytes_after: None,
        procs_left: Some(procs::touching(&pair.world.root).len()),
        peak_rss_kib: None,
        notes: format!(
            "joiner ready {:.2}s after the restart; the killed run left joiner {joiner_left:?}, \
             donor {donor_left:?}",
            to_ready.as_secs_f64()
        ),
    });
}
