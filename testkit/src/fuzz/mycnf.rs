//! Option-file contents (`my.cnf`) through `OptionFiles::parse`: no panic,
//! errors name the file and a line that exists, every entry is labelled with
//! the file and a real line, and an entry written back as a quoted option
//! line reads back as the same key and value.

use std::path::Path;

use sst_tunnel::config::mycnf::{MyCnfError, OptionEntry, OptionFiles, MYSQLD};

/// MariaDB's read size minus one (see the `line` module of mycnf).
const CHUNK: usize = 4094;

/// Runs one input; panics when an invariant does not hold.
pub fn check(data: &[u8]) {
    let path = Path::new("/fuzz/my.cnf");
    // The most line numbers the reader can report: lines, long ones cut
    // into CHUNK-byte pieces.
    let max_line: usize = data
        .split_inclusive(|&b| b == b'\n')
        .map(|l| l.len().div_ceil(CHUNK))
        .sum();
    match OptionFiles::parse(path, data) {
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("/fuzz/my.cnf"),
                "error does not name the file: {msg}"
            );
            let line = match &e {
                MyCnfError::OptionWithoutGroup { line, .. }
                | MyCnfError::WrongGroup { line, .. }
                | MyCnfError::WrongDirective { line, .. } => *line,
                other => panic!("parse without a file system gave {other:?}"),
            };
            assert!((1..=max_line).contains(&line), "line {line} of {max_line}");
        }
        Ok(files) => {
            assert!(files.warnings().is_empty(), "{:?}", files.warnings());
            assert_eq!(files.files_read(), [path]);
            for entry in files.entries() {
                assert_eq!(entry.path, path);
                assert!((1..=max_line).contains(&entry.line), "{entry:?}");
                assert!(entry.to_line().starts_with("--"));
                round_trip(entry);
            }
            // Lookups over whatever was read never panic.
            let _ = files.print_defaults(&[MYSQLD, "sst", "client"]);
            for entry in files.entries().iter().take(8) {
                let _ = files.get_str(&["sst", MYSQLD], &entry.key);
                let _ = files.has(&[&entry.group], &entry.key);
            }
        }
    }
}

/// Writes `[group]` and `key="value"` (value escaped) and reads them back,
/// for keys and groups that can be written back verbatim.
fn round_trip(entry: &OptionEntry) {
    let plain_key = !entry.key.is_empty()
        && !entry.key.starts_with(['[', '!', '#', ';'])
        && entry
            .key
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'=' | b'#' | b'"' | b'\'' | b'\\'));
    let plain_group = !entry.group.contains(['\n', ']', '\0'])
        && !entry
            .group
            .ends_with(|c: char| c.is_whitespace() || c == '\u{a0}');
    if !plain_key || !plain_group {
        return;
    }
    let mut text = format!("[{}]\n{}", entry.group, entry.key);
    if let Some(value) = &entry.value {
        text.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => text.push_str("\\\\"),
                '"' => text.push_str("\\\""),
                '\n' => text.push_str("\\n"),
                '\t' => text.push_str("\\t"),
                '\r' => text.push_str("\\r"),
                '\u{8}' => text.push_str("\\b"),
                c => text.push(c),
            }
        }
        text.push('"');
    }
    text.push('\n');
    if text.lines().any(|l| l.len() + 1 > CHUNK) {
        return;
    }
    let again = OptionFiles::parse(Path::new("/fuzz/again.cnf"), text.as_bytes())
        .unwrap_or_else(|e| panic!("{text:?} written back from {entry:?} fails: {e}"));
    let [back] = again.entries() else {
        panic!(
            "{text:?} written back from {entry:?} gives {:?}",
            again.entries()
        );
    };
    assert_eq!(
        (&back.group, &back.key, &back.value),
        (&entry.group, &entry.key, &entry.value),
        "{text:?}"
    );
}
