//! Byte counters shared by every connection of one transfer: what the
//! progress display (the `progress` module), the stall detector and the
//! closing summary read.
//!
//! The relay adds to the counters after each write; readers only load them.
//! Everything is relaxed atomics: the figures are for humans and for a
//! timeout measured in seconds, not for synchronisation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counters for one transfer (all of its connections).
#[derive(Debug)]
pub struct Meter {
    start: Instant,
    /// Bytes that arrived from the TLS side and went to the local side.
    inbound: AtomicU64,
    /// Bytes that went from the local side into TLS.
    outbound: AtomicU64,
    /// Milliseconds since `start` at which a byte last moved.
    last_activity_ms: AtomicU64,
    /// Milliseconds since `start` at which a byte last arrived from the TLS side.
    last_inbound_ms: AtomicU64,
    connections: AtomicU64,
}

impl Default for Meter {
    fn default() -> Self {
        Self::new()
    }
}

impl Meter {
    /// A meter whose clock starts now.
    pub fn new() -> Self {
        Meter {
            start: Instant::now(),
            inbound: AtomicU64::new(0),
            outbound: AtomicU64::new(0),
            last_activity_ms: AtomicU64::new(0),
            last_inbound_ms: AtomicU64::new(0),
            connections: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.last_activity_ms
            .store(self.now_ms(), Ordering::Relaxed);
    }

    fn touch_inbound(&self) {
        let ms = self.now_ms();
        self.last_activity_ms.store(ms, Ordering::Relaxed);
        self.last_inbound_ms.store(ms, Ordering::Relaxed);
    }

    /// Records `n` bytes moved from the TLS side to the local side.
    pub fn add_inbound(&self, n: u64) {
        self.inbound.fetch_add(n, Ordering::Relaxed);
        self.touch_inbound();
    }

    /// Records `n` bytes moved from the local side into TLS.
    pub fn add_outbound(&self, n: u64) {
        self.outbound.fetch_add(n, Ordering::Relaxed);
        self.touch();
    }

    /// Records that a connection was opened (counts as activity).
    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.touch_inbound();
    }

    /// Bytes moved from the TLS side to the local side so far.
    pub fn inbound(&self) -> u64 {
        self.inbound.load(Ordering::Relaxed)
    }

    /// Bytes moved from the local side into TLS so far.
    pub fn outbound(&self) -> u64 {
        self.outbound.load(Ordering::Relaxed)
    }

    /// Bytes moved in both directions.
    pub fn total(&self) -> u64 {
        self.inbound() + self.outbound()
    }

    /// Connections opened so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Time since the meter was created.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Time since a byte last moved (or since creation, if none has).
    pub fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_activity_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    /// Time since a byte last arrived from the TLS side (or a connection
    /// opened). Unlike [`Meter::idle_for`], bytes we write do not count:
    /// they land in the socket buffer even when the network delivers
    /// nothing, so a peer behind a dead network keeps looking alive.
    pub fn inbound_idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_inbound_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_both_directions() {
        let m = Meter::new();
        m.add_inbound(10);
        m.add_outbound(5);
        m.add_inbound(1);
        assert_eq!(m.inbound(), 11);
        assert_eq!(m.outbound(), 5);
        assert_eq!(m.total(), 16);
        assert!(m.idle_for() < Duration::from_secs(5));
    }

    #[test]
    fn outbound_bytes_do_not_reset_the_inbound_idle_clock() {
        let m = Meter::new();
        // The sleep makes the elapsed time the assertions compare against.
        std::thread::sleep(Duration::from_millis(30));
        m.add_outbound(1);
        let idle = m.idle_for();
        let inbound_idle = m.inbound_idle_for();
        assert!(inbound_idle >= Duration::from_millis(30));
        // Measured later, yet shorter: the outbound byte reset only `idle_for`.
        assert!(idle < inbound_idle, "{idle:?} vs {inbound_idle:?}");
        m.add_inbound(1);
        assert!(m.inbound_idle_for() < inbound_idle);
    }
}
