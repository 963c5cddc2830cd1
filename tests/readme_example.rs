//! The my.cnf example of the README (the ```ini block right after the
//! `<!-- tested: readme-mycnf-example -->` marker) is a configuration
//! `sst-tunnel check` passes: its /etc/mysql/ssl/ paths are moved into a
//! temp directory holding certificates generated for the example's node
//! address, and the check must exit 0 with the expected OK lines. It runs in
//! a network namespace of its own, so the example's port 4444 is free.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sst_tunnel::config::mycnf::{DefaultsArgs, OptionFiles, MYSQLD};
use sst_tunnel::pki::{Ca, LeafSpec};
use testkit::check::{chmod, method_path, run_check};
use testkit::project::binary;

const MARKER: &str = "<!-- tested: readme-mycnf-example -->";
const SSL_DIR: &str = "/etc/mysql/ssl/";

/// The ```ini block immediately after the marker line.
fn example() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let mut lines = readme.lines();
    lines
        .by_ref()
        .find(|l| l.trim() == MARKER)
        .unwrap_or_else(|| panic!("README.md lost the marker line {MARKER}"));
    assert_eq!(
        lines.next().map(str::trim),
        Some("```ini"),
        "the marker must be immediately followed by a ```ini block"
    );
    let block: Vec<&str> = lines.take_while(|l| l.trim() != "```").collect();
    assert!(!block.is_empty(), "empty example block");
    block.join("\n") + "\n"
}

fn read(cnf: &Path) -> OptionFiles {
    OptionFiles::load(&DefaultsArgs {
        defaults_file: Some(cnf.to_path_buf()),
        ..DefaultsArgs::default()
    })
    .unwrap()
}

fn sst_path(files: &OptionFiles, key: &str) -> PathBuf {
    let value = files
        .get_str(&["sst"], key)
        .unwrap_or_else(|| panic!("the README example sets no [sst] {key}"));
    PathBuf::from(value)
}

#[test]
fn the_readme_mycnf_example_passes_check() {
    let text = example();
    assert!(
        text.contains(SSL_DIR),
        "the example keeps its files under {SSL_DIR}"
    );
    let dir = tempfile::tempdir().unwrap();
    let ssl = dir.path().join("ssl");
    std::fs::create_dir(&ssl).unwrap();
    let rewritten = text.replace(SSL_DIR, &format!("{}/", ssl.display()));
    let cnf = dir.path().join("my.cnf");
    std::fs::write(&cnf, &rewritten).unwrap();

    // Certificates matching what the example names.
    let files = read(&cnf);
    let node_address = files
        .get_str(&[MYSQLD], "wsrep_node_address")
        .expect("the example sets wsrep_node_address")
        .to_string();
    let host = node_address.split(':').next().unwrap().to_string();
    assert_eq!(
        files.get_str(&[MYSQLD], "wsrep_sst_method"),
        Some("rsync_tunnel")
    );
    let (tca, tcert, tkey) = (
        sst_path(&files, "tca"),
        sst_path(&files, "tcert"),
        sst_path(&files, "tkey"),
    );
    let ca = Ca::new("readme example ca").unwrap();
    std::fs::write(&tca, ca.cert_pem().unwrap()).unwrap();
    let spec = if host.parse::<std::net::IpAddr>().is_ok() {
        LeafSpec::new("node1").ip(&host)
    } else {
        LeafSpec::new(&host).dns(&host)
    };
    let leaf = ca.issue(&spec).unwrap();
    std::fs::write(&tcert, leaf.chain_pem().unwrap()).unwrap();
    std::fs::write(&tkey, leaf.key_pem().unwrap()).unwrap();
    chmod(&tkey, 0o600);

    let script = format!(
        "ip link set lo up || exit 97; exec '{}' check --defaults-file '{}'",
        binary().display(),
        cnf.display()
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "sh", "-c", &script])
        .env("PATH", method_path(dir.path()));
    let out = run_check("check readme example", cmd);
    out.assert_code(0);
    out.assert_only_findings();
    assert!(out.lines("FAIL").is_empty(), "{}", out.stdout);
    let (cert, key) = (tcert.display().to_string(), tkey.display().to_string());
    out.line("OK", &["[sst] tcert", &cert, "readable and parsable"]);
    out.line("OK", &["[sst] tkey", &key, "readable and parsable"]);
    out.line("OK", &["[sst] tkey", &key, "matches the certificate"]);
    out.line(
        "OK",
        &["[sst] tkey", &key, "not readable by group or others"],
    );
    out.line(
        "OK",
        &[
            "[sst] tcert",
            &cert,
            "chain verifies against [sst] tca",
            &tca.display().to_string(),
        ],
    );
    out.line("OK", &["[sst] tcert", &cert, "serverAuth", "clientAuth"]);
    out.line("OK", &["[sst] sockopt", "every item understood"]);
    out.line("OK", &["[sst] sockopt", "TLS contexts build"]);
    out.line("OK", &["[mysqld] wsrep_sst_method", "rsync_tunnel"]);
    out.line(
        "OK",
        &[
            "[mysqld] wsrep_node_address",
            &format!("SST address {host}:4444"),
        ],
    );
    out.line(
        "OK",
        &["[mysqld] wsrep_node_address", &format!("covers `{host}`")],
    );
    out.line(
        "OK",
        &["[mysqld] wsrep_node_address", "SST port free", ":4444"],
    );
    out.line("OK", &["rsync", "version"]);
}
