//! The real-rsync tests' data: a MariaDB-shaped donor tree, the joiner's
//! earlier state, the donor's transfer plan, and the comparison of both
//! trees after a transfer.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sst_tunnel::rsync::client::TransferPlan;
use sst_tunnel::rsync::daemon::CONFIG_FILE;
use sst_tunnel::rsync::MARKER;

use crate::bytes::pattern;

/// The state line the tests send in the marker.
pub const STATE: &str = "6f2b7c1e-0000-0000-0000-000000000001:42 0";

/// Bound of every await in the real-rsync tests (a step may be a whole transfer).
pub const STEP: Duration = Duration::from_secs(60);

/// The rsync the library would run.
pub fn rsync_path() -> PathBuf {
    sst_tunnel::rsync::find_rsync().expect("these tests need rsync: apt-get install rsync")
}

/// Writes `data` to `path` (parents created) with permission bits `mode`.
pub fn write(path: &Path, data: &[u8], mode: u32) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, data).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// One entry of a tree, as a transfer must reproduce it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A regular file: permission bits and content.
    File {
        /// Permission bits.
        mode: u32,
        /// Content.
        data: Vec<u8>,
    },
    /// A directory and its permission bits.
    Dir {
        /// Permission bits.
        mode: u32,
    },
    /// A symbolic link and its target.
    Link {
        /// Where it points.
        target: PathBuf,
    },
}

