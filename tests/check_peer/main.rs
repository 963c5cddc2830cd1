//! `sst-tunnel check`'s handshake checks end to end, and the SST's own
//! start-up warnings: `--peer` against `check --listen` on loopback reports
//! both sides' certificates; against an untrusted listener it fails naming
//! the cause; a listener bounds a silent client by the handshake timeout;
//! `--peer` works against a real joiner; a joiner and a donor started with a
//! group-readable key warn naming the file.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod anonymous;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sst_tunnel::pki::{LeafFiles, LeafSpec};
use testkit::check::{
    check_cmd, chmod, node, node_spec, run, sst_lines, write_cnf, FAIL_EXIT, MYSQLD,
};
use testkit::child::Proc;
use testkit::figures::{record, Figure};
use testkit::pki::Pki;
use testkit::project::binary;

/// Starts `check --listen 127.0.0.1:0 --once` and returns it with its address.
fn listener(cnf: &Path) -> (Proc, String) {
    let mut p = Proc::spawn(
        "check --listen",
        check_cmd(cnf, &["--listen", "127.0.0.1:0", "--once"]),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            p.try_status().is_none() || !seen.is_empty(),
            "listener ended: {seen:?}"
        );
        let line = p.stdout_line(left);
        eprintln!("listener: {line}");
        seen.push(line.clone());
        if let Some(rest) = line.split("listening on ").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().to_string();
            return (p, addr);
        }
    }
}

#[test]
fn peer_against_listen_reports_both_certificates() {
    let pki = Pki::new();
    let joiner = node(
        &pki,
        "joiner",
        &LeafSpec::new("joiner.test")
            .dns("localhost")
            .ip("127.0.0.1"),
    );
    let donor = node(
        &pki,
        "donor",
        &LeafSpec::new("donor.test")
            .dns("donor.test")
            .ip("127.0.0.1"),
    );
    let jdir = tempfile::tempdir().unwrap();
    let ddir = tempfile::tempdir().unwrap();
    let jcnf = write_cnf(
        jdir.path(),
        MYSQLD,
        &sst_lines(&pki.ca_file, &joiner.cert, &joiner.key, ""),
    );
    let dcnf = write_cnf(
        ddir.path(),
        MYSQLD,
        &sst_lines(&pki.ca_file, &donor.cert, &donor.key, ""),
    );
    let (mut listen, addr) = listener(&jcnf);
    let out = run("check --peer", &dcnf, &["--peer", &addr]);
    out.assert_code(0);
    out.assert_only_findings();
    let presented = out.line(
        "OK",
        &[&format!("--peer {addr} presented"), "CN=joiner.test"],
    );
    for needle in [
        "DNS:localhost",
        "IP:127.0.0.1",
        "issuer O=sst-tunnel test, CN=test ca",
        "valid",
        "until",
    ] {
        assert!(presented.contains(needle), "{needle} in {presented}");
    }
    out.line(
        "OK",
        &[
            "--peer",
            "mutual TLS handshake complete",
            "TLSv1.3",
            "cipher",
        ],
    );
    out.line(
        "OK",
        &["--peer", "name check passed", "`127.0.0.1`", "san ip"],
    );
    out.line("OK", &["we presented", "CN=donor.test"]);

    listen.assert_exit_code(0, Duration::from_secs(30));
    let rest = listen.remaining_stdout(Duration::from_secs(10)).join("\n");
    assert!(
        rest.contains("presented: subject O=sst-tunnel test, CN=donor.test"),
        "{rest}"
    );
    assert!(rest.contains("DNS:donor.test"), "{rest}");
    assert!(rest.contains("mutual TLS handshake complete"), "{rest}");
    assert!(!rest.contains("FAIL"), "{rest}");
}

