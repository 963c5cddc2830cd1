//! Fixture data directories (a few MB shaped like a Galera node's) and the
//! comparison of what arrived on the joiner with what the protocol ships.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The state the fake donor server reports in `tables_flushed`.
pub const UUID: &str = "dfb80123-e655-11f1-b862-272c1aae4adb";

fn put(root: &Path, rel: &str, len: usize) {
    let p = root.join(rel);
    if let Some(d) = p.parent() {
        fs::create_dir_all(d).unwrap();
    }
    fs::write(&p, crate::bytes::named(rel, len)).unwrap();
}

fn grastate(uuid: &str) -> String {
    format!(
        "# GALERA saved state\nversion: 2.1\nuuid:    {uuid}\nseqno:   -1\nsafe_to_bootstrap: 0\n"
    )
}

/// A donor datadir: schema directories (one empty, one with an encoded
/// name), InnoDB system/log/undo files, Aria logs, two binlogs and their
/// index, and node-local files that must not be shipped.
pub fn populate_donor(d: &Path) {
    fs::write(d.join("grastate.dat"), grastate(UUID)).unwrap();
    put(d, "galera.cache", 256 * 1024);
    fs::write(d.join("gvwstate.dat"), "my_uuid: donor\n").unwrap();
    fs::write(d.join("mysqld.pid"), "4242\n").unwrap();
    put(d, "ibdata1", 2 * 1024 * 1024);
    put(d, "ib_logfile0", 1024 * 1024);
    put(d, "undo001", 256 * 1024);
    put(d, "aria_log_control", 52);
    put(d, "aria_log.00000001", 64 * 1024);
    put(d, "mysql-bin.000001", 64 * 1024);
    put(d, "mysql-bin.000002", 32 * 1024 + 7);
    fs::write(
        d.join("mysql-bin.index"),
        "./mysql-bin.000001\n./mysql-bin.000002\n",
    )
    .unwrap();
    for f in [
        "mysql/db.opt",
        "mysql/user.frm",
        "mysql/global_priv.frm",
        "mysql/global_priv.MAI",
        "mysql/global_priv.MAD",
        "mysql/gtid_slave_pos.frm",
    ] {
        put(d, f, 3000);
    }
    put(d, "mysql/innodb_index_stats.ibd", 96 * 1024);
    put(d, "mysql/gtid_slave_pos.ibd", 96 * 1024);
    put(d, "performance_schema/db.opt", 65);
    put(d, "db1/db.opt", 65);
    put(d, "db1/t1.frm", 1000);
    put(d, "db1/t1.ibd", 1024 * 1024);
    put(d, "db1/t2.frm", 1000);
    put(d, "db1/t2.ibd", 512 * 1024 + 3);
    fs::set_permissions(d.join("db1/t2.ibd"), fs::Permissions::from_mode(0o640)).unwrap();
    put(d, "db2/db.opt", 65);
    put(d, "db2/big.ibd", 1536 * 1024);
    put(d, "my@002ddb/db.opt", 65);
    put(d, "my@002ddb/t@0020x.ibd", 20 * 1024);
    fs::create_dir_all(d.join("empty_schema")).unwrap();
}

/// A joiner datadir before SST: its own grastate, an old binlog and index,
/// a stale table and a schema the donor does not have.
pub fn populate_joiner(d: &Path) {
    fs::write(
        d.join("grastate.dat"),
        grastate("11111111-2222-3333-4444-555555555555"),
    )
    .unwrap();
    put(d, "mysql-bin.000007", 1000);
    fs::write(d.join("mysql-bin.index"), "./mysql-bin.000007\n").unwrap();
    put(d, "db1/stale.ibd", 5000);
    put(d, "old_schema/t.ibd", 5000);
}

/// One entry of a tree snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A directory with its permission bits.
    Dir(u32),
    /// A file: permission bits and content.
    File(u32, Vec<u8>),
}

/// Relative path → entry, for a whole tree.
pub type Tree = BTreeMap<String, Entry>;

