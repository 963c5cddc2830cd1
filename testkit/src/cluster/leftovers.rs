//! What may outlive an SST on a node: its processes (found through mariadbd's process tree,
//! the node dir in argv, or the node's private bin on PATH), files held open under the
//! datadir, changes to the datadir; and the teardown that ends them all.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::node::Node;
use crate::poll::Probe;
use crate::procs::{self, Process};

impl Node {
    /// Live processes that belong to this node's SSTs: anything (except a running mariadbd
    /// itself) that is or was in mariadbd's process tree, or whose argv or environment names
    /// the node dir (mariadbd puts `<node>/base/bin` first on every child's PATH; the
    /// datadir, certificates and rsync configs all live in the node dir).
    pub fn sst_processes(&self) -> Vec<Process> {
        let root = self.root().to_string_lossy().into_owned();
        let mariadbd = self.pid();
        let mut found: BTreeMap<i32, Process> = BTreeMap::new();
        for proc in procs::all() {
            if Some(proc.pid) == mariadbd || proc.pid == std::process::id() as i32 {
                continue;
            }
            let ours = self.seen.contains(&proc.pid)
                || mariadbd.is_some_and(|pid| proc.ppid == pid)
                || proc.cmdline.contains(&root)
                || proc.environ.contains(&root);
            // Our own `mariadb` clients name the socket; they are not SST processes.
            let client = proc.ppid == std::process::id() as i32;
            if ours && !client {
                found.insert(proc.pid, proc);
            }
        }
        found.into_values().collect()
    }

    /// Processes still holding a file, cwd or mapping in the datadir.
    pub fn datadir_holders(&self) -> Vec<(Process, PathBuf)> {
        let mariadbd = self.pid();
        procs::holders_under(&self.datadir())
            .into_iter()
            .filter(|(p, _)| Some(p.pid) != mariadbd)
            .collect()
    }

    /// Size and mtime of every file under the datadir.
    pub fn datadir_snapshot(&self) -> BTreeMap<PathBuf, (u64, SystemTime)> {
        let mut files = BTreeMap::new();
        let mut stack = vec![self.datadir()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() {
                    stack.push(entry.path());
                } else {
                    let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    files.insert(entry.path(), (meta.size(), mtime));
                }
            }
        }
        files
    }

    /// Kills mariadbd (if running) and every SST process of this node, waiting until they
    /// are gone.
    pub fn kill_everything(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id() as i32;
            self.seen.extend(procs::tree(pid));
            procs::signal_all(&[pid, -pid], procs::Signal::KILL);
            let _reaped = child.wait();
        }
        let outcome = crate::poll::wait_for(
            format!("{}: every SST process gone", self.name),
            Duration::from_secs(20),
            || {
                let left = self.sst_processes();
                if left.is_empty() {
                    return Probe::Ready(());
                }
                let pids: Vec<i32> = left.iter().map(|p| p.pid).collect();
                procs::signal_all(&pids, procs::Signal::KILL);
                Probe::Pending
            },
        );
        if let Err(reason) = outcome {
            eprintln!("teardown of {}: {reason}", self.name);
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        if failed {
            eprintln!("{}", self.log_tail(80));
        }
        self.kill_everything();
        let keep = std::env::var("SST_CLUSTER_KEEP").ok();
        if keep.as_deref() == Some("always") || (failed && keep.is_some()) {
            let kept = std::mem::replace(
                &mut self.dir,
                tempfile::Builder::new()
                    .prefix("sst-cluster-empty-")
                    .tempdir()
                    .unwrap_or_else(|e| panic!("cannot create a temp dir: {e}")),
            );
            eprintln!("SST_CLUSTER_KEEP: kept {}", kept.keep().display());
        }
    }
}
