//! `sst-tunnel check` end to end with the real binary, certificates
//! generated here, real rsync and real handshakes on loopback: a good
//! configuration passes with OK lines; each broken one produces a FAIL line
//! naming the key, the file and the cause, and exit 22; warnings (expiring
//! soon, a group-readable key) leave the exit at 0. The handshake checks
//! (`--peer`, `--listen`) are in tests/check_peer/; broken configurations
//! in broken.rs, warnings in warnings.rs.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod broken;
mod donors;
mod identity;
mod warnings;

use std::path::Path;
use std::process::Command;

use sst_tunnel::pki::{Eku, LeafFiles};
use testkit::check::{
    check_cmd, node, node_spec, run, run_check, sst_lines, write_cnf, FAIL_EXIT, MYSQLD,
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
