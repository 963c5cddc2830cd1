//! `wsrep_sst_rsync_tunnel` failure paths, driven by a fake mariadbd:
//! flush failure, bad argv, missing certificate, wrong CA or name on the
//! joiner, hostile clients on the joiner port (sst-protocol.md §3.2, §5.5,
//! checklist; SPEC §4).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::time::Duration;

use fake_mariadbd::command::{CommandLine, DonorParams, Era, JoinerParams, Value};
use fake_mariadbd::datadir::{self, UUID};
use fake_mariadbd::hostile;
use fake_mariadbd::log;
use fake_mariadbd::pair::{self, Pair, Plan};
use fake_mariadbd::run::{Sst, Stdin};
use fake_mariadbd::server::{self, Flush};
use fake_mariadbd::world::World;
use fake_mariadbd::{code, STEP, TRANSFER};
use sst_tunnel::pki::LeafFiles;
use sst_tunnel::ExitCode;
use testkit::fake_mariadbd;
use testkit::net::{free_port, port_is_free};

/// A joiner command for `node` on a fresh port.
fn joiner_cmd(world: &World, node: &fake_mariadbd::world::Node, parent: u32) -> (CommandLine, u16) {
    let _ = world;
    let port = free_port();
    let cmd = CommandLine::joiner(&JoinerParams {
        era: Era::V10_11,
        node,
        address: format!("127.0.0.1:{port}"),
        parent,
        progress: false,
    });
    (cmd, port)
}

/// A donor that fails and a joiner that is then ended by its parent's death.
fn failing_donor(pair: &mut Pair, plan: &Plan) -> (Sst, Vec<String>, i32) {
    let joiner_before = datadir::snapshot(&pair.joiner.datadir);
    let (mut joiner, port, addr) = pair::start_joiner(pair, plan);
    let cmd = pair::donor_command(pair, plan, &addr);
    let mut donor = Sst::spawn(&pair.world, &pair.donor, "donor", cmd, Stdin::DevNull);
    let lines = server::serve_donor(&mut donor, &pair.donor.datadir, &plan.flush, TRANSFER);
    let donor_code = donor.wait(STEP);
    donor.assert_stdout_closed(Duration::from_secs(2));
    pair::end_joiner_by_parent_death(pair, &mut joiner, port);
    datadir::assert_trees_equal(
        "joiner datadir after a failed SST (no data may land)",
        &datadir::snapshot(&pair.joiner.datadir),
        &joiner_before,
    );
    (donor, lines, donor_code)
}

/// A donor that refuses the joiner's certificate: exit 13, neither
/// `continue` nor `done` on its stdout, nothing landed on the joiner.
fn donor_rejects_joiner(pair: &mut Pair, plan: &Plan) -> Sst {
    let (donor, lines, donor_code) = failing_donor(pair, plan);
    assert_eq!(
        donor_code,
        code(ExitCode::AuthFailed),
        "donor exit\n{}",
        donor.diagnostics()
    );
    assert!(
        !lines
            .iter()
            .any(|l| l == "continue" || l.starts_with("done")),
        "donor stdout {lines:?}"
    );
    donor
}

/// Points `node`'s `[sst] tcert`/`tkey` at `cert`.
fn present(node: &mut fake_mariadbd::world::Node, cert: &LeafFiles) {
    node.set_sst("tcert", &cert.cert.display().to_string());
    node.set_sst("tkey", &cert.key.display().to_string());
}

/// `sst_error` instead of `tables_flushed` → the donor deletes it and exits
/// 255 without `continue` or `done`.
#[test]
fn flush_failure_exits_255_and_deletes_sst_error() {
    let mut pair = Pair::new();
    let plan = Plan {
        flush: Flush::Error,
        ..Plan::default()
    };
    let (donor, lines, donor_code) = failing_donor(&mut pair, &plan);
    assert_eq!(
        donor_code,
        code(ExitCode::TransferFailed),
        "donor exit\n{}",
        donor.diagnostics()
    );
    assert_eq!(lines, vec!["flush tables"], "donor stdout");
    assert!(
        !pair.donor.datadir.join("sst_error").exists(),
        "donor left sst_error\n{}",
        donor.diagnostics()
    );
}

/// `--role bogus` → 22 (EINVAL), nothing on stdout, the value named.
#[test]
fn unknown_role_exits_22() {
    let world = World::new();
    let node = world.node("n");
    let parent = world.parent();
    let (mut cmd, _) = joiner_cmd(&world, &node, parent.pid());
    cmd.set("--role", Value::Quoted("bogus".into()));
    let mut sst = Sst::spawn(&world, &node, "bogus", cmd.render(), Stdin::DevNull);
    assert_eq!(
        sst.wait(STEP),
        code(ExitCode::Invalid),
        "{}",
        sst.diagnostics()
    );
    sst.assert_stdout_closed(Duration::from_secs(2));
    assert!(sst.texts().is_empty(), "stdout {:?}", sst.texts());
    assert!(sst.log_text().contains("bogus"), "{}", sst.diagnostics());
}

