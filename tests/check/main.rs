//! `sst-tunnel check` end to end with the real binary, certificates
//! generated here, real rsync and real handshakes on loopback: a good
//! configuration passes with OK lines; each broken one produces a FAIL line
//! naming the key, the file and the cause, and exit 22; warnings (expiring
//! soon, a group-readable key) leave the exit at 0. The handshake checks
//! (`--peer`, `--listen`) are in tests/check_peer/.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod donors;
mod identity;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sst_tunnel::pki::{Eku, LeafFiles, LeafSpec, Validity};
use testkit::check::{
    check_cmd, chmod, node, node_spec, run, run_check, sst_lines, write_cnf, FAIL_EXIT, MYSQLD,
};
use testkit::figures::{record, Figure};
use testkit::pki::Pki;
use testkit::project::binary;

fn cnf(pki: &Pki, files: &LeafFiles, ca: &Path, sockopt: &str, mysqld: &str) -> std::path::PathBuf {
    write_cnf(
        pki.path(),
        mysqld,
        &sst_lines(ca, &files.cert, &files.key, sockopt),
    )
}

#[test]
fn a_good_configuration_exits_0_with_ok_lines() {
    let pki = Pki::new();
    let files = node(&pki, "node", &node_spec());
    let cnf = cnf(&pki, &files, &pki.ca_file, "verify=1", MYSQLD);
    let out = run("check good", &cnf, &[]);
    out.assert_code(0);
    out.assert_only_findings();
    assert!(out.lines("FAIL").is_empty(), "{}", out.stdout);
    let cert = files.cert.display().to_string();
    let key = files.key.display().to_string();
    out.line(
        "OK",
        &[
            "[sst] tcert",
            &cert,
            "readable and parsable",
            "CN=node1.test",
        ],
    );
    out.line("OK", &["[sst] tkey", &key, "readable and parsable"]);
    out.line(
        "OK",
        &["[sst] tkey", &key, "not readable by group or others"],
    );
    out.line("OK", &["[sst] tkey", &key, "matches the certificate"]);
    out.line("OK", &["[sst] tcert", &cert, "days left"]);
    out.line(
        "OK",
        &["[sst] tcert", &cert, "chain verifies against [sst] tca"],
    );
    out.line("OK", &["[sst] tcert", &cert, "serverAuth", "clientAuth"]);
    out.line("OK", &["[sst] sockopt", "every item understood"]);
    out.line(
        "OK",
        &["wsrep_sst_receive_address", "covers `127.0.0.1`", "san ip"],
    );
    out.line("OK", &["wsrep_sst_receive_address", "SST port free"]);
    out.line("OK", &["rsync", "version"]);
    out.line("OK", &["[mysqld] wsrep_sst_method", "rsync_tunnel"]);
    out.no_line("WARN", &["readable by"]);
}

/// Both methods are recognised; each needs its `wsrep_sst_<method>` on
/// the PATH mariadbd searches, and check says which program is missing.
#[test]
fn each_method_needs_its_program_on_path() {
    let pki = Pki::new();
    let files = node(&pki, "node", &node_spec());
    let mysqld = MYSQLD.replace("rsync_tunnel", "rsync_tunnel_wan");
    assert_ne!(mysqld, MYSQLD, "MYSQLD names the method");
    let cnf = cnf(&pki, &files, &pki.ca_file, "verify=1", &mysqld);
    let out = run("check wan", &cnf, &[]);
    out.assert_code(0);
    out.line(
        "OK",
        &[
            "[mysqld] wsrep_sst_method",
            "`rsync_tunnel_wan`",
            "delta",
            "wsrep_sst_rsync_tunnel_wan",
        ],
    );
    // Without the link on PATH, the method cannot run.
    let mut cmd = check_cmd(&cnf, &[]);
    cmd.env("PATH", "/usr/bin:/bin");
    let out = run_check("check wan missing", cmd);
    out.assert_code(FAIL_EXIT);
    out.line(
        "FAIL",
        &[
            "[mysqld] wsrep_sst_method",
            "wsrep_sst_rsync_tunnel_wan from its PATH",
            "link wsrep_sst_rsync_tunnel_wan to the sst-tunnel binary",
        ],
    );
}

