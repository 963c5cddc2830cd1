//! The manual command line end to end, with the real binary, rsync and
//! OpenSSL: every misconfiguration ends with one clear error line and its
//! documented exit code; the relay refuses other users; a peer that fails
//! authentication writes nothing; killing either side leaves no rsync.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sst_tunnel::ExitCode;
use testkit::bytes::pattern;
use testkit::child::{run, Proc};
use testkit::net::{echo_through, Echo};
use testkit::procs::Signal;
use testkit::project::binary;
use testkit::socat::gen_certs::GenCerts;
use testkit::socat::tree::{assert_same_tree, make_datadir, Symlinks};
use testkit::socat::{tunnel_joiner, tunnel_relay, MARKER, TRANSFER};

mod kill;

const SHORT: Duration = Duration::from_secs(20);
const STATE: &str = "0b7d5f1e-1111-4222-8333-944455556666:77 0";

/// Runs the binary to its end and returns (exit code, stderr).
fn tunnel<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    extra: &[std::ffi::OsString],
    env: &[(&str, &str)],
) -> (i32, String) {
    let mut cmd = Command::new(binary());
    cmd.args(args).args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (status, _out, err) = run("sst-tunnel", cmd, SHORT);
    (status.code().unwrap_or(-1), err)
}

/// The one error line of a failed run (and that there is exactly one).
fn error_line(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ERROR") || l.starts_with("error:"))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "expected exactly one error line in:\n{stderr}"
    );
    errors[0].to_string()
}

fn expect_failure(what: &str, got: (i32, String), code: ExitCode, needles: &[&str]) {
    let (status, stderr) = got;
    assert_eq!(
        status,
        i32::from(code.code()),
        "{what}: exit status; stderr:\n{stderr}"
    );
    let line = error_line(&stderr);
    for n in needles {
        assert!(
            line.contains(n),
            "{what}: {n:?} missing from the error line {line:?}"
        );
    }
}