/// No `--datadir` → 2 (ENOENT), nothing on stdout, `--datadir` named.
#[test]
fn missing_datadir_exits_2() {
    let world = World::new();
    let node = world.node("n");
    let parent = world.parent();
    let (mut cmd, _) = joiner_cmd(&world, &node, parent.pid());
    cmd.remove("--datadir");
    let mut sst = Sst::spawn(&world, &node, "joiner", cmd.render(), Stdin::DevNull);
    assert_eq!(
        sst.wait(STEP),
        code(ExitCode::NotFound),
        "{}",
        sst.diagnostics()
    );
    sst.assert_stdout_closed(Duration::from_secs(2));
    assert!(sst.texts().is_empty(), "stdout {:?}", sst.texts());
    assert!(sst.log_text().contains("datadir"), "{}", sst.diagnostics());
}

/// Joiner without `tcert` → 3 naming tcert; never a `ready`, never a listener.
#[test]
fn joiner_without_tcert_exits_3() {
    let world = World::new();
    let mut node = world.node("n");
    node.remove_sst("tcert");
    node.remove_sst("tkey");
    let parent = world.parent();
    let (cmd, port) = joiner_cmd(&world, &node, parent.pid());
    let mut sst = Sst::spawn(&world, &node, "joiner", cmd.render(), Stdin::DevNull);
    assert_eq!(
        sst.wait(STEP),
        code(ExitCode::Interrupted),
        "{}",
        sst.diagnostics()
    );
    sst.assert_stdout_closed(Duration::from_secs(2));
    assert!(sst.texts().is_empty(), "stdout {:?}", sst.texts());
    let log = sst.log_text();
    assert!(
        log::find(&log, &["tcert"]).is_some(),
        "{}",
        sst.diagnostics()
    );
    assert!(port_is_free(port));
    assert!(!node.datadir.join("sst_in_progress").exists());
}

/// Donor without `tcert` → 3 naming tcert; it never connects to the joiner
/// address (a plaintext listener here) and prints nothing.
#[test]
fn donor_without_tcert_exits_3_and_never_connects() {
    let world = World::new();
    let mut node = world.node("donor");
    datadir::populate_donor(&node.datadir);
    node.remove_sst("tcert");
    node.remove_sst("tkey");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let cmd = CommandLine::donor(&DonorParams {
        era: Era::V10_11,
        node: &node,
        address: format!("127.0.0.1:{port}/rsync_tunnel_sst"),
        progress: false,
        gtid: format!("{UUID}:6"),
        domain: 0,
        bypass: false,
    });
    let mut sst = Sst::spawn(&world, &node, "donor", cmd.render(), Stdin::DevNull);
    let lines = server::serve_donor(
        &mut sst,
        &node.datadir,
        &Flush::State(format!("{UUID}:6 0")),
        STEP,
    );
    assert_eq!(
        sst.wait(STEP),
        code(ExitCode::Interrupted),
        "{}",
        sst.diagnostics()
    );
    assert!(lines.is_empty(), "donor stdout {lines:?}");
    let log = sst.log_text();
    assert!(
        log::find(&log, &["tcert"]).is_some(),
        "{}",
        sst.diagnostics()
    );
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the donor connected to the joiner address: {other:?}"),
    }
}

/// Donor log after a TLS failure: an ERROR line naming what was expected,
/// and nothing of rsync's misleading messages.
fn assert_tls_failure_logged(donor: &Sst, needles: &[&str]) {
    let log = donor.log_text();
    for n in needles {
        assert!(
            log.contains(n),
            "donor log does not name {n:?}\n{}",
            donor.diagnostics()
        );
    }
    assert!(
        log.lines()
            .any(|l| l.starts_with("WSREP_SST: [ERROR]") && log::is_wsrep_line(l)),
        "no WSREP_SST: [ERROR] line\n{}",
        donor.diagnostics()
    );
    for bad in ["did not see server greeting", "code 5", "(code 5)"] {
        assert!(
            !log.contains(bad),
            "donor log shows rsync's {bad:?} instead of the TLS cause\n{}",
            donor.diagnostics()
        );
    }
}

