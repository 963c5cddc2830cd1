//! Data directories for the interop tests: a small MariaDB-shaped tree with
//! mixed sizes, modes and a symlink, and a comparison of two trees by kind,
//! permission bits, size and content.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::bytes::pattern;

/// One filesystem entry as the SST must reproduce it.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    /// A directory and its permission bits.
    Dir {
        /// Permission bits.
        mode: u32,
    },
    /// A regular file: permission bits, size and SHA-256 of the content.
    File {
        /// Permission bits.
        mode: u32,
        /// Size in bytes.
        size: u64,
        /// SHA-256 of the content.
        sha256: [u8; 32],
    },
    /// A symbolic link and its target.
    Symlink {
        /// Where it points.
        target: PathBuf,
    },
}

/// Writes a datadir holding only what the rsync_tunnel donor sequence sends
/// (ibdata*, ib_logfile0, schema directories), so a faithful transfer
/// reproduces it exactly.
pub fn make_datadir(root: &Path) {
    fs::create_dir_all(root).expect("create datadir");
    let mut seed = 1u64;
    let mut file = |rel: &str, len: usize, mode: u32| {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent dir");
        }
        seed += 1;
        fs::write(&path, pattern(len, seed)).expect("write file");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod file");
    };
    file("ibdata1", (1 << 20) + 13, 0o660);
    file("ib_logfile0", 256 << 10, 0o660);
    file("mysql/db.opt", 65, 0o660);
    file("mysql/user.frm", 0, 0o660);
    file("mysql/user.MYD", 70 << 10, 0o640);
    file("db1/t1.ibd", 2 << 20, 0o660);
    file("db1/t1.frm", 1024, 0o660);
    file("db1/t2.ibd", 300_001, 0o640);
    file("db2/t3.ibd", 4097, 0o600);
    file("db2/part/p0.ibd", 5 << 10, 0o660);
    symlink("t1.ibd", root.join("db1/t1-link.ibd")).expect("symlink");
    for (dir, mode) in [
        ("mysql", 0o700),
        ("db1", 0o750),
        ("db2", 0o755),
        ("db2/part", 0o770),
    ] {
        fs::set_permissions(root.join(dir), fs::Permissions::from_mode(mode)).expect("chmod dir");
    }
}

/// Every entry under `root` (not `root` itself), keyed by relative path,
/// leaving out top-level names in `ignore`.
pub fn snapshot(root: &Path, ignore: &[&str]) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    walk(root, Path::new(""), ignore, &mut out);
    out
}

fn walk(root: &Path, rel: &Path, ignore: &[&str], out: &mut BTreeMap<PathBuf, Entry>) {
    let dir = root.join(rel);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("read dir {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        if rel.as_os_str().is_empty() && ignore.iter().any(|i| name == *i) {
            continue;
        }
        let rel_path = rel.join(&name);
        let path = root.join(&rel_path);
        let meta = fs::symlink_metadata(&path).expect("lstat");
        let mode = meta.permissions().mode() & 0o7777;
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).expect("readlink");
            out.insert(rel_path, Entry::Symlink { target });
        } else if meta.is_dir() {
            out.insert(rel_path.clone(), Entry::Dir { mode });
            walk(root, &rel_path, ignore, out);
        } else {
            let content = fs::read(&path).expect("read file");
            out.insert(
                rel_path,
                Entry::File {
                    mode,
                    size: meta.len(),
                    sha256: openssl::sha::sha256(&content),
                },
            );
        }
    }
}

/// How the receiving rsync daemon stores symlinks (both joiners munge them;
/// a link arriving as sent would be a difference).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symlinks {
    /// With rsync's `/rsyncd-munged/` prefix: the reference joiner's daemon has
    /// `use chroot = no` and so rsync's default `munge symlinks = yes`; ours
    /// sets it (a donor's link must lead nowhere, issue 9).
    Munged,
}

/// The prefix rsync's `munge symlinks` puts in front of every symlink target.
const MUNGE_PREFIX: &str = "/rsyncd-munged/";

/// Asserts that `dst` holds exactly the entries of `src` (top-level names in
/// `ignore` left out on both sides), listing every difference.
pub fn assert_same_tree(src: &Path, dst: &Path, ignore: &[&str], symlinks: Symlinks) {
    let want = snapshot(src, ignore);
    let mut got = snapshot(dst, ignore);
    let Symlinks::Munged = symlinks;
    for entry in got.values_mut() {
        if let Entry::Symlink { target } = entry {
            if let Ok(rest) = target.strip_prefix(MUNGE_PREFIX) {
                *target = rest.to_path_buf();
            } else {
                // Not munged: keep a marker so that the comparison fails.
                *target = Path::new("(not munged)").join(&*target);
            }
        }
    }
    let mut problems = Vec::new();
    for (path, entry) in &want {
        match got.get(path) {
            None => problems.push(format!("missing {}", path.display())),
            Some(other) if other != entry => problems.push(format!(
                "differs {}: want {}, got {}",
                path.display(),
                describe(entry),
                describe(other)
            )),
            Some(_) => {}
        }
    }
    for path in got.keys().filter(|p| !want.contains_key(*p)) {
        problems.push(format!("unexpected {}", path.display()));
    }
    assert!(
        problems.is_empty(),
        "{} differs from {}:\n  {}",
        dst.display(),
        src.display(),
        problems.join("\n  ")
    );
    assert!(want.len() > 10, "source tree unexpectedly small: {want:?}");
}

fn describe(entry: &Entry) -> String {
    match entry {
        Entry::Dir { mode } => format!("dir {mode:o}"),
        Entry::File { mode, size, .. } => format!("file {mode:o} {size} bytes (content hashed)"),
        Entry::Symlink { target } => format!("symlink -> {}", target.display()),
    }
}
