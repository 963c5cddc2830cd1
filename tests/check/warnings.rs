//! `check` warnings that leave the exit at 0: a certificate or CA expiring
//! within 30 days (with the date and the file), a group-readable key.

use std::path::Path;
use std::process::Command;

use sst_tunnel::pki::Validity;
use testkit::check::{chmod, node, node_spec, run, sst_lines, write_cnf, MYSQLD};
use testkit::pki::Pki;

use super::cnf;

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
