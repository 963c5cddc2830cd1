//! Slow links (issue 11, items 4 and 5), with the real binary, rsync and
//! OpenSSL on loopback:
//! - the delta method (`donor --delta`, the `rsync_tunnel_wan` SST method)
//!   moves far fewer bytes than whole files when the joiner already holds
//!   most of the data, and both leave the joiner's tree equal to the donor's;
//! - `sst-bwlimit` caps the whole transfer, however many rsync streams run;
//! - `wsrep_sst_rsync_tunnel_wan` is an SST method mariadbd can run.
//!
//! The processes, certificates, tree comparison and log parsing come from
//! testkit; what only these tests need is here: the data they move
//! (data.rs) and one manual transfer with its option files (transfer.rs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// InnoDB-like data directories, and a joiner's copy holding 90 % of one.
mod data;
/// Certificates, option files, and one manual joiner-donor transfer.
mod transfer;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sst_tunnel::relay::pace::Pacer;
use testkit::child::Proc;
use testkit::fake_mariadbd::datadir::{assert_trees_equal, snapshot, UUID};
use testkit::fake_mariadbd::server::write_atomically;
use testkit::net::free_port;
use testkit::project::binary;
use testkit::tunnel_log::{closed_connections, number, total_bytes_in, Closed};

use data::{make_datadir, seed_ninety_percent};
use transfer::{manual_transfer, Certs};

/// Bound of one step: a `ready` line, a protocol line, the joiner's exit
/// once the donor is done.
const STEP: Duration = Duration::from_secs(30);
/// Bound of a whole transfer (the capped one alone takes about 9 s).
const TRANSFER: Duration = Duration::from_secs(180);

/// Issue 11, item 4: with a joiner that holds 90 % of the donor's bytes,
/// `--delta` sends less than half of what whole files send, whole files send
/// at least everything, and both leave the joiner's tree equal to the donor's.
#[test]
fn issue_11_delta_moves_fewer_bytes_when_the_joiner_holds_most_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let certs = Certs::new(dir);
    let (donor, seed, joiner) = (dir.join("donor"), dir.join("seed"), dir.join("joiner"));
    let size = make_datadir(&donor, 2, 4 << 20) as u64;
    let changed = seed_ninety_percent(&donor, &seed) as u64;
    assert!(
        changed * 8 < size && changed * 12 > size,
        "{changed} of {size}"
    );

    let mut sent = BTreeMap::new();
    for (mode, args) in [("whole", &[][..]), ("delta", &["--delta"][..])] {
        let _ = fs::remove_dir_all(&joiner);
        fs::rename(&seed, &joiner).unwrap();
        let (log, _) = manual_transfer(dir, &certs, &donor, &joiner, mode, "", args);
        assert_trees_equal(mode, &snapshot(&joiner), &snapshot(&donor));
        sent.insert(mode, total_bytes_in(&log));
        seed_ninety_percent(&donor, &seed);
    }
    let (whole, delta) = (sent["whole"], sent["delta"]);
    assert!(
        whole >= size && whole < size + size / 10,
        "whole files: {whole} bytes through the tunnel for {size} bytes of data"
    );
    assert!(
        delta < size / 2 && delta >= changed,
        "delta: {delta} bytes through the tunnel for {size} bytes of data, {changed} of them changed"
    );
}

/// Issue 11, item 5: with `sst-bwlimit` and four parallel streams, the
/// bytes the joiner received never exceed the pacer's burst plus the cap
/// times the donor's whole run, and the data arrives byte for byte. With the
/// old per-rsync `--bwlimit`, four streams reached about four times the cap
/// and broke this bound (checked by restoring that code: see the report).
#[test]
fn issue_11_sst_bwlimit_caps_the_whole_transfer_across_four_streams() {
    const CAP_KIB: u64 = 2048;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let certs = Certs::new(dir);
    let (donor, joiner) = (dir.join("donor"), dir.join("joiner"));
    // 8 s of data at the cap, in four schema directories of the same size.
    let size = make_datadir(&donor, 4, 4 << 20) as u64;
    fs::create_dir(&joiner).unwrap();
    let extra = format!("sst-bwlimit={CAP_KIB}\n");
    let (log, took) = manual_transfer(
        dir,
        &certs,
        &donor,
        &joiner,
        "capped",
        &extra,
        &["--parallel", "4"],
    );
    assert_trees_equal("capped transfer", &snapshot(&joiner), &snapshot(&donor));

    let cap = CAP_KIB * 1024;
    let got = total_bytes_in(&log);
    assert!(got >= size, "the joiner received {got} of {size} bytes");
    let allowed = Pacer::new(cap).burst() as f64 + cap as f64 * took.as_secs_f64();
    assert!(
        got as f64 <= allowed,
        "the joiner received {got} bytes in {took:?}: more than a cap of {cap} B/s allows ({allowed:.0})"
    );
    // The four schema directories did travel side by side: at least two
    // of their connections had opened before the first of them closed.
    let big: Vec<Closed> = closed_connections(&log)
        .into_iter()
        .filter(|c| c.bytes_in > 1 << 20)
        .collect();
    assert_eq!(big.len(), 4, "one connection per schema directory:\n{log}");
    let first_close = big.iter().map(|c| c.closed).fold(f64::INFINITY, f64::min);
    assert!(
        big.iter().filter(|c| c.opened < first_close).count() >= 2,
        "the schema directories travelled one after the other:\n{log}"
    );
}