#[test]
fn every_misconfiguration_ends_with_one_clear_line_and_its_code() {
    let pki = GenCerts::generate();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let ca = pki.ca();
    let cert = pki.cert("joiner");
    let key = pki.key("joiner");
    let (ca, cert, key) = (
        ca.to_str().unwrap(),
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
    );
    let joiner = |extra: &[&str]| -> Vec<String> {
        let base = [
            "joiner",
            "--no-defaults",
            "--address",
            "127.0.0.1:0",
            "--datadir",
            d,
        ];
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };

    let missing = dir.path().join("nope.crt");
    expect_failure(
        "missing certificate file",
        tunnel(
            &joiner(&[
                "--tca",
                ca,
                "--tcert",
                missing.to_str().unwrap(),
                "--tkey",
                key,
            ]),
            &[],
            &[],
        ),
        ExitCode::NotFound,
        &["tcert", "nope.crt"],
    );

    let unreadable = dir.path().join("unreadable.key");
    fs::write(
        &unreadable,
        b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    expect_failure(
        "a key file that does not parse",
        tunnel(
            &joiner(&[
                "--tca",
                ca,
                "--tcert",
                cert,
                "--tkey",
                unreadable.to_str().unwrap(),
            ]),
            &[],
            &[],
        ),
        ExitCode::Invalid,
        &["tkey", "unreadable.key"],
    );

    let other_key = pki.key("donor");
    expect_failure(
        "key not matching the certificate",
        tunnel(
            &joiner(&[
                "--tca",
                ca,
                "--tcert",
                cert,
                "--tkey",
                other_key.to_str().unwrap(),
            ]),
            &[],
            &[],
        ),
        ExitCode::Invalid,
        &["tkey", "donor.key", "does not match"],
    );

    expect_failure(
        "unknown sockopt item",
        tunnel(
            &joiner(&[
                "--tca",
                ca,
                "--tcert",
                cert,
                "--tkey",
                key,
                "--sockopt",
                "verify=1,frobnicate=2",
            ]),
            &[],
            &[],
        ),
        ExitCode::Invalid,
        &["sockopt", "frobnicate"],
    );

    let mut a = joiner(&["--tca", ca, "--tcert", cert, "--tkey", key]);
    a[3] = "[::1".into();
    expect_failure(
        "malformed address",
        tunnel(&a, &[], &[]),
        ExitCode::Invalid,
        &["[::1"],
    );

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let busy = format!("127.0.0.1:{port}");
    let mut a = joiner(&["--tca", ca, "--tcert", cert, "--tkey", key]);
    a[3] = busy.clone();
    expect_failure(
        "port in use",
        tunnel(&a, &[], &[]),
        ExitCode::Busy,
        &[
            &busy,
            "in use",
            &format!("held by pid {}", std::process::id()),
        ],
    );

    expect_failure(
        "rsync missing",
        tunnel(
            &joiner(&["--tca", ca, "--tcert", cert, "--tkey", key]),
            &[],
            &[("PATH", "/nonexistent")],
        ),
        ExitCode::NotFound,
        &["rsync not found"],
    );

    expect_failure(
        "no certificate configured at all",
        tunnel(&joiner(&[]), &[], &[]),
        ExitCode::Interrupted,
        &["tcert", "plaintext"],
    );

    let (status, stderr) = tunnel(&["joiner", "--datadir", d], &[], &[]);
    assert_eq!(
        status,
        i32::from(ExitCode::Invalid.code()),
        "usage error: {stderr}"
    );
    assert!(stderr.contains("--address"), "{stderr}");

    let (status, _) = tunnel(&["--help"], &[], &[]);
    assert_eq!(status, 0);
}

#[test]
fn relay_serves_its_own_user_and_refuses_another_uid() {
    let pki = GenCerts::generate();
    let echo = Echo::start();
    let forward = echo.addr().to_string();
    let (_joiner, jport) = tunnel_joiner(&pki, "joiner", &["--forward".as_ref(), forward.as_ref()]);
    let (mut relay, rport) = tunnel_relay(&pki, "donor", jport);
    let relay_addr = format!("127.0.0.1:{rport}").parse().unwrap();
    echo_through(relay_addr, &pattern(1 << 20, 7), SHORT).expect("own uid is relayed");

    // The same kind of client, as uid 65534: the relay must close it unserved.
    let script =
        format!("exec 3<>/dev/tcp/127.0.0.1/{rport} || exit 90; printf ping >&3; cat <&3; exit 0");
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "bash",
        "-c",
        &script,
    ]);
    let (status, out, err) = run("setpriv client", cmd, SHORT);
    assert!(
        status.success(),
        "other-uid client failed to run: {status:?} {err}"
    );
    assert_eq!(
        out, "",
        "a client of another uid got bytes through the relay"
    );
    let line = relay.stderr_line_matching(|l| l.contains("another user refused"), SHORT);
    assert!(line.contains("65534"), "{line}");
}

