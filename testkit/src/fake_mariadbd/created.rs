//! What the method creates during an SST, and whether another user can
//! read it: the test tree opened up (0755 directories, as Debian's
//! `/var/lib/mysql` is; a private sticky 1777 `TMPDIR` per node), and a
//! sampler that hands every new path of both datadirs and temp dirs, except
//! shipped data and the server's own files, to uid 65534 at once.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::other_user::{Access, Reader};
use super::pair::Pair;

/// Files the fake mariadbd server writes itself (not the method's).
const SERVER_FILES: [&str; 3] = ["tables_flushed", "tables_flushed.tmp", "sst_error"];

/// Makes the test tree traversable by everybody (tempdirs are 0700) and
/// gives each node a private temp dir, world-writable and sticky like
/// `/tmp`, so that what appears in it is the method's alone.
pub fn open_up(pair: &mut Pair) {
    for node in [&mut pair.joiner, &mut pair.donor] {
        let tmp = node.dir.join("tmp");
        fs::create_dir(&tmp).unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777)).unwrap();
        node.env.push(("TMPDIR".into(), tmp));
    }
    for d in [
        pair.world.root.clone(),
        pair.joiner.dir.clone(),
        pair.donor.dir.clone(),
        pair.joiner.datadir.clone(),
        pair.donor.datadir.clone(),
    ] {
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        out.push(p.clone());
        if is_dir {
            walk(&p, out);
        }
    }
}

/// Everything in both nodes' private temp dirs.
fn tmp_entries(pair_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in pair_dirs {
        walk(&d.join("tmp"), &mut out);
    }
    out
}

/// One path the method created, and what uid 65534 could do with it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The path.
    pub path: PathBuf,
    /// Its permission bits when seen.
    pub mode: u32,
    /// What uid 65534 could do.
    pub access: Access,
}

/// Polls both datadirs and the temp dir while the SST runs; every new path
/// that is not shipped data is handed to the other user at once.
pub fn sample_created(
    pair: &Pair,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(Vec<Seen>, Reader)> {
    let mut known: BTreeSet<PathBuf> = BTreeSet::new();
    let mut all = Vec::new();
    walk(&pair.joiner.datadir, &mut all);
    walk(&pair.donor.datadir, &mut all);
    let node_dirs = vec![pair.joiner.dir.clone(), pair.donor.dir.clone()];
    all.extend(tmp_entries(&node_dirs));
    known.extend(all);
    // Shipped copies keep the donor's modes: data, not ours.
    let mut donor_files = Vec::new();
    walk(&pair.donor.datadir, &mut donor_files);
    let shipped: BTreeSet<PathBuf> = donor_files
        .iter()
        .map(|p| {
            pair.joiner
                .datadir
                .join(p.strip_prefix(&pair.donor.datadir).unwrap())
        })
        .collect();
    let server: BTreeSet<PathBuf> = SERVER_FILES
        .iter()
        .map(|f| pair.donor.datadir.join(f))
        .collect();
    let (jd, dd) = (pair.joiner.datadir.clone(), pair.donor.datadir.clone());
    std::thread::spawn(move || {
        let mut reader = Reader::start();
        let mut seen = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let mut now = Vec::new();
            walk(&jd, &mut now);
            walk(&dd, &mut now);
            now.extend(tmp_entries(&node_dirs));
            for p in now {
                if known.contains(&p) || shipped.contains(&p) || server.contains(&p) {
                    continue;
                }
                known.insert(p.clone());
                let Ok(md) = fs::symlink_metadata(&p) else {
                    continue;
                };
                let access = reader.try_read(&p);
                seen.push(Seen {
                    path: p,
                    mode: md.permissions().mode() & 0o7777,
                    access,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (seen, reader)
    })
}