/// Every entry under `root` (relative path → what it is), root excluded.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, Entry> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Entry>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let p = e.expect("entry").path();
            let rel = p.strip_prefix(root).expect("prefix").to_path_buf();
            let m = std::fs::symlink_metadata(&p).expect("lstat");
            let mode = m.mode() & 0o7777;
            if m.file_type().is_symlink() {
                out.insert(
                    rel,
                    Entry::Link {
                        target: std::fs::read_link(&p).expect("readlink"),
                    },
                );
            } else if m.is_dir() {
                out.insert(rel, Entry::Dir { mode });
                walk(root, &p, out);
            } else {
                out.insert(
                    rel,
                    Entry::File {
                        mode,
                        data: std::fs::read(&p).expect("read"),
                    },
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A donor data directory shaped like MariaDB's.
pub fn donor_tree(datadir: &Path, log_dir: &Path) {
    write(&datadir.join("ibdata1"), &pattern(3 << 20, 1), 0o660);
    write(&datadir.join("ib_lru_dump"), b"lru", 0o660);
    write(&datadir.join("undo001"), &pattern(100_000, 2), 0o660);
    write(&datadir.join("undo002"), &pattern(1000, 3), 0o660);
    write(&datadir.join("aria_log_control"), b"aria control", 0o660);
    write(&datadir.join("aria_log.00000001"), &pattern(5000, 4), 0o660);
    write(&datadir.join("wsrep_sst_binlog.tar"), b"tar bytes", 0o600);
    // Root files that are not data: never sent.
    write(&datadir.join("junk.txt"), b"donor only", 0o644);
    write(&datadir.join("mariadb.pid"), b"123", 0o644);
    for i in 0..300 {
        write(
            &datadir.join(format!("mysql/t{i}.frm")),
            &pattern(100 + i, i as u64 + 10),
            0o640,
        );
    }
    write(&datadir.join("db1/t.ibd"), &pattern(200_000, 5), 0o600);
    write(&datadir.join("db1/sub/deep.txt"), b"deep", 0o644);
    std::fs::create_dir_all(datadir.join("db1/empty")).expect("mkdir");
    std::os::unix::fs::symlink("t.ibd", datadir.join("db1/link")).expect("symlink");
    std::fs::create_dir_all(datadir.join("emptydb")).expect("mkdir");
    std::fs::set_permissions(
        datadir.join("emptydb"),
        std::fs::Permissions::from_mode(0o700),
    )
    .expect("chmod");
    std::fs::create_dir_all(datadir.join("lost+found")).expect("mkdir");
    write(&log_dir.join("ib_logfile0"), &pattern(1 << 20, 6), 0o660);
    write(&log_dir.join("ib_logfile1"), &pattern(1000, 7), 0o660);
    write(&log_dir.join("other.txt"), b"not a redo log", 0o644);
}

/// A temp tree with a donor and a joiner, each with a datadir and an InnoDB
/// log directory.
pub struct Dirs {
    /// Keeps the tree alive; removed on drop.
    pub _tmp: tempfile::TempDir,
    /// The donor's datadir.
    pub d_data: PathBuf,
    /// The donor's InnoDB log directory.
    pub d_log: PathBuf,
    /// The joiner's datadir.
    pub j_data: PathBuf,
    /// The joiner's InnoDB log directory.
    pub j_log: PathBuf,
}

/// Creates the four (empty) directories of a [`Dirs`].
pub fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = |n: &str| {
        let p = tmp.path().join(n);
        std::fs::create_dir_all(&p).expect("mkdir");
        p
    };
    Dirs {
        d_data: d("donor/data"),
        d_log: d("donor/log"),
        j_data: d("joiner/data"),
        j_log: d("joiner/log"),
        _tmp: tmp,
    }
}

/// The donor's transfer plan from `d` through the relay at `relay` (three rsyncs at once).
pub fn plan(d: &Dirs, relay: std::net::SocketAddr) -> TransferPlan {
    TransferPlan {
        rsync: rsync_path(),
        dirs: sst_tunnel::rsync::ServerDirs::with_log_dir(d.d_data.clone(), d.d_log.clone()),
        relay,
        parallel: 3,
        whole_file: true,
        extra_top_level: Vec::new(),
        io_timeout: None,
    }
}

/// Joiner state from an earlier life: stale data must go, own files stay.
pub fn seed_joiner(d: &Dirs) {
    write(&d.j_data.join("grastate.dat"), b"joiner state", 0o660);
    write(&d.j_data.join("olddb/x.ibd"), b"stale", 0o660);
    write(&d.j_data.join("mysql/stale.frm"), b"stale", 0o660);
    write(&d.j_log.join("ib_logfile101"), b"stale redo", 0o660);
    write(&d.j_log.join("keep.txt"), b"keep", 0o644);
}

/// Asserts the joiner holds exactly what the donor sent.
pub fn check_joiner(d: &Dirs) {
    assert_eq!(
        std::fs::read_to_string(d.j_data.join(MARKER)).expect("marker"),
        "6f2b7c1e-0000-0000-0000-000000000001:42 0\n"
    );
    assert_eq!(
        std::fs::read(d.j_data.join("grastate.dat")).expect("grastate"),
        b"joiner state"
    );
    assert!(!d.j_data.join("olddb").exists(), "stale schema not deleted");
    assert!(
        !d.j_data.join("mysql/stale.frm").exists(),
        "stale file not deleted"
    );

    let mut want = tree(&d.d_data);
    for skipped in ["junk.txt", "mariadb.pid", "lost+found"] {
        assert!(want.remove(Path::new(skipped)).is_some(), "{skipped}");
    }
    let mut got = tree(&d.j_data);
    for own in ["grastate.dat", MARKER, CONFIG_FILE] {
        got.remove(Path::new(own));
    }
    for name in [
        "undo001",
        "undo002",
        "aria_log_control",
        "aria_log.00000001",
        "ibdata1",
    ] {
        assert!(
            got.contains_key(Path::new(name)),
            "{name} missing on the joiner"
        );
    }
    assert_eq!(got.len(), want.len(), "entry count");
    for (path, entry) in &want {
        // The joiner's daemon munges every symlink a donor sends (issue 9):
        // it arrives dangling, its value kept after the prefix.
        let munged = match entry {
            Entry::Link { target } => Entry::Link {
                target: Path::new("/rsyncd-munged").join(target),
            },
            other => other.clone(),
        };
        assert_eq!(got.get(path), Some(&munged), "{}", path.display());
    }

    let log = tree(&d.j_log);
    let donor_log = tree(&d.d_log);
    assert_eq!(
        log.get(Path::new("ib_logfile0")),
        donor_log.get(Path::new("ib_logfile0"))
    );
    assert_eq!(
        log.get(Path::new("ib_logfile1")),
        donor_log.get(Path::new("ib_logfile1"))
    );
    assert!(!log.contains_key(Path::new("other.txt")));
    assert!(
        !log.contains_key(Path::new("ib_logfile101")),
        "stale redo kept"
    );
    assert!(log.contains_key(Path::new("keep.txt")));
    assert!(
        !got.contains_key(Path::new("ib_logfile0")),
        "redo log in the datadir"
    );
}
