//! Ctrl-C, SIGTERM and SIGHUP during a benchmark run: the run must still end with nothing
//! left behind (mariadbd, SST processes, namespaces, node directories).
//!
//! The cleanup is the harness's own `Drop`s (nodes, link), so a signal does not clean up
//! itself: a watcher thread notes it and SIGKILLs the running mariadbd processes. The main
//! thread then fails in whatever it was doing (an SQL query, a wait for `Synced` or for an
//! exit), or at its next [`check`], and unwinds through those `Drop`s.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::procs::{signal_all, Signal};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static MARIADBD: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Starts the watcher thread.
pub fn install() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build the signal watcher's runtime: {e}"));
    std::thread::spawn(move || {
        runtime.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            let kinds = [
                SignalKind::interrupt(),
                SignalKind::terminate(),
                SignalKind::hangup(),
            ];
            let mut streams = Vec::new();
            for kind in kinds {
                match signal(kind) {
                    Ok(stream) => streams.push(stream),
                    Err(e) => eprintln!("cluster bench: cannot watch signal {kind:?}: {e}"),
                }
            }
            let [mut int, mut term, mut hup] = match <[_; 3]>::try_from(streams) {
                Ok(all) => all,
                Err(_) => return,
            };
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
                if !INTERRUPTED.swap(true, Ordering::SeqCst) {
                    eprintln!("cluster bench: interrupted, stopping and cleaning up");
                }
                kill_registered();
            }
        });
    });
}

fn kill_registered() {
    let pids: Vec<i32> = match MARIADBD.lock() {
        Ok(set) => set.iter().copied().collect(),
        Err(poisoned) => poisoned.into_inner().iter().copied().collect(),
    };
    signal_all(&pids, Signal::KILL);
}

/// Whether a signal asked the run to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Fails (unwinding through the cleanup) if the run was interrupted.
pub fn check() {
    assert!(!interrupted(), "interrupted");
}

/// Notes a mariadbd that was just started (killed at once if the run is already stopping).
pub fn started(pid: Option<i32>) {
    let Some(pid) = pid else { return };
    if let Ok(mut set) = MARIADBD.lock() {
        set.insert(pid);
    }
    if interrupted() {
        kill_registered();
    }
}

/// Forgets a mariadbd that has exited.
pub fn stopped(pid: Option<i32>) {
    let Some(pid) = pid else { return };
    if let Ok(mut set) = MARIADBD.lock() {
        set.remove(&pid);
    }
}
