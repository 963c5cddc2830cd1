//! Process and disk faults: killing process trees, watching what a data
//! directory receives (sizes and mtimes, cheap enough to poll), timing how
//! long until nothing of a test is left, and a small tmpfs to fill up.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use crate::procs;

/// Relative path → (size, mtime) of every regular file under a directory.
pub type Usage = BTreeMap<String, (u64, SystemTime)>;

/// Sizes and mtimes of every file under `root` (files that vanish while
/// walking, like rsync's temporaries, are skipped).
pub fn usage(root: &Path) -> Usage {
    fn walk(root: &Path, dir: &Path, out: &mut Usage) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(md) = fs::symlink_metadata(&p) else {
                continue;
            };
            if md.is_dir() {
                walk(root, &p, out);
            } else if md.is_file() {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                let mtime = md.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                out.insert(rel, (md.len(), mtime));
            }
        }
    }
    let mut u = Usage::new();
    walk(root, root, &mut u);
    u
}

/// Bytes written between two usage snapshots: the whole size of a new file,
/// the growth of a file whose mtime or size changed (its whole size when it
/// was rewritten without growing). Deleted files count nothing.
pub fn written_between(before: &Usage, after: &Usage) -> u64 {
    after
        .iter()
        .map(|(k, &(size, mtime))| match before.get(k) {
            None => size,
            Some(&(b_size, b_mtime)) if b_size != size || b_mtime != mtime => {
                if size > b_size {
                    size - b_size
                } else {
                    size
                }
            }
            Some(_) => 0,
        })
        .sum()
}

/// Polls until at least `min` bytes were written into `dir` since `base`;
/// returns the snapshot that showed it. Panics after `within`.
pub fn wait_written(dir: &Path, base: &Usage, min: u64, within: Duration) -> Usage {
    let deadline = Instant::now() + within;
    loop {
        let now = usage(dir);
        if written_between(base, &now) >= min {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {min} bytes arrived in {} within {within:?} (got {})",
            dir.display(),
            written_between(base, &now)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `root` and every live descendant, parents first.
pub fn tree(root: u32) -> Vec<u32> {
    let mut v = vec![root];
    v.extend(procs::descendants(root));
    v.retain(|&p| procs::alive(p));
    v
}

/// SIGKILLs `root` and all its descendants (the whole tree, whatever
/// process groups they are in), repeating until none of them is alive.
/// Returns the pids killed.
pub fn kill_tree(root: u32) -> Vec<u32> {
    let mut killed: Vec<u32> = Vec::new();
    let deadline = Instant::now() + super::STEP;
    loop {
        // Walk before killing: a killed parent's children are reparented.
        let victims: Vec<u32> = tree(root)
            .into_iter()
            .chain(killed.iter().flat_map(|&p| procs::descendants(p)))
            .filter(|&p| procs::alive(p))
            .collect();
        if victims.is_empty() {
            return killed;
        }
        assert!(Instant::now() < deadline, "tree of {root} survives SIGKILL");
        procs::kill_all(&victims);
        for p in victims {
            if !killed.contains(&p) {
                killed.push(p);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls until no process touches `dir` (cwd or argv under it); returns how
/// long that took, or the processes still there after `within`.
pub fn time_until_none_left(
    dir: &Path,
    since: Instant,
    within: Duration,
) -> Result<Duration, Vec<(u32, String)>> {
    let deadline = since + within;
    loop {
        let left = procs::touching(dir);
        if left.is_empty() {
            return Ok(since.elapsed());
        }
        if Instant::now() > deadline {
            return Err(left);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills whatever still touches `dir` (cleanup after a failed assertion, so
/// a failing test leaves nothing running either).
pub struct Reaper(pub PathBuf);

impl Drop for Reaper {
    fn drop(&mut self) {
        let left: Vec<u32> = procs::touching(&self.0)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        procs::kill_all(&left);
    }
}

/// Every file left in `dir` (top level), for reports.
pub fn listing(dir: &Path) -> Vec<String> {
    super::world::names(dir)
}

/// The `exiting with N (NAME)` line the method logs last; `None` if absent.
pub fn logged_exit(log: &str) -> Option<i32> {
    log.lines().rev().find_map(|l| {
        let rest = &l[l.find("exiting with ")? + "exiting with ".len()..];
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// A tmpfs of a fixed size mounted on a directory; unmounted on drop.
pub struct Tmpfs {
    /// The mount point.
    pub dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it, e.g. `4m`)
    /// on `dir`, which must exist and be empty. Needs root (the tests run
    /// as root; without it they fail saying so).
    pub fn mount(dir: &Path, size: &str) -> Tmpfs {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size},mode=0755"))
            .arg(format!("sst-test-{}", std::process::id()))
            .arg(dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run mount (apt-get install mount): {e}"));
        assert!(
            out.status.success(),
            "mount -t tmpfs on {} failed (needs root): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Something still holds it; detach it so the temp tree can go.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}