#[test]
fn peer_against_an_untrusted_listener_fails_naming_the_cause() {
    let pki = Pki::new();
    // The listener's own configuration is consistent (its CA is the rogue one) …
    let rogue = pki.rogue_leaf(
        "rogue-node",
        &LeafSpec::new("rogue.test").dns("localhost").ip("127.0.0.1"),
    );
    chmod(&rogue.key, 0o600);
    let donor = node(&pki, "donor", &node_spec());
    let jdir = tempfile::tempdir().unwrap();
    let ddir = tempfile::tempdir().unwrap();
    let jcnf = write_cnf(
        jdir.path(),
        MYSQLD,
        &sst_lines(&pki.rogue_file, &rogue.cert, &rogue.key, ""),
    );
    let dcnf = write_cnf(
        ddir.path(),
        MYSQLD,
        &sst_lines(&pki.ca_file, &donor.cert, &donor.key, ""),
    );
    let (mut listen, addr) = listener(&jcnf);
    // … but our CA does not trust it.
    let out = run("check --peer rogue", &dcnf, &["--peer", &addr]);
    out.assert_code(FAIL_EXIT);
    let line = out.line(
        "FAIL",
        &[
            &format!("--peer {addr}"),
            "peer certificate",
            "CN=rogue.test",
            "rejected",
            "certificate chain",
            "trust the same CA",
        ],
    );
    // The listener saw the handshake fail too (our alert), and keeps listening.
    let seen = listen.stdout_line(Duration::from_secs(30));
    assert!(
        seen.starts_with("FAIL") && seen.contains("--listen client"),
        "{seen}"
    );
    assert!(
        listen.try_status().is_none(),
        "--once must wait for a success"
    );
    record(&Figure {
        scenario: "check --peer: untrusted listener".into(),
        time_to_end: Some(out.elapsed),
        exit: format!("peer {}", out.code),
        procs_left: Some(0),
        notes: line,
        ..Figure::default()
    });
}

/// `sst-tunnel joiner --forward` on an ephemeral port with these TLS files;
/// returns it once `ready`, with its port.
fn start_joiner(pki: &Pki, files: &LeafFiles, forward: &str) -> (Proc, u16) {
    let mut cmd = Command::new(binary());
    cmd.args([
        "joiner",
        "--address",
        "127.0.0.1:0",
        "--forward",
        forward,
        "--no-defaults",
    ])
    .arg("--tca")
    .arg(&pki.ca_file)
    .arg("--tcert")
    .arg(&files.cert)
    .arg("--tkey")
    .arg(&files.key);
    let mut p = Proc::spawn("joiner", cmd);
    let ready = p.stdout_line(Duration::from_secs(30));
    // Start-up warnings come before this line on stderr: once it is read, they all are.
    p.stderr_line_matching(|l| l.contains("joiner listening"), Duration::from_secs(30));
    let port = ready
        .strip_prefix("ready 127.0.0.1:")
        .and_then(|r| r.split('/').next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("unexpected ready line {ready:?}"));
    (p, port)
}

