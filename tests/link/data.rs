//! The data these tests move: an InnoDB-like data directory (16 KiB pages:
//! a system tablespace, a redo log, schema directories of big, middling
//! and small tablespaces) and a joiner's copy of it holding 90 % of its
//! bytes. The bytes come from `testkit::bytes`, so every run moves the same.

use std::fs;
use std::path::Path;

use testkit::bytes::named;
use testkit::fake_mariadbd::datadir::{snapshot, Entry};

/// InnoDB's page size; the unit of what differs between donor and joiner.
pub const PAGE: usize = 16 * 1024;

/// An InnoDB-like data directory of `schemas` schema directories of
/// `per_schema` bytes each (16 KiB pages), plus a system tablespace and a
/// redo log. Returns its size in bytes.
pub fn make_datadir(dir: &Path, schemas: usize, per_schema: usize) -> usize {
    let mut files = vec![
        ("ibdata1".to_string(), 48 * PAGE),
        ("ib_logfile0".to_string(), 32 * PAGE),
    ];
    for d in 1..=schemas {
        let pages = per_schema / PAGE;
        files.push((format!("db{d}/big.ibd"), pages / 2 * PAGE));
        files.push((format!("db{d}/mid.ibd"), pages / 4 * PAGE));
        for t in 0..pages / 4 / 8 {
            files.push((format!("db{d}/t{t}.ibd"), 8 * PAGE));
        }
    }
    for (rel, len) in &files {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, named(rel, *len)).unwrap();
    }
    files.iter().map(|(_, len)| len).sum()
}

/// `to` becomes a copy of `from` with every tenth page of every file
/// different: a joiner that holds 90 % of the donor's bytes. Returns the
/// bytes that differ.
pub fn seed_ninety_percent(from: &Path, to: &Path) -> usize {
    let _ = fs::remove_dir_all(to);
    let mut changed = 0;
    for (rel, entry) in snapshot(from) {
        let Entry::File(_, mut content) = entry else {
            continue;
        };
        for page in (5..content.len() / PAGE).step_by(10) {
            let other = named(&format!("{rel} page {page}"), PAGE);
            content[page * PAGE..(page + 1) * PAGE].copy_from_slice(&other);
            changed += PAGE;
        }
        let path = to.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    changed
}
