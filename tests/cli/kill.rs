//! Killing either side of a manual transfer mid-stream leaves no rsync
//! behind: the transfer is throttled so the kill lands while rsync runs.

use super::*;

fn rsyncs_touching(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(comm) = fs::read_to_string(entry.path().join("comm")) else {
            continue;
        };
        if comm.trim() != "rsync" {
            continue;
        }
        let cwd = fs::read_link(entry.path().join("cwd")).map(|p| p.to_string_lossy().into_owned());
        let cmdline = fs::read(entry.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        if cwd.is_ok_and(|c| c.starts_with(&needle)) || cmdline.is_ok_and(|c| c.contains(&needle)) {
            found.push(pid);
        }
    }
    found
}

fn wait_until(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !done() {
        assert!(Instant::now() < end, "{what} within {deadline:?}");
        std::thread::yield_now();
        std::thread::park_timeout(Duration::from_millis(20));
    }
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