/// Snapshots `root` recursively (symlinks are not expected).
pub fn snapshot(root: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let md = fs::symlink_metadata(&p).unwrap();
            let mode = md.permissions().mode() & 0o7777;
            if md.is_dir() {
                out.insert(rel, Entry::Dir(mode));
                walk(root, &p, out);
            } else {
                out.insert(rel, Entry::File(mode, fs::read(&p).unwrap()));
            }
        }
    }
    let mut t = Tree::new();
    walk(root, root, &mut t);
    t
}

/// True for a top-level donor file the protocol ships through the main or
/// log module (checklist: `ibdata*`, `ib_lru_dump`, `ib_logfile[0-9]*`,
/// `undo*`, `aria_log_control`, `aria_log.*`).
pub fn shipped_top_file(name: &str) -> bool {
    name.starts_with("ibdata")
        || name == "ib_lru_dump"
        || (name.starts_with("ib_logfile") && name[10..].bytes().all(|b| b.is_ascii_digit()))
        || name.starts_with("undo")
        || name == "aria_log_control"
        || name.starts_with("aria_log.")
}

/// The donor entries an SST ships (directories recursively, the shipped
/// top-level files); binlogs are checked separately.
pub fn shipped(donor: &Tree) -> Tree {
    donor
        .iter()
        .filter(|(rel, e)| match rel.split_once('/') {
            Some(_) => true,
            None => matches!(e, Entry::Dir(_)) || shipped_top_file(rel),
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn describe(e: &Entry) -> String {
    match e {
        Entry::Dir(m) => format!("dir {m:o}"),
        Entry::File(m, c) => format!("file {m:o} {} bytes", c.len()),
    }
}

/// Asserts two trees are equal, listing missing, extra and differing paths.
pub fn assert_trees_equal(what: &str, actual: &Tree, expected: &Tree) {
    let mut problems = Vec::new();
    for (k, v) in expected {
        match actual.get(k) {
            None => problems.push(format!("missing {k} ({})", describe(v))),
            Some(a) if a != v => problems.push(format!(
                "differs {k}: expected {}, got {}",
                describe(v),
                describe(a)
            )),
            Some(_) => {}
        }
    }
    for (k, v) in actual {
        if !expected.contains_key(k) {
            problems.push(format!("unexpected {k} ({})", describe(v)));
        }
    }
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

/// Removes the binlog files and index from a snapshot (checked by
/// [`assert_binlogs`]).
pub fn without_binlogs(t: &Tree) -> Tree {
    t.iter()
        .filter(|(k, _)| !k.starts_with("mysql-bin."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The joiner's binlogs after SST: exactly `names` (with the donor's
/// content), and `mysql-bin.index` listing exactly them in order, each line
/// pointing at the file (relative to the datadir or absolute).
pub fn assert_binlogs(joiner: &Path, donor: &Path, names: &[&str]) {
    let mut have: Vec<String> = fs::read_dir(joiner)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("mysql-bin.") && n != "mysql-bin.index")
        .collect();
    have.sort();
    assert_eq!(have, names, "joiner binlog files");
    for n in names {
        assert_eq!(
            fs::read(joiner.join(n)).unwrap(),
            fs::read(donor.join(n)).unwrap(),
            "binlog {n} content"
        );
    }
    let index = fs::read_to_string(joiner.join("mysql-bin.index"))
        .unwrap_or_else(|e| panic!("joiner mysql-bin.index: {e}"));
    let lines: Vec<&str> = index.lines().collect();
    assert_eq!(lines.len(), names.len(), "index {index:?}");
    for (line, n) in lines.iter().zip(names) {
        let p = Path::new(line);
        assert_eq!(
            p.file_name().map(|f| f.to_string_lossy().into_owned()),
            Some(n.to_string()),
            "index line {line:?}"
        );
        let resolved = if p.is_absolute() {
            p.to_path_buf()
        } else {
            joiner.join(p)
        };
        assert!(
            resolved.is_file(),
            "index line {line:?} does not point at a file"
        );
        assert_eq!(
            fs::canonicalize(&resolved).unwrap(),
            fs::canonicalize(joiner.join(n)).unwrap(),
            "index line {line:?}"
        );
    }
    assert!(
        index.ends_with('\n'),
        "index {index:?} lacks a final newline"
    );
}