#[test]
fn the_node_address_wins_over_bind_address_host_only_on_port_4444() {
    // In a network namespace of its own, so port 4444 is certainly free
    // and no other test's listener can collide with it.
    let pki = Pki::new();
    let files = node(&pki, "node", &node_spec());
    let cnf = cnf(
        &pki,
        &files,
        &pki.ca_file,
        "",
        "wsrep_sst_method = rsync_tunnel\nwsrep_node_address = node1.test:4567\nbind_address = 127.0.0.1",
    );
    let out = run_check("check isolated", isolated(&cnf, &[]));
    out.assert_code(FAIL_EXIT);
    // The name is right (node1.test is in the certificate) …
    out.line(
        "OK",
        &[
            "[mysqld] wsrep_node_address",
            "SST address node1.test:4444",
            "host only",
        ],
    );
    out.line(
        "OK",
        &["wsrep_node_address", "covers `node1.test`", "san dns"],
    );
    // … but node1.test does not resolve here, which is exactly what a joiner would hit.
    out.line(
        "FAIL",
        &["wsrep_node_address", "cannot bind node1.test:4444"],
    );
}

/// `check` in a fresh network namespace with loopback up.
fn isolated(cnf: &Path, extra: &[&str]) -> Command {
    let mut script = format!(
        "ip link set lo up || exit 97; exec '{}' check --defaults-file '{}'",
        binary().display(),
        cnf.display()
    );
    for e in extra {
        script.push_str(&format!(" '{e}'"));
    }
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "sh", "-c", &script]);
    cmd
}

#[test]
fn each_broken_configuration_fails_naming_key_file_and_cause() {
    let pki = Pki::new();
    let good = node(&pki, "good", &node_spec());
    let other = node(&pki, "other", &node_spec());
    let expired = node(&pki, "expired", &node_spec().expired());
    let unnamed = node(
        &pki,
        "unnamed",
        &LeafSpec::new("elsewhere.test").dns("elsewhere.test"),
    );
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let held_port = held.local_addr().unwrap().port();
    let held_mysqld = format!(
        "wsrep_sst_method = rsync_tunnel\nwsrep_sst_receive_address = 127.0.0.1:{held_port}"
    );
    let cert = good.cert.display().to_string();

    struct Case<'a> {
        name: &'a str,
        sst: String,
        mysqld: &'a str,
        needles: Vec<String>,
    }
    let case = |name,
                files: &LeafFiles,
                key: &Path,
                ca: &Path,
                sockopt: &str,
                mysqld,
                needles: &[&str]| Case {
        name,
        sst: sst_lines(ca, &files.cert, key, sockopt),
        mysqld,
        needles: needles.iter().map(|s| s.to_string()).collect(),
    };
    let expired_cert = expired.cert.display().to_string();
    let pid = format!("pid {}", std::process::id());
    let rogue = pki.rogue_file.display().to_string();
    let cases = vec![
        case(
            "key mismatch",
            &good,
            &other.key,
            &pki.ca_file,
            "",
            MYSQLD,
            &[
                "[sst] tkey",
                &other.key.display().to_string(),
                "does not match the certificate",
                &cert,
            ],
        ),
        case(
            "missing key",
            &good,
            &pki.path().join("absent.key"),
            &pki.ca_file,
            "",
            MYSQLD,
            &[
                "[sst] tkey",
                "absent.key",
                "cannot read the file",
                "No such file",
            ],
        ),
        case(
            "wrong CA",
            &good,
            &good.key,
            &pki.rogue_file,
            "",
            MYSQLD,
            &[
                "[sst] tcert",
                &cert,
                "does not chain to [sst] tca",
                &rogue,
                "unable to get local issuer certificate",
            ],
        ),
        case(
            "expired",
            &expired,
            &expired.key,
            &pki.ca_file,
            "",
            MYSQLD,
            &["[sst] tcert", &expired_cert, "certificate expired on"],
        ),
        case(
            "name not covered",
            &unnamed,
            &unnamed.key,
            &pki.ca_file,
            "",
            MYSQLD,
            &[
                "[mysqld] wsrep_sst_receive_address",
                "my.cnf:4",
                "do not match expected name `127.0.0.1`",
                "DNS:elsewhere.test",
                "donors will refuse",
            ],
        ),
        case(
            "bad sockopt",
            &good,
            &good.key,
            &pki.ca_file,
            "verify=1,bogus=1",
            MYSQLD,
            &[
                "[sst] sockopt",
                "my.cnf:",
                "item `bogus=1`",
                "unknown option",
            ],
        ),
        case(
            "rejected sockopt",
            &good,
            &good.key,
            &pki.ca_file,
            "verify=1,su=nobody",
            MYSQLD,
            &["[sst] sockopt", "item `su=nobody`"],
        ),
        case(
            "port in use",
            &good,
            &good.key,
            &pki.ca_file,
            "",
            &held_mysqld,
            &[
                "[mysqld] wsrep_sst_receive_address",
                "my.cnf:",
                "SST port in use",
                &format!("127.0.0.1:{held_port}"),
                &pid,
            ],
        ),
    ];
    let mut notes = Vec::new();
    let mut slowest = Duration::ZERO;
    for c in &cases {
        let dir = tempfile::tempdir().unwrap();
        let path = write_cnf(dir.path(), c.mysqld, &c.sst);
        let out = run(c.name, &path, &[]);
        assert_eq!(
            out.code, FAIL_EXIT,
            "{}: exit code; stdout:\n{}\nstderr:\n{}",
            c.name, out.stdout, out.stderr
        );
        out.assert_only_findings();
        let needles: Vec<&str> = c.needles.iter().map(String::as_str).collect();
        let line = out.line("FAIL", &needles);
        notes.push(format!("{}: {} FAIL", c.name, out.lines("FAIL").len()));
        slowest = slowest.max(out.elapsed);
        eprintln!("{}: {line}", c.name);
    }
    drop(held);
    record(&Figure {
        scenario: "check: 8 broken configurations".into(),
        time_to_end: Some(slowest),
        exit: format!("{FAIL_EXIT} each"),
        procs_left: Some(0),
        notes: notes.join("; "),
        ..Figure::default()
    });
}