/// Issue 11, item 4: invoked through a symlink named
/// `wsrep_sst_rsync_tunnel_wan` with mariadbd's argv, a joiner and a donor
/// complete an SST; the donor's log says it used the delta method, and with
/// a joiner holding 90 % of the data it sent less than half of it.
#[test]
fn issue_11_wsrep_sst_rsync_tunnel_wan_is_the_delta_sst_method() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fs::canonicalize(tmp.path()).unwrap();
    let certs = Certs::new(&dir);
    let method = dir.join("wsrep_sst_rsync_tunnel_wan");
    std::os::unix::fs::symlink(binary(), &method).unwrap();
    let (donor_dir, joiner_dir) = (dir.join("donor"), dir.join("joiner"));
    let size = make_datadir(&donor_dir, 2, 2 << 20) as u64;
    let changed = seed_ninety_percent(&donor_dir, &joiner_dir) as u64;
    let (donor_cnf, joiner_cnf) = (
        certs.cnf(&dir.join("donor.cnf"), &certs.donor, ""),
        certs.cnf(&dir.join("joiner.cnf"), &certs.joiner, ""),
    );
    let port = free_port();
    let datadir_arg = |d: &Path| format!("{}/", d.display());
    let mut cmd = Command::new(&method);
    cmd.current_dir(&joiner_dir)
        .env_remove("SST_TUNNEL_LOG")
        .args([
            "--role",
            "joiner",
            "--address",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--datadir", &datadir_arg(&joiner_dir), "--defaults-file"])
        .arg(&joiner_cnf)
        .args([
            "--parent",
            &std::process::id().to_string(),
            "--progress",
            "0",
        ])
        .arg("--mysqld-args")
        .arg(format!("--defaults-file={}", joiner_cnf.display()));
    let mut joiner = Proc::spawn("wan joiner", cmd);
    let ready = joiner.stdout_line(STEP);
    let addr = ready
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("joiner printed {ready:?}, not its ready line"));

    let mut cmd = Command::new(&method);
    cmd.current_dir(&donor_dir)
        .env_remove("SST_TUNNEL_LOG")
        .args(["--role", "donor", "--address", addr, "--local-port", "3306"])
        .args(["--socket", "/nonexistent/mysqld.sock", "--progress", "0"])
        .args(["--datadir", &datadir_arg(&donor_dir), "--defaults-file"])
        .arg(&donor_cnf)
        .args(["--gtid", &format!("{UUID}:6"), "--gtid-domain-id", "3"])
        .arg("--mysqld-args")
        .arg(format!("--defaults-file={}", donor_cnf.display()));
    let mut donor = Proc::spawn("wan donor", cmd);
    assert_eq!(
        donor.stdout_line(STEP),
        "flush tables",
        "{}",
        donor.stderr()
    );
    // What mariadbd does once the tables are locked: tables_flushed, by rename.
    let state = format!("{UUID}:7 3");
    write_atomically(&donor_dir, "tables_flushed", &format!("{state}\n"));
    assert_eq!(donor.stdout_line(STEP), "continue", "{}", donor.stderr());
    let done = format!("done {state}");
    assert_eq!(donor.stdout_line(STEP), done, "{}", donor.stderr());
    donor.assert_exit_code(0, TRANSFER);
    assert_eq!(joiner.stdout_line(STEP), state, "{}", joiner.stderr());
    joiner.assert_exit_code(0, STEP);

    assert_trees_equal(
        "rsync_tunnel_wan",
        &snapshot(&joiner_dir),
        &snapshot(&donor_dir),
    );
    let log = donor.stderr();
    assert!(
        log.lines().any(|l| l.starts_with("WSREP_SST: [INFO]")
            && l.contains("rsync_tunnel_wan: rsync sends only what differs")),
        "the donor's log does not say it used the delta method:\n{log}"
    );
    let sent = log
        .lines()
        .find(|l| l.contains("donor: state snapshot sent"))
        .map(|l| number(l, "bytes="))
        .unwrap_or_else(|| panic!("no closing line in the donor's log:\n{log}"));
    assert!(
        sent < size / 2 && sent >= changed,
        "rsync_tunnel_wan sent {sent} bytes for {size} bytes of data, {changed} of them changed"
    );
}