/// The joiner presents a certificate from a CA the donor does not trust:
/// the donor fails with a TLS error naming the expected name and the
/// presented certificate, exit 13; nothing lands on the joiner.
#[test]
fn joiner_certificate_from_wrong_ca_is_rejected() {
    let mut pair = Pair::new();
    let rogue = pair.world.rogue.issue(
        "joiner-rogue",
        &["localhost", "joiner.rogue.test"],
        &["127.0.0.1"],
    );
    // The joiner lives in another PKI altogether (its own startup check
    // would refuse a certificate that does not chain to its own tca).
    let rogue_ca = pair.world.rogue.file.display().to_string();
    pair.joiner.set_sst("tca", &rogue_ca);
    present(&mut pair.joiner, &rogue);
    let plan = Plan::default();
    let donor = donor_rejects_joiner(&mut pair, &plan);
    // The presented chain must be identified: the joiner's leaf (CN or a
    // SAN) or the untrusted issuer the verification stopped at.
    let log = donor.log_text();
    assert!(
        ["joiner.rogue.test", "joiner-rogue", "rogue test CA"]
            .iter()
            .any(|n| log.contains(n)),
        "donor log does not identify the presented certificate\n{}",
        donor.diagnostics()
    );
    assert_tls_failure_logged(&donor, &["127.0.0.1"]);
}

/// A joiner whose own certificate does not chain to its own `tca` refuses
/// to start (exit 22, before `ready`), naming tcert, tca and the cause.
#[test]
fn joiner_certificate_not_chaining_to_its_tca_exits_22() {
    let world = World::new();
    let rogue = world.rogue.issue_loopback("joiner-rogue");
    let mut node = world.node("n");
    present(&mut node, &rogue);
    let parent = world.parent();
    let (cmd, port) = joiner_cmd(&world, &node, parent.pid());
    let mut sst = Sst::spawn(&world, &node, "joiner", cmd.render(), Stdin::DevNull);
    assert_eq!(
        sst.wait(STEP),
        code(ExitCode::Invalid),
        "{}",
        sst.diagnostics()
    );
    sst.assert_stdout_closed(Duration::from_secs(2));
    assert!(sst.texts().is_empty(), "stdout {:?}", sst.texts());
    let log = sst.log_text();
    let ca = world.ca.file.display().to_string();
    assert!(
        log::find(&log, &["tcert", "tca", &ca, "joiner-rogue"]).is_some(),
        "{}",
        sst.diagnostics()
    );
    assert!(port_is_free(port));
    assert!(!node.datadir.join("sst_in_progress").exists());
}

/// The joiner's certificate chains to the CA but names another host: the
/// donor fails naming 127.0.0.1 (expected) and elsewhere.test (presented).
#[test]
fn joiner_certificate_with_wrong_name_is_rejected() {
    let mut pair = Pair::new();
    let other = pair.world.ca.issue("elsewhere", &["elsewhere.test"], &[]);
    present(&mut pair.joiner, &other);
    let plan = Plan::default();
    let donor = donor_rejects_joiner(&mut pair, &plan);
    assert_tls_failure_logged(&donor, &["127.0.0.1", "elsewhere.test"]);
}

/// Plaintext, untrusted-CA and certificate-less clients on the joiner port
/// get no byte from rsync, and a good transfer that follows (with the
/// plaintext connection still open) succeeds.
#[test]
fn hostile_clients_get_nothing_and_do_not_disturb() {
    let pair = Pair::new();
    let plan = Plan::default();
    let rogue = pair.world.rogue.issue_loopback("intruder");
    let mut idle = None;
    let out = pair::run_with(&pair, &plan, |port| {
        let (stream, got) = hostile::plaintext(port);
        hostile::assert_no_rsync("plaintext client", &got);
        idle = Some(stream);
        hostile::assert_no_rsync("untrusted-CA client", &hostile::tls(port, Some(&rogue)));
        hostile::assert_no_rsync("certificate-less client", &hostile::tls(port, None));
    });
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
    drop(idle);
}

/// Control for the test above: the same probe with a trusted certificate
/// does reach rsync's greeting, so the probes are not blind.
#[test]
fn trusted_probe_reaches_rsync() {
    let mut pair = Pair::new();
    let plan = Plan::default();
    let trusted = pair.world.ca.issue_loopback("prober");
    let (mut joiner, port, _) = pair::start_joiner(&pair, &plan);
    let got = hostile::tls(port, Some(&trusted));
    assert!(
        String::from_utf8_lossy(&got).contains("@RSYNCD"),
        "trusted probe got {:?}\n{}",
        String::from_utf8_lossy(&got),
        joiner.diagnostics()
    );
    pair::end_joiner_by_parent_death(&mut pair, &mut joiner, port);
}