#[test]
fn a_key_we_cannot_read_fails_naming_the_file() {
    // Root reads everything: run the check as uid 65534, with the key left
    // root-only and everything else world-readable.
    let pki = Pki::new();
    chmod(pki.path(), 0o755);
    let files = node(&pki, "node", &node_spec());
    for p in [&files.cert, &pki.ca_file] {
        chmod(p, 0o644);
    }
    let cnf = cnf(&pki, &files, &pki.ca_file, "", MYSQLD);
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(binary())
        .args(["check", "--defaults-file"])
        .arg(&cnf);
    let out = run_check("check as nobody", cmd);
    out.assert_code(FAIL_EXIT);
    let key = files.key.display().to_string();
    let line = out.line(
        "FAIL",
        &[
            "[sst] tkey",
            &key,
            "cannot read the file",
            "Permission denied",
        ],
    );
    record(&Figure {
        scenario: "check: key unreadable by us".into(),
        time_to_end: Some(out.elapsed),
        exit: out.code.to_string(),
        procs_left: Some(0),
        notes: line,
        ..Figure::default()
    });
}

#[test]
fn a_certificate_expiring_within_30_days_is_a_warning_with_the_date() {
    let pki = Pki::new();
    let files = node(&pki, "soon", &node_spec().validity(Validity::Days(10)));
    let cnf = cnf(&pki, &files, &pki.ca_file, "", MYSQLD);
    let out = run("check expiring", &cnf, &[]);
    out.assert_code(0);
    let line = out.line(
        "WARN",
        &[
            "[sst] tcert",
            &files.cert.display().to_string(),
            "expires on",
        ],
    );
    assert!(
        line.contains("(9 days left)") || line.contains("(10 days left)"),
        "{line}"
    );
    assert!(line.contains("GMT"), "the date is shown: {line}");
}

