//! Hostile installs with real files (issue 9): an index forged during the
//! transfer or by a previous one, links planted where the joiner writes,
//! tar entries that are not binlogs, a tar or a binlog directory replaced by
//! a link. Each case compares the whole temp tree (data directory and the
//! outside victims) byte for byte before and after.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::Command;

use super::*;
use crate::exit::ExitCode;

/// A joiner: `data/` (the datadir, also the binlog dir) with an old binlog
/// and index, `ibdata1` and an Aria log; `outside/` with files that nothing
/// the donor sends may touch.
struct Joiner {
    tmp: tempfile::TempDir,
    data: PathBuf,
    outside: PathBuf,
    b: BinlogPaths,
}

impl Joiner {
    fn new() -> Joiner {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let outside = tmp.path().join("outside");
        fs::create_dir(&data).unwrap();
        fs::create_dir(&outside).unwrap();
        for (path, body) in [
            (data.join("mysql-bin.000007"), "old binlog"),
            (data.join("mysql-bin.index"), "./mysql-bin.000007\n"),
            (data.join("ibdata1"), "system tablespace"),
            (data.join("aria_log.00000001"), "aria log"),
            (outside.join("victim"), "precious"),
            (outside.join("mysql-bin.000001"), "someone else's binlog"),
        ] {
            fs::write(path, body).unwrap();
        }
        let b = BinlogPaths {
            dir: data.clone(),
            base: "mysql-bin".into(),
            index: data.join("mysql-bin.index"),
            index_prefix: PathBuf::from("."),
        };
        Joiner {
            tmp,
            data,
            outside,
            b,
        }
    }

    fn tar(&self) -> PathBuf {
        self.data.join(BINLOG_TAR)
    }

    fn read(&self, p: &str) -> String {
        fs::read_to_string(self.tmp.path().join(p)).unwrap()
    }

    fn tree(&self) -> Tree {
        snapshot(self.tmp.path())
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Node {
    Dir,
    File(Vec<u8>),
    Link(PathBuf),
    /// A FIFO or the like: never opened (it would block).
    Special,
}

type Tree = BTreeMap<PathBuf, Node>;

/// Every path under `root`, links recorded as links (never followed).
fn snapshot(root: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, out: &mut Tree) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let t = fs::symlink_metadata(&p).unwrap().file_type();
            if t.is_symlink() {
                out.insert(rel, Node::Link(fs::read_link(&p).unwrap()));
            } else if t.is_dir() {
                out.insert(rel, Node::Dir);
                walk(root, &p, out);
            } else if t.is_file() {
                out.insert(rel, Node::File(fs::read(&p).unwrap()));
            } else {
                out.insert(rel, Node::Special);
            }
        }
    }
    let mut out = Tree::new();
    walk(root, root, &mut out);
    out
}

/// Writes a tar of raw entries (names copied into the header as they are,
/// bypassing the tar crate's own checks), each `body` as its content.
fn raw_tar(path: &Path, entries: &[(&[u8], tar::EntryType, &[u8])]) {
    let mut b = tar::Builder::new(File::create(path).unwrap());
    for (name, kind, body) in entries {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
        h.set_entry_type(*kind);
        h.set_mode(0o640);
        if kind.is_symlink() {
            h.set_link_name("/etc/passwd").unwrap();
        }
        let body: &[u8] = if kind.is_file() { body } else { b"" };
        h.set_size(body.len() as u64);
        h.set_cksum();
        b.append(&h, body).unwrap();
    }
    b.finish().unwrap();
}

fn file_tar(path: &Path, names: &[&str]) {
    let entries: Vec<(&[u8], tar::EntryType, &[u8])> = names
        .iter()
        .map(|n| (n.as_bytes(), tar::EntryType::Regular, n.as_bytes()))
        .collect();
    raw_tar(path, &entries);
}

/// Runs `install` expecting a refusal; the tree must be exactly as before.
fn refused(j: &Joiner, old: &OldBinlogs) -> BinlogError {
    let before = j.tree();
    let e = install(&j.data, &j.b, old).unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::TransferFailed);
    assert_eq!(j.tree(), before, "refused install changed files: {e}");
    e
}

