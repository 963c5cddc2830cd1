//! Killing either side of a manual transfer mid-stream leaves no rsync
//! behind: the transfer is throttled so the kill lands while rsync runs.

use testkit::{poll, procs};

use super::*;

/// rsync processes whose cwd or command line is under `dir`.
fn rsyncs_touching(dir: &Path) -> Vec<u32> {
    procs::touching(dir)
        .into_iter()
        .map(|(pid, _)| pid)
        .filter(|&pid| {
            procs::argv(pid)
                .first()
                .is_some_and(|a| a.ends_with("rsync"))
        })
        .collect()
}

/// Polls until `done` holds; panics naming `what` after `limit`.
fn wait_until(what: &str, limit: Duration, done: impl FnMut() -> bool) {
    assert!(poll::until(limit, done), "{what} within {limit:?}");
}

/// Starts a throttled transfer and returns (joiner, donor, src, dst) once
/// rsync runs on both sides.
fn throttled_transfer(
    pki: &GenCerts,
    dir: &Path,
) -> (Proc, Proc, std::path::PathBuf, std::path::PathBuf) {
    let (src, dst) = (dir.join("src"), dir.join("dst"));
    fs::create_dir_all(src.join("db1")).unwrap();
    fs::write(src.join("db1/big.ibd"), pattern(8 << 20, 3)).unwrap();
    let cnf = dir.join("donor.cnf");
    fs::write(&cnf, "[sst]\nsst-bwlimit = 256\n").unwrap();
    let (joiner, port) = tunnel_joiner(pki, "joiner", &["--datadir".as_ref(), dst.as_os_str()]);
    let mut cmd = Command::new(binary());
    cmd.args([
        "donor",
        "--address",
        &format!("127.0.0.1:{port}"),
        "--datadir",
    ])
    .arg(&src)
    .arg("--defaults-file")
    .arg(&cnf)
    .args(pki.tunnel_args("donor").into_iter().skip(1));
    let donor = Proc::spawn("throttled donor", cmd);
    wait_until("rsync running on the joiner", SHORT, || {
        !rsyncs_touching(&dst).is_empty()
    });
    wait_until("rsync running on the donor", SHORT, || {
        !rsyncs_touching(&src).is_empty()
    });
    (joiner, donor, src, dst)
}

#[test]
fn killing_the_joiner_leaves_no_rsync_behind() {
    let pki = GenCerts::generate();
    let dir = tempfile::tempdir().unwrap();
    let (mut joiner, _donor, _src, dst) = throttled_transfer(&pki, dir.path());
    joiner.signal(Signal::KILL);
    joiner.wait(SHORT);
    wait_until(
        "the joiner's rsync gone after kill -9",
        Duration::from_secs(5),
        || rsyncs_touching(&dst).is_empty(),
    );
}

#[test]
fn killing_the_donor_leaves_no_rsync_behind() {
    let pki = GenCerts::generate();
    let dir = tempfile::tempdir().unwrap();
    let (_joiner, mut donor, src, dst) = throttled_transfer(&pki, dir.path());
    donor.signal(Signal::KILL);
    donor.wait(SHORT);
    wait_until(
        "the donor's rsync gone after kill -9",
        Duration::from_secs(5),
        || rsyncs_touching(&src).is_empty(),
    );
    // The joiner's side ends too once its peer is gone (the TLS stream breaks).
    wait_until(
        "the joiner's rsync gone after the donor died",
        Duration::from_secs(10),
        || rsyncs_touching(&dst).is_empty(),
    );
}
