//! The files under packaging/ that are not generated: the RPM spec's version
//! follows Cargo.toml, and the example option file shipped as documentation
//! names exactly the `[sst]` keys the program reads, with values it accepts.

#![allow(clippy::expect_used)] // tests: a panic is the failure report

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sst_tunnel::config::keys::keys;
use sst_tunnel::config::ConfigArgs;
use sst_tunnel::config::Settings;

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
    let known: BTreeSet<String> = keys().iter().map(|k| k.name.to_owned()).collect();
    assert_eq!(found, known, "{EXAMPLE} and config::keys differ");
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

/// The example's commented-out lines show each numeric key at the value the
/// program uses when the key is absent (its one definition: config::keys).
#[test]
fn example_shows_the_programs_own_defaults() {
    let text = repo_file(EXAMPLE);
    let commented: Vec<(String, String)> = sst_lines(&text)
        .into_iter()
        .filter(|(active, _, _)| !active)
        .map(|(_, k, v)| (k, v))
        .collect();
    let mut checked = 0;
    for key in keys() {
        if key.default.parse::<i64>().is_err() {
            continue;
        }
        let (_, value) = commented
            .iter()
            .find(|(k, _)| k == key.name)
            .unwrap_or_else(|| panic!("{EXAMPLE} has no commented-out {} line", key.name));
        assert_eq!(
            value, &key.default,
            "{EXAMPLE} shows {} = {value}, the program's default is {}",
            key.name, key.default
        );
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} numeric defaults checked");
}

/// README's configuration table lists every key, in the program's order,
/// with the program's default first in its default column.
#[test]
fn readme_table_lists_every_key_with_its_default() {
    let readme = repo_file("README.md");
    let rows: Vec<(String, String)> = readme
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let default = cells.get(2)?.replace(['*', '`'], "");
            Some((name.to_owned(), default))
        })
        .collect();
    let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    let expected: Vec<&str> = keys().iter().map(|k| k.name).collect();
    assert_eq!(
        names, expected,
        "README's configuration table and config::keys differ"
    );
    for (key, (_, default)) in keys().iter().zip(&rows) {
        assert!(
            default.starts_with(&key.default),
            "README gives {} the default {default:?}, the program {:?}",
            key.name,
            key.default
        );
    }
}
