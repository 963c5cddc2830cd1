//! `check` on broken configurations: each one produces a FAIL line naming
//! the key, the file and the cause, and exit 22; a key we cannot read names
//! the file.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sst_tunnel::pki::{LeafFiles, LeafSpec};
use testkit::check::{
    chmod, node, node_spec, run, run_check, sst_lines, write_cnf, FAIL_EXIT, MYSQLD,
};
use testkit::figures::{record, Figure};
use testkit::pki::Pki;
use testkit::project::binary;

use super::cnf;

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