#[test]
fn hostile_entries_are_refused_before_anything_is_deleted_or_written() {
    use tar::EntryType::{Regular, Symlink};
    let ok: (&[u8], tar::EntryType, &[u8]) = (b"mysql-bin.000002", Regular, b"ok");
    let cases: [(&[u8], tar::EntryType, &str); 13] = [
        (
            b"mysql-bin.000003\nmysql-bin.000009",
            Regular,
            "name contains a line break",
        ),
        (b"mysql-bin.000003\r", Regular, "name contains a line break"),
        (b"mysql-bin..000003", Regular, "name contains '..'"),
        (b"..", Regular, "empty or dot name"),
        (b"../escape.000001", Regular, "name contains '/'"),
        (b"/etc/cron.d/x", Regular, "name contains '/'"),
        (b"sub/mysql-bin.000003", Regular, "name contains '/'"),
        (b"ibdata1", Regular, "not a binlog name (<stem>.<digits>)"),
        (
            b"mysql-bin.index",
            Regular,
            "not a binlog name (<stem>.<digits>)",
        ),
        (b".mysql-bin.000003", Regular, "name starts with '.'"),
        (b"mysql-bin.000003", Symlink, "not a regular file"),
        (
            b"other-bin.000003",
            Regular,
            "stem differs from the first entry's",
        ),
        (b"mysql-bin.000002", Regular, "duplicate entry"),
    ];
    for (name, kind, reason) in cases {
        let j = Joiner::new();
        let old = OldBinlogs::read(&j.data, &j.b).unwrap();
        raw_tar(&j.tar(), &[ok, (name, kind, b"pwned")]);
        let e = refused(&j, &old);
        let shown = String::from_utf8_lossy(name).escape_debug().to_string();
        assert_eq!(
            e.to_string(),
            format!(
                "binlog tar {} has a forbidden entry '{shown}' ({reason})",
                j.tar().display()
            )
        );
    }
}

#[test]
fn an_entry_named_as_the_index_is_refused() {
    let mut j = Joiner::new();
    j.b.index = j.data.join("binlog.1");
    let old = OldBinlogs::read(&j.data, &j.b).unwrap();
    file_tar(&j.tar(), &["binlog.1"]);
    let e = refused(&j, &old);
    assert!(
        e.to_string()
            .ends_with("forbidden entry 'binlog.1' (name of the binlog index)"),
        "{e}"
    );
}

/// After the old binlogs are gone, anything left with a shipped name is not
/// ours: an Aria log in the datadir, a link the donor planted.
#[test]
fn an_existing_file_that_is_not_an_old_binlog_is_not_replaced() {
    let j = Joiner::new();
    let old = OldBinlogs::read(&j.data, &j.b).unwrap();
    file_tar(&j.tar(), &["aria_log.00000001"]);
    let e = refused(&j, &old);
    assert_eq!(
        e.to_string(),
        format!(
            "{} already exists and is not an old binlog, refusing to replace it",
            j.data.join("aria_log.00000001").display()
        )
    );

    let j = Joiner::new();
    let old = OldBinlogs::read(&j.data, &j.b).unwrap();
    symlink(j.outside.join("victim"), j.data.join("db1-bin.000002")).unwrap();
    file_tar(&j.tar(), &["db1-bin.000002"]);
    let e = refused(&j, &old);
    assert!(e.to_string().starts_with(&format!(
        "{} already exists",
        j.data.join("db1-bin.000002").display()
    )));
}

#[test]
fn a_tar_that_is_not_a_regular_file_is_refused() {
    let j = Joiner::new();
    let old = OldBinlogs::read(&j.data, &j.b).unwrap();
    let real = j.outside.join("real.tar");
    file_tar(&real, &["mysql-bin.000002"]);
    symlink(&real, j.tar()).unwrap();
    assert!(tar_arrived(&j.data));
    let e = refused(&j, &old);
    assert_eq!(
        e.to_string(),
        format!(
            "binlog tar {} is a symbolic link, not a regular file",
            j.tar().display()
        )
    );
    // A dangling link arrived too, and is refused the same way.
    fs::remove_file(j.tar()).unwrap();
    symlink(j.outside.join("nothing"), j.tar()).unwrap();
    assert!(tar_arrived(&j.data));
    assert!(refused(&j, &old).to_string().contains("is a symbolic link"));

    // A FIFO must not block the joiner, nor a directory confuse it.
    fs::remove_file(j.tar()).unwrap();
    let status = Command::new("mkfifo").arg(j.tar()).status().unwrap();
    assert!(status.success());
    assert!(refused(&j, &old).to_string().contains("is a FIFO"));
    fs::remove_file(j.tar()).unwrap();
    fs::create_dir(j.tar()).unwrap();
    assert!(refused(&j, &old).to_string().contains("is a directory"));
}

/// The donor can replace a directory of the datadir with a link; below the
/// datadir the binlog and index directories must be real directories.
#[test]
fn a_binlog_dir_replaced_by_a_link_inside_the_datadir_is_refused() {
    for (dir, link, index_dir) in [
        ("binlogs", "binlogs", "binlogs"),
        ("a/binlogs", "a", "a/binlogs"),
        ("binlogs", "idx", "idx"),
    ] {
        let mut j = Joiner::new();
        j.b.dir = j.data.join(dir);
        j.b.index = j.data.join(index_dir).join("mysql-bin.index");
        fs::create_dir_all(&j.b.dir).unwrap();
        fs::create_dir_all(j.b.index.parent().unwrap()).unwrap();
        fs::write(j.b.dir.join("mysql-bin.000007"), "old").unwrap();
        fs::write(&j.b.index, "./mysql-bin.000007\n").unwrap();
        let old = OldBinlogs::read(&j.data, &j.b).unwrap();
        // During the transfer: the directory becomes a link to outside.
        let replaced = j.data.join(link);
        fs::rename(&replaced, j.tmp.path().join("moved")).unwrap();
        fs::create_dir_all(j.outside.join("binlogs")).unwrap();
        fs::write(j.outside.join("binlogs/mysql-bin.000001"), "theirs").unwrap();
        fs::write(j.outside.join("mysql-bin.index"), "theirs").unwrap();
        symlink(&j.outside, &replaced).unwrap();
        file_tar(&j.tar(), &["mysql-bin.000002"]);
        let e = refused(&j, &old);
        let shown_dir = if link == "idx" { &index_dir } else { &dir };
        assert_eq!(
            e.to_string(),
            format!(
                "binlog directory {} is reached through {}, a symbolic link inside the data directory",
                j.data.join(shown_dir).display(),
                replaced.display()
            )
        );
    }
}