#[test]
fn a_group_readable_key_is_a_warning_naming_the_file() {
    let pki = Pki::new();
    let files = node(&pki, "node", &node_spec());
    chmod(&files.key, 0o640);
    let cnf = cnf(&pki, &files, &pki.ca_file, "", MYSQLD);
    let out = run("check group-readable", &cnf, &[]);
    out.assert_code(0);
    let key = files.key.display().to_string();
    let line = out.line(
        "WARN",
        &[
            "[sst] tkey",
            &key,
            "readable by its group",
            "0640",
            "chmod 600",
        ],
    );
    eprintln!("{line}");
}

#[test]
fn an_eku_without_client_auth_fails_for_the_donor_role() {
    let pki = Pki::new();
    let files = node(&pki, "srv", &node_spec().eku(Eku::ServerOnly));
    let cnf = cnf(&pki, &files, &pki.ca_file, "", MYSQLD);
    let out = run("check eku", &cnf, &[]);
    out.assert_code(FAIL_EXIT);
    out.line(
        "FAIL",
        &[
            "[sst] tcert",
            &files.cert.display().to_string(),
            "cannot act as a client (donor)",
            "clientAuth",
        ],
    );
}

#[test]
fn help_explains_the_levels_and_the_exit_code() {
    let mut cmd = Command::new(binary());
    cmd.args(["check", "--help"]);
    let out = run_check("check --help", cmd);
    out.assert_code(0);
    for needle in [
        "OK ",
        "WARN ",
        "FAIL ",
        "Exit status: 0 when no line is FAIL",
        "22 (EINVAL)",
        "--peer",
        "--listen",
        "--defaults-file",
    ] {
        assert!(
            out.stdout.contains(needle),
            "{needle:?} missing from:\n{}",
            out.stdout
        );
    }
    let mut cmd = Command::new(binary());
    cmd.args(["check", "--once"]);
    let out = run_check("check --once without --listen", cmd);
    out.assert_code(FAIL_EXIT);
}

/// Runs the openssl CLI (for a CA with a short life, which the test PKI does not make).
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl ({e}): apt-get install openssl"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_ca_expiring_within_30_days_is_a_warning_naming_the_tca_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=short ca",
        "-days",
        "12",
    ]);
    openssl(d, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "node.key",
        "-out",
        "node.csr",
        "-subj",
        "/CN=node1.test",
    ]);
    openssl(d, &csr);
    std::fs::write(
        d.join("ext"),
        "subjectAltName=DNS:node1.test,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "node.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "node.crt",
            "-days",
            "200",
            "-extfile",
            "ext",
        ],
    );
    chmod(&d.join("node.key"), 0o600);
    let cnf = write_cnf(
        d,
        MYSQLD,
        &sst_lines(
            &d.join("ca.pem"),
            &d.join("node.crt"),
            &d.join("node.key"),
            "",
        ),
    );
    let out = run("check short CA", &cnf, &[]);
    out.assert_code(0);
    let ca_path = d.join("ca.pem").display().to_string();
    let line = out.line(
        "WARN",
        &[
            "[sst] tca",
            &ca_path,
            "CA certificate CN=short ca",
            "expires on",
            "days left",
        ],
    );
    assert!(
        line.contains("(11 days left)") || line.contains("(12 days left)"),
        "{line}"
    );
    out.line("OK", &["[sst] tcert", "certificate valid until"]);
}

#[test]
fn a_missing_rsync_fails_saying_how_to_install_it() {
    let pki = Pki::new();
    let files = node(&pki, "node", &node_spec());
    let cnf = cnf(&pki, &files, &pki.ca_file, "", MYSQLD);
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = check_cmd(&cnf, &[]);
    cmd.env("PATH", empty.path()).env_remove("RSYNC");
    let out = run_check("check without rsync", cmd);
    out.assert_code(FAIL_EXIT);
    let line = out.line(
        "FAIL",
        &["rsync", "not found in PATH", "apt-get install rsync"],
    );
    // Everything else was still checked.
    out.line("OK", &["[sst] tcert", "chain verifies"]);
    record(&Figure {
        scenario: "check: rsync missing from PATH".into(),
        time_to_end: Some(out.elapsed),
        exit: out.code.to_string(),
        procs_left: Some(0),
        notes: line,
        ..Figure::default()
    });
}
