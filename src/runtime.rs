//! The tokio runtimes: the one every entry point builds (it runs the accept
//! loops, the donor's rsync clients and the signal handling), and the
//! process's connection workers, one current-thread runtime per CPU this
//! process may use, to which the accept loops hand each connection for its
//! whole life.
//!
//! **Why not the multi-thread runtime.** Its work stealing moves a
//! connection's task between threads at every wake-up, and with it the
//! connection's buffers and TLS state between caches: on the 2-core hosts it
//! was measured on, that cost more CPU per GiB than it gained
//! (docs/performance.md). Here a connection is handed over once, as a plain
//! socket, right after `accept`, and then stays on one thread from the TLS
//! handshake to the close: one stream keeps the single-thread efficiency,
//! several streams use several cores.
//!
//! **How many.** [`std::thread::available_parallelism`], which honours the
//! CPU affinity mask (`taskset`) and cgroup quotas. Worker 0 is the
//! accepting runtime itself: with one CPU nothing is handed anywhere (no
//! extra thread, no hand-off), exactly the single-thread runtime of before.
//! Workers 1..N are threads started once per process ([`workers`]).
//!
//! **Which worker.** The one with the fewest connections open, ties broken
//! round-robin. An SST's connections differ wildly in length (the donor's
//! preflight handshake, the short top-level and marker runs, the long
//! schema streams), so plain round-robin can stack two long streams on one
//! worker while another sits idle; counting open connections cannot (for
//! connections open at the same time it spreads them evenly).
//!
//! **Children.** `PR_SET_PDEATHSIG` is tied to the *thread* that forked
//! (see the `child` module): the joiner forks `rsync --server` from the
//! worker that serves the connection. The worker threads are never stopped:
//! they live as long as the process, so a child's parent-death signal fires
//! only when the process dies, as with the single thread before.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio_util::task::TaskTracker;

/// The accepting runtime: one thread (see the module notes).
pub fn build() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// The CPUs this process may use (1 when that cannot be read).
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The process's connection workers ([`workers`]).
#[derive(Debug)]
pub struct Workers {
    /// Handles of workers 1..N (worker 0 is the caller's runtime).
    extra: Vec<Handle>,
    /// Connections open per worker, 0..N.
    open: Arc<[AtomicUsize]>,
    /// Where the next tie-break starts.
    next: AtomicUsize,
}

static WORKERS: OnceLock<Workers> = OnceLock::new();

/// The process's workers, started on first use: one per CPU the process may
/// use ([`cpus`]). A worker thread that cannot be started is logged and
/// left out (fewer workers, never an error: worker 0 always exists).
pub fn workers() -> &'static Workers {
    WORKERS.get_or_init(|| Workers::start(cpus()))
}

impl Workers {
    fn start(count: usize) -> Workers {
        let mut extra = Vec::new();
        for index in 1..count.max(1) {
            match start_worker(index) {
                Ok(handle) => extra.push(handle),
                Err(e) => {
                    tracing::warn!(worker = index, error = %e, "cannot start a connection worker, using fewer");
                    break;
                }
            }
        }
        let open = (0..=extra.len()).map(|_| AtomicUsize::new(0)).collect();
        tracing::debug!(workers = extra.len() + 1, "connection workers ready");
        Workers {
            extra,
            open,
            next: AtomicUsize::new(0),
        }
    }

    /// How many workers serve connections (worker 0 included).
    pub fn count(&self) -> usize {
        self.open.len()
    }

    /// The worker with the fewest open connections, ties round-robin.
    fn pick(&self) -> usize {
        let n = self.count();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        (0..n)
            .map(|k| (start + k) % n)
            .min_by_key(|&i| self.open[i].load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// Hands `tcp` to a worker: `serve(tcp, worker)` runs there, tracked by
    /// `tracker`, from start to end. Worker 0 is the caller's own runtime
    /// (no hand-off); the others get the socket as a std socket and
    /// register it with their own runtime. Returns the worker's index.
    ///
    /// Must be called from within a tokio runtime (the accepting one).
    pub fn hand_off<F, Fut>(
        &self,
        tracker: &TaskTracker,
        tcp: TcpStream,
        serve: F,
    ) -> io::Result<usize>
    where
        F: FnOnce(TcpStream, usize) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let index = self.pick();
        let load = Load::enter(&self.open, index);
        match index.checked_sub(1).and_then(|i| self.extra.get(i)) {
            None => {
                tracker.spawn(async move {
                    let _load = load;
                    serve(tcp, 0).await;
                });
            }
            Some(handle) => {
                // Deregistered from this runtime's reactor, still
                // non-blocking: the worker registers it with its own.
                let socket = tcp.into_std()?;
                handle.spawn(tracker.track_future(async move {
                    let _load = load;
                    match TcpStream::from_std(socket) {
                        Ok(tcp) => serve(tcp, index).await,
                        Err(e) => tracing::warn!(
                            worker = index, error = %e,
                            "cannot register a connection with its worker, connection dropped"
                        ),
                    }
                }));
            }
        }
        Ok(index)
    }
}

/// One open connection counted against a worker until dropped.
struct Load {
    open: Arc<[AtomicUsize]>,
    index: usize,
}

impl Load {
    fn enter(open: &Arc<[AtomicUsize]>, index: usize) -> Load {
        if let Some(n) = open.get(index) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        Load {
            open: open.clone(),
            index,
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        if let Some(n) = self.open.get(self.index) {
            n.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Starts worker `index`: a thread that builds a current-thread runtime and
/// drives it for the rest of the process's life (never returns: see the
/// module notes on the parent-death signal).
fn start_worker(index: usize) -> io::Result<Handle> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(format!("sst-worker-{index}"))
        .spawn(move || match build() {
            Ok(rt) => {
                if tx.send(Ok(rt.handle().clone())).is_ok() {
                    rt.block_on(std::future::pending::<()>());
                }
            }
            Err(e) => {
                // The receiver reports it; nothing else to do here.
                let _gone = tx.send(Err(e));
            }
        })?;
    rx.recv()
        .map_err(|_| io::Error::other("the worker thread ended before its runtime started"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(count: usize) -> Workers {
        Workers {
            extra: Vec::new(),
            open: (0..count).map(|_| AtomicUsize::new(0)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    #[test]
    fn open_connections_spread_over_the_workers() {
        let w = pool(3);
        let a = Load::enter(&w.open, w.pick());
        let b = Load::enter(&w.open, w.pick());
        let c = Load::enter(&w.open, w.pick());
        let mut used = [a.index, b.index, c.index];
        used.sort_unstable();
        assert_eq!(used, [0, 1, 2]);
        // A short connection ended: the next long one goes where it was,
        // not to the next in turn.
        let freed = b.index;
        drop(b);
        assert_eq!(w.pick(), freed);
        drop((a, c));
    }

    #[test]
    fn one_worker_takes_everything() {
        let w = pool(1);
        let _a = Load::enter(&w.open, w.pick());
        assert_eq!(w.pick(), 0);
    }
}
