//! Binlog installation on a real joiner is confined (issue 9): what appears
//! in the data directory once the joiner is `ready` (the donor writes that
//! module) cannot make the joiner delete or write anything but binlogs and
//! its index. The files are planted by the test right after `ready`, where a
//! hostile donor's rsync would write them; the transfer itself is a normal
//! fake-mariadbd SST.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::symlink;

use fake_mariadbd::attacker::Hostile;
use fake_mariadbd::datadir::UUID;
use fake_mariadbd::pair::{self, Pair, Plan};
use fake_mariadbd::{STEP, TRANSFER};
use testkit::fake_mariadbd;

/// The joiner reads its old index before `ready`, so an index rewritten
/// afterwards removes nothing it names (outside the datadir, or a data
/// file), and a planted `mysql-bin.index.tmp` link is unlinked, not written
/// through. The SST itself completes as usual.
#[test]
fn a_forged_index_and_tmp_link_after_ready_touch_nothing() {
    let pair = Pair::new();
    let plan = Plan::default();
    let victim = pair.world.root.join("victim");
    let beside = pair.joiner.dir.join("beside");
    let through = pair.world.root.join("through-the-link");
    for (path, body) in [
        (&victim, "precious"),
        (&beside, "next to the datadir"),
        (&through, "not the index"),
    ] {
        fs::write(path, body).unwrap();
    }
    let datadir = pair.joiner.datadir.clone();
    assert!(
        datadir.join("mysql-bin.000007").exists(),
        "fixture: an old binlog"
    );
    let forged = format!("{}\n../beside\n./ibdata1\n", victim.display());
    let out = pair::run_with(&pair, &plan, |_port| {
        fs::write(datadir.join("mysql-bin.index"), &forged).unwrap();
        symlink(&through, datadir.join("mysql-bin.index.tmp")).unwrap();
    });
    out.assert_success(&pair, &plan);
    // ibdata1 as shipped, the old mysql-bin.000007 gone, the new index a
    // regular file listing the shipped binlog.
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
    assert!(fs::symlink_metadata(datadir.join("mysql-bin.index"))
        .unwrap()
        .is_file());
    assert!(fs::symlink_metadata(datadir.join("mysql-bin.index.tmp")).is_err());
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(fs::read_to_string(&beside).unwrap(), "next to the datadir");
    assert_eq!(fs::read_to_string(&through).unwrap(), "not the index");
}

/// A hostile donor (a certificate from the cluster CA under another name)
/// pushes, with real rsync through real TLS, what a binlog hand-over looks
/// like: an index naming a file outside the datadir, a tar, a
/// `mysql-bin.index.tmp` link pointing outside, then the marker. Before
/// issue 9 the joiner deleted the outside file and exited 0. Now it reads
/// its old index before `ready`, so the outside files stay untouched; the
/// link arrives munged (pointing nowhere) and is replaced, not written
/// through; the shipped binlog is installed under a fresh index.
#[test]
fn a_hostile_donor_cannot_delete_or_write_outside_through_the_binlog_hand_over() {
    let mut h = Hostile::start();
    let victim = h.pair.world.root.join("victim");
    let through = h.pair.world.root.join("through-the-link");
    fs::write(&victim, "precious").unwrap();
    fs::write(&through, "not the index").unwrap();
    let payload = h.scratch("payload");
    fs::write(
        payload.join("mysql-bin.index"),
        format!("{}\n./mysql-bin.000007\n", victim.display()),
    )
    .unwrap();
    symlink(&through, payload.join("mysql-bin.index.tmp")).unwrap();
    let binlog = h.scratch("binlog");
    fs::write(binlog.join("mysql-bin.000042"), "shipped binlog").unwrap();
    let tar = payload.join("wsrep_sst_binlog.tar");
    let status = std::process::Command::new("tar")
        .args(["-cf"])
        .arg(&tar)
        .arg("-C")
        .arg(&binlog)
        .arg("mysql-bin.000042")
        .status()
        .unwrap();
    assert!(status.success());
    let state = format!("{UUID}:9 0");
    fs::write(
        payload.join("rsync_tunnel_sst_complete"),
        format!("{state}\n"),
    )
    .unwrap();
    let url = h.url("rsync_tunnel_sst/");
    let t = h.tunnel();
    t.rsync_in(
        &payload,
        [
            "--links",
            "mysql-bin.index",
            "mysql-bin.index.tmp",
            "wsrep_sst_binlog.tar",
            &url,
        ],
    )
    .assert_ok();
    t.rsync_in(&payload, ["rsync_tunnel_sst_complete", &url])
        .assert_ok();
    let code = h.joiner.wait(TRANSFER);
    let lines = h.joiner.read_to_eof(STEP);
    assert_eq!(code, 0, "joiner\n{}", h.joiner.diagnostics());
    assert_eq!(lines, [state]);
    let datadir = h.datadir();
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(fs::read_to_string(&through).unwrap(), "not the index");
    assert_eq!(
        fs::read_to_string(datadir.join("mysql-bin.index")).unwrap(),
        "./mysql-bin.000042\n"
    );
    assert_eq!(
        fs::read_to_string(datadir.join("mysql-bin.000042")).unwrap(),
        "shipped binlog"
    );
    assert!(
        !datadir.join("mysql-bin.000007").exists(),
        "the old binlog stays"
    );
    assert!(fs::symlink_metadata(datadir.join("mysql-bin.index.tmp")).is_err());
}

/// The same without a tar (an IST looks like this): nothing replaces the
/// index, so the joiner vets it: the entry naming an outside file is
/// dropped before the server could act on it (`PURGE BINARY LOGS`), the
/// entries of its own binlogs are kept.
#[test]
fn a_hostile_donor_cannot_leave_an_index_naming_outside_files() {
    let mut h = Hostile::start();
    let victim = h.pair.world.root.join("victim");
    fs::write(&victim, "precious").unwrap();
    let payload = h.scratch("payload");
    fs::write(
        payload.join("mysql-bin.index"),
        format!("./mysql-bin.000007\n{}\n../../victim\n", victim.display()),
    )
    .unwrap();
    let state = format!("{UUID}:9 0");
    fs::write(
        payload.join("rsync_tunnel_sst_complete"),
        format!("{state}\n"),
    )
    .unwrap();
    let url = h.url("rsync_tunnel_sst/");
    let t = h.tunnel();
    t.rsync_in(&payload, ["mysql-bin.index", &url]).assert_ok();
    t.rsync_in(&payload, ["rsync_tunnel_sst_complete", &url])
        .assert_ok();
    let code = h.joiner.wait(TRANSFER);
    assert_eq!(code, 0, "joiner\n{}", h.joiner.diagnostics());
    let datadir = h.datadir();
    assert_eq!(
        fs::read_to_string(datadir.join("mysql-bin.index")).unwrap(),
        "./mysql-bin.000007\n"
    );
    assert!(datadir.join("mysql-bin.000007").exists());
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    let log = h.joiner.log_text();
    assert!(
        log.contains("names no binlog of this server") && log.contains("victim"),
        "{log}"
    );
}