/// `sst-tunnel donor --relay-only` to the joiner; returns it once relaying.
fn start_relay(pki: &Pki, files: &LeafFiles, port: u16) -> Proc {
    let mut cmd = Command::new(binary());
    cmd.args(["donor", "--relay-only", "--no-defaults", "--address"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--tca")
        .arg(&pki.ca_file)
        .arg("--tcert")
        .arg(&files.cert)
        .arg("--tkey")
        .arg(&files.key);
    let mut p = Proc::spawn("donor", cmd);
    let line = p.stdout_line(Duration::from_secs(30));
    assert!(
        line.starts_with("relay 127.0.0.1:"),
        "{line}; stderr:\n{}",
        p.stderr()
    );
    // Start-up warnings come before this line on stderr: once it is read, they all are.
    p.stderr_line_matching(|l| l.contains("relaying"), Duration::from_secs(30));
    p
}

#[test]
fn sst_start_warns_about_a_group_readable_key_in_both_roles() {
    let pki = Pki::new();
    let open = pki.leaf("open", &node_spec());
    chmod(&open.key, 0o644);
    let key = open.key.display().to_string();
    let (joiner, port) = start_joiner(&pki, &open, "127.0.0.1:9");
    let relay = start_relay(&pki, &open, port);
    for (role, p) in [("joiner", &joiner), ("donor", &relay)] {
        // The warning is logged before the line start_joiner/start_relay waited for.
        let err = p.stderr();
        let line = err
            .lines()
            .find(|l| l.contains("WARN") && l.contains("readable by"))
            .unwrap_or_else(|| panic!("{role}: no key-permission warning in:\n{err}"));
        assert!(
            line.contains(&format!("[sst] tkey {key}")),
            "{role}: {line}"
        );
        assert!(line.contains("0644"), "{role}: {line}");
    }
    drop(relay);
    drop(joiner);

    let closed = node(&pki, "closed", &node_spec());
    let (joiner, port) = start_joiner(&pki, &closed, "127.0.0.1:9");
    let relay = start_relay(&pki, &closed, port);
    for (role, p) in [("joiner", &joiner), ("donor", &relay)] {
        let err = p.stderr();
        assert!(
            !err.contains("readable by"),
            "{role}: unexpected warning in:\n{err}"
        );
        assert!(
            !err.contains(&closed.key.display().to_string()),
            "{role}: {err}"
        );
    }
}

#[test]
fn peer_against_a_real_joiner_reports_its_certificate() {
    let pki = Pki::new();
    let joiner_files = node(&pki, "joiner", &node_spec());
    let donor = node(&pki, "donor", &LeafSpec::new("donor.test").ip("127.0.0.1"));
    let backend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let forward = backend.local_addr().unwrap().to_string();
    let (mut joiner, port) = start_joiner(&pki, &joiner_files, &forward);
    let dir = tempfile::tempdir().unwrap();
    let dcnf = write_cnf(
        dir.path(),
        MYSQLD,
        &sst_lines(&pki.ca_file, &donor.cert, &donor.key, ""),
    );
    let addr = format!("127.0.0.1:{port}");
    let out = run("check --peer joiner", &dcnf, &["--peer", &addr]);
    out.assert_code(0);
    out.line(
        "OK",
        &[
            &format!("--peer {addr} presented"),
            "CN=node1.test",
            "DNS:node1.test",
        ],
    );
    out.line("OK", &["--peer", "name check passed", "`127.0.0.1`"]);
    // The joiner accepted our certificate and, the check sending no data,
    // closed the connection as a handshake-only one without starting a backend.
    let seen =
        joiner.stderr_line_matching(|l| l.contains("handshake only"), Duration::from_secs(30));
    assert!(seen.contains("CN=donor.test"), "{seen}");
    assert!(!joiner.stderr().contains("ERROR"), "{}", joiner.stderr());
    drop(backend);
}

#[test]
fn listen_bounds_a_silent_client_by_the_handshake_timeout_and_goes_on() {
    let pki = Pki::new();
    let files = node(&pki, "joiner", &node_spec());
    let dir = tempfile::tempdir().unwrap();
    let sst = format!(
        "{}\nsst-handshake-timeout = 1",
        sst_lines(&pki.ca_file, &files.cert, &files.key, "")
    );
    let jcnf = write_cnf(dir.path(), MYSQLD, &sst);
    let (mut listen, addr) = listener(&jcnf);

    // A client that connects and says nothing.
    let silent = std::net::TcpStream::connect(&addr).unwrap();
    let start = Instant::now();
    let line = listen.stdout_line(Duration::from_secs(30));
    let waited = start.elapsed();
    assert!(
        line.starts_with("FAIL") && line.contains("--listen client"),
        "{line}"
    );
    assert!(line.contains("timed out after 1.0s"), "{line}");
    assert!(
        waited < Duration::from_secs(6),
        "the 1 s handshake bound took {waited:?}"
    );
    drop(silent);

    // The listener is still there and serves the next, real, check.
    let ddir = tempfile::tempdir().unwrap();
    let donor = node(&pki, "donor", &node_spec());
    let dcnf = write_cnf(
        ddir.path(),
        MYSQLD,
        &sst_lines(&pki.ca_file, &donor.cert, &donor.key, ""),
    );
    let out = run("check --peer after silent", &dcnf, &["--peer", &addr]);
    out.assert_code(0);
    // --once: the first success ends it; an earlier FAIL makes its exit 22.
    listen.assert_exit_code(FAIL_EXIT, Duration::from_secs(30));
    record(&Figure {
        scenario: "check --listen: silent client (handshake timeout 1 s)".into(),
        time_to_end: Some(waited),
        exit: format!("listener {FAIL_EXIT} after the next success, peer 0"),
        procs_left: Some(0),
        notes: line,
        ..Figure::default()
    });
}

#[test]
fn a_joiner_warns_at_start_when_its_certificate_lacks_the_name_donors_check() {
    let pki = Pki::new();
    let elsewhere = node(
        &pki,
        "elsewhere",
        &LeafSpec::new("elsewhere.test").dns("elsewhere.test"),
    );
    let (joiner, _port) = start_joiner(&pki, &elsewhere, "127.0.0.1:9");
    let err = joiner.stderr();
    let line = err
        .lines()
        .find(|l| l.contains("WARN") && l.contains("--address"))
        .unwrap_or_else(|| panic!("no name warning in:\n{err}"));
    assert!(
        line.contains("`127.0.0.1`") && line.contains("DNS:elsewhere.test"),
        "{line}"
    );
    assert!(line.contains("donors will refuse"), "{line}");
    drop(joiner);

    // With the name in the certificate, no such warning.
    let good = node(&pki, "good", &node_spec());
    let (joiner, _port) = start_joiner(&pki, &good, "127.0.0.1:9");
    let err = joiner.stderr();
    assert!(!err.contains("--address"), "unexpected warning in:\n{err}");
}