#[test]
fn a_donor_from_a_rogue_ca_writes_nothing_and_a_good_one_then_succeeds() {
    let pki = GenCerts::generate();
    let rogue = GenCerts::generate();
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    make_datadir(&src);
    let (mut joiner, port) =
        tunnel_joiner(&pki, "joiner", &["--datadir".as_ref(), dst.as_os_str()]);
    let address = format!("127.0.0.1:{port}");

    let mut cmd = Command::new(binary());
    cmd.args(["donor", "--address", &address, "--datadir"])
        .arg(&src)
        .args(rogue.tunnel_args("donor"));
    let (status, _, err) = run("rogue donor", cmd, TRANSFER);
    assert_eq!(
        status.code(),
        Some(i32::from(ExitCode::AuthFailed.code())),
        "rogue donor: {err}"
    );
    assert!(
        err.to_lowercase().contains("certificate"),
        "the rogue donor's error names no certificate:\n{err}"
    );
    let written: Vec<_> = fs::read_dir(&dst)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let ours = ["rsync_tunnel_sst.conf"];
    assert!(
        written
            .iter()
            .all(|n| ours.contains(&n.to_str().unwrap_or(""))),
        "a rejected donor wrote into the datadir: {written:?}"
    );

    let mut cmd = Command::new(binary());
    cmd.args([
        "donor",
        "--address",
        &address,
        "--state",
        STATE,
        "--datadir",
    ])
    .arg(&src)
    .args(pki.tunnel_args("donor"));
    let (status, _, err) = run("good donor", cmd, TRANSFER);
    assert!(status.success(), "good donor: {status:?}\n{err}");
    assert_eq!(
        joiner.wait(TRANSFER).code(),
        Some(0),
        "joiner: {}",
        joiner.stderr()
    );
    assert_eq!(joiner.stdout_line(SHORT), STATE);
    assert!(
        joiner.stderr().contains("tls handshake failed"),
        "{}",
        joiner.stderr()
    );
    // The joiner munges the donor's symlinks (issue 9).
    assert_same_tree(&src, &dst, &[MARKER], Symlinks::Munged);
}

/// Pids of rsync processes whose working directory or command line mentions `dir`.
#[test]
fn the_demo_runs_end_to_end() {
    let mut cmd = Command::new(binary());
    cmd.args(["demo", "--size-mib", "8"]);
    let (status, out, err) = run("demo", cmd, TRANSFER);
    assert!(status.success(), "demo failed: {status:?}\n{out}\n{err}");
    for needle in ["identical", "TLSv1.3", "CN=joiner.demo", "MB/s"] {
        assert!(
            out.contains(needle),
            "demo summary lacks {needle:?}:\n{out}"
        );
    }
    // The demo's temporary directory is gone afterwards.
    let dir = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("demo: ")
                .and_then(|l| l.split(" of sample data in ").nth(1))
        })
        .expect("the demo names its sample directory");
    assert!(!Path::new(dir).exists(), "demo left {dir} behind");
}

#[test]
fn an_ipv6_joiner_keeps_its_brackets_and_receives_over_v6() {
    let pki = GenCerts::generate();
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    make_datadir(&src);
    let mut cmd = Command::new(binary());
    cmd.args(["joiner", "--address", "[::1]:0", "--datadir"])
        .arg(&dst)
        .args(pki.tunnel_args("joiner"));
    let mut joiner = Proc::spawn("ipv6 joiner", cmd);
    let ready = joiner.stdout_line(SHORT);
    let port = ready
        .strip_prefix("ready [::1]:")
        .and_then(|r| r.strip_suffix("/rsync_tunnel_sst"))
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| {
            panic!("ready line {ready:?} is not `ready [::1]:PORT/rsync_tunnel_sst`")
        });
    // The test certificates carry no IPv6 SAN: check the name `localhost` instead.
    let mut cmd = Command::new(binary());
    cmd.args([
        "donor",
        "--address",
        &format!("[::1]:{port}"),
        "--state",
        STATE,
    ])
    .args(["--sockopt", "commonname=localhost", "--datadir"])
    .arg(&src)
    .args(pki.tunnel_args("donor"));
    let (status, _, err) = run("ipv6 donor", cmd, TRANSFER);
    assert!(status.success(), "ipv6 donor: {status:?}\n{err}");
    assert_eq!(joiner.wait(TRANSFER).code(), Some(0), "{}", joiner.stderr());
    assert_eq!(joiner.stdout_line(SHORT), STATE);
    assert!(
        joiner.stderr().contains("peer=[::1]:"),
        "{}",
        joiner.stderr()
    );
    // The joiner munges the donor's symlinks (issue 9).
    assert_same_tree(&src, &dst, &[MARKER], Symlinks::Munged);
}