/// Outside the datadir the operator's own links are theirs to have.
#[test]
fn operator_links_outside_the_datadir_are_used() {
    let mut j = Joiner::new();
    fs::create_dir(j.outside.join("real")).unwrap();
    symlink(j.outside.join("real"), j.outside.join("logs")).unwrap();
    j.b.dir = j.outside.join("logs");
    j.b.index = j.outside.join("logs/mysql-bin.index");
    j.b.index_prefix = j.b.dir.clone();
    let old = OldBinlogs::read(&j.data, &j.b).unwrap();
    file_tar(&j.tar(), &["mysql-bin.000002"]);
    install(&j.data, &j.b, &old).unwrap();
    assert_eq!(j.read("outside/real/mysql-bin.000002"), "mysql-bin.000002");
    assert_eq!(
        j.read("outside/real/mysql-bin.index"),
        format!("{}/mysql-bin.000002\n", j.b.dir.display())
    );
}

/// `log_bin` without a value: `<hostname>-bin`, so bases differ. The
/// donor's names are installed as they are, and the next SST removes them
/// through the index (mysqld has added its own rotated binlog meanwhile).
#[test]
fn differing_donor_and_joiner_bases_install_and_are_replaced_next_time() {
    let mut j = Joiner::new();
    j.b.base = "db2-bin".into();
    j.b.index = j.data.join("db2-bin.index");
    fs::write(j.data.join("db2-bin.000004"), "joiner's own").unwrap();
    fs::write(&j.b.index, "./db2-bin.000004\n").unwrap();

    let old = OldBinlogs::read(&j.data, &j.b).unwrap();
    file_tar(&j.tar(), &["db1-bin.000007"]);
    install(&j.data, &j.b, &old).unwrap();
    assert!(!j.data.join("db2-bin.000004").exists());
    assert_eq!(j.read("data/db1-bin.000007"), "db1-bin.000007");
    assert_eq!(j.read("data/db2-bin.index"), "./db1-bin.000007\n");

    fs::write(j.data.join("db2-bin.000008"), "rotated").unwrap();
    fs::write(&j.b.index, "./db1-bin.000007\n./db2-bin.000008\n").unwrap();
    let old = OldBinlogs::read(&j.data, &j.b).unwrap();
    file_tar(&j.tar(), &["db1-bin.000009", "db1-bin.000010"]);
    install(&j.data, &j.b, &old).unwrap();
    for gone in ["db1-bin.000007", "db2-bin.000008"] {
        assert!(!j.data.join(gone).exists(), "{gone} kept");
    }
    assert_eq!(
        j.read("data/db2-bin.index"),
        "./db1-bin.000009\n./db1-bin.000010\n"
    );
    assert_eq!(j.read("data/aria_log.00000001"), "aria log");
}

/// Below the datadir the transfer mirrors the donor's binlog directory, so
/// its copies of the shipped binlogs are there (under its base) and are
/// replaced; a link with a shipped name still is not.
#[test]
fn differing_bases_in_a_binlog_dir_below_the_datadir() {
    let mut j = Joiner::new();
    j.b.dir = j.data.join("binlogs");
    j.b.base = "db2-bin".into();
    j.b.index = j.data.join("binlogs/db2-bin.index");
    j.b.index_prefix = PathBuf::from("binlogs");
    fs::create_dir(&j.b.dir).unwrap();
    let old = OldBinlogs::read(&j.data, &j.b).unwrap();
    // What rsync mirrored from the donor.
    fs::write(j.b.dir.join("db1-bin.000007"), "mirrored copy").unwrap();
    fs::write(j.b.dir.join("db1-bin.index"), "./db1-bin.000007\n").unwrap();
    file_tar(&j.tar(), &["db1-bin.000007"]);
    install(&j.data, &j.b, &old).unwrap();
    assert_eq!(j.read("data/binlogs/db1-bin.000007"), "db1-bin.000007");
    assert_eq!(
        j.read("data/binlogs/db2-bin.index"),
        "binlogs/db1-bin.000007\n"
    );

    let old = OldBinlogs::read(&j.data, &j.b).unwrap();
    symlink(j.outside.join("victim"), j.b.dir.join("db1-bin.000008")).unwrap();
    file_tar(&j.tar(), &["db1-bin.000008"]);
    let e = refused(&j, &old);
    assert!(
        e.to_string().contains("db1-bin.000008 already exists"),
        "{e}"
    );
}

mod index;
