//! The files under packaging/ that are not generated: the RPM spec's version
//! follows Cargo.toml, and the example option file shipped as documentation
//! names exactly the `[sst]` keys the program reads, with values it accepts.

#![allow(clippy::expect_used)] // tests: a panic is the failure report

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sst_tunnel::config::ConfigArgs;
use sst_tunnel::config::{Settings, KEYS};

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

const EXAMPLE: &str = "packaging/sst-tunnel.cnf";

/// `key = value` lines of the `[sst]` group, active or commented out (`#key = value`).
fn sst_lines(text: &str) -> Vec<(bool, String, String)> {
    let mut group = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(g) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            group = g.to_owned();
            continue;
        }
        if group != "sst" {
            continue;
        }
        let (active, body) = match line.strip_prefix('#') {
            Some(rest) => (false, rest),
            None => (true, line),
        };
        // Prose comments have spaces before '=' or none at all.
        let Some((key, value)) = body.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || key.contains(' ') || body.starts_with(' ') {
            continue;
        }
        out.push((active, key.to_owned(), value.trim().to_owned()));
    }
    out
}

fn resolve(text: &str) -> Settings {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sst-tunnel.cnf");
    std::fs::write(&file, text).expect("write option file");
    let args = ConfigArgs {
        defaults_file: Some(file),
        ..ConfigArgs::default()
    };
    let files = Settings::load_files(&args).unwrap_or_else(|e| panic!("{e}"));
    Settings::resolve(&args, files).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn spec_version_is_cargo_version() {
    let spec = repo_file("packaging/rpm/sst-tunnel.spec");
    let version = spec
        .lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(str::trim)
        .expect("spec has a Version: line");
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let changelog = spec
        .lines()
        .skip_while(|l| !l.starts_with("%changelog"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        changelog.ends_with(&format!("- {version}-1")),
        "newest %changelog entry is not {version}-1: {changelog}"
    );
}

#[test]
fn example_names_every_sst_key_and_no_other() {
    let text = repo_file(EXAMPLE);
    let found: BTreeSet<String> = sst_lines(&text).into_iter().map(|(_, k, _)| k).collect();
    let known: BTreeSet<String> = KEYS.iter().map(|(k, _, _)| (*k).to_owned()).collect();
    assert_eq!(found, known, "{EXAMPLE} and config::KEYS differ");
    assert!(
        text.contains("wsrep_sst_method = rsync_tunnel"),
        "{EXAMPLE} does not select the method"
    );
}

#[test]
fn example_as_shipped_and_fully_uncommented_is_accepted() {
    let text = repo_file(EXAMPLE);
    let shipped = resolve(&text);
    assert_eq!(
        shipped.tls.cert,
        PathBuf::from("/etc/pki/tls/certs/galera-node.crt")
    );
    assert_eq!(
        shipped.tls.key,
        Some(PathBuf::from("/etc/pki/tls/private/galera-node.key"))
    );
    // Every commented key shows its default (or a valid example): all of
    // them switched on must still be a valid configuration.
    let all: String = text
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if !rest.starts_with(' ') && rest.contains('=') => format!("{rest}\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    let everything = resolve(&all);
    assert_eq!(everything.timeouts.initial, shipped.timeouts.initial);
    assert_eq!(everything.timeouts.idle, shipped.timeouts.idle);
    assert_eq!(everything.timeouts.handshake, shipped.timeouts.handshake);
    assert_eq!(everything.timeouts.close, shipped.timeouts.close);
    assert_eq!(everything.max_connections, shipped.max_connections);
    assert_eq!(everything.max_binlogs, shipped.max_binlogs);
    assert_eq!(everything.bwlimit_kib, shipped.bwlimit_kib);
    assert_eq!(everything.parallel, Some(4));
    assert_eq!(
        everything.tls.ca_path,
        Some(PathBuf::from("/etc/pki/tls/certs"))
    );
}
