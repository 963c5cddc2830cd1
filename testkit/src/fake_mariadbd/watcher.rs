//! Samples the descendants of a method process while it runs and records
//! each child's argv and open descriptors, so that a test can prove no
//! child (rsync) inherited mariadbd's stdout pipe or leaked descriptors.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::procs;
use crate::project::binary;

/// A descendant the watcher saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Its pid.
    pub pid: u32,
    /// Its argv.
    pub argv: Vec<String>,
    /// Every (fd, target) seen open in it.
    pub fds: Vec<(u32, String)>,
}

/// The sampling thread and what it recorded.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Starts sampling below the `sh` mariadbd spawned.
    pub fn start(sh: u32) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::new(Mutex::new(Vec::new()));
        let (s2, seen2) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            let bin = binary();
            while !s2.load(Ordering::Relaxed) {
                if !procs::alive(sh) {
                    return;
                }
                // Only processes below the binary count: dash's own fork
                // child holds stdout legitimately until it execs the binary,
                // and so does a child of the binary until it execs rsync.
                let mut below_binary: Vec<u32> = Vec::new();
                if procs::exe(sh).as_deref() == Some(bin) {
                    below_binary.push(sh);
                }
                for (p, parent) in procs::descendants_with_parent(sh) {
                    if procs::exe(p).as_deref() == Some(bin) {
                        below_binary.push(p);
                        continue;
                    }
                    if !below_binary.contains(&parent) {
                        continue;
                    }
                    below_binary.push(p);
                    let fds = procs::fds(p);
                    let argv = procs::argv(p);
                    if argv.is_empty() {
                        continue;
                    }
                    let mut all = seen2.lock().unwrap();
                    match all.iter_mut().find(|s| s.pid == p) {
                        Some(s) => {
                            for f in fds {
                                if !s.fds.contains(&f) {
                                    s.fds.push(f);
                                }
                            }
                        }
                        None => all.push(Seen { pid: p, argv, fds }),
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Watcher {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// What was seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Stops sampling (idempotent).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
