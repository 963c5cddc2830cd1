//! Admission of joiner connections, in two stages so that unauthenticated
//! clients cannot lock the donor out:
//!
//! - **Pending handshakes** sit in a bounded table. When it is full, a
//!   newcomer evicts the *oldest* pending handshake instead of being
//!   refused: a flood of silent connections cannot keep the table full
//!   against a donor whose handshake takes milliseconds, unless it opens
//!   more connections than the table holds within that time.
//! - **Sessions** (past the handshake, peer certificate verified) are capped
//!   by `sst-max-connections`. Only authenticated peers count against it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Pending handshakes allowed per session slot.
pub const PENDING_PER_SESSION: usize = 4;

/// The two-stage admission state of one joiner run.
#[derive(Debug)]
pub struct Admission {
    pending: Mutex<Pending>,
    max_pending: usize,
    sessions: Arc<Semaphore>,
    max_sessions: usize,
    evicted: AtomicU64,
}

#[derive(Debug, Default)]
struct Pending {
    next: u64,
    queue: VecDeque<(u64, CancellationToken)>,
}

/// One entry of the pending-handshake table; leaving it (drop) frees it.
/// Its token is cancelled when a newer connection evicts it.
#[derive(Debug)]
pub struct HandshakeSlot {
    id: u64,
    admission: Arc<Admission>,
    /// Cancelled on eviction (and when the run ends).
    pub token: CancellationToken,
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let id = self.id;
        self.admission.lock().queue.retain(|(i, _)| *i != id);
    }
}

impl Admission {
    /// `max_sessions` authenticated sessions at once (at least 1), and
    /// [`PENDING_PER_SESSION`] times as many pending handshakes.
    pub fn new(max_sessions: usize) -> Arc<Admission> {
        let max_sessions = max_sessions.max(1);
        Arc::new(Admission {
            pending: Mutex::new(Pending::default()),
            max_pending: max_sessions.saturating_mul(PENDING_PER_SESSION),
            sessions: Arc::new(Semaphore::new(max_sessions)),
            max_sessions,
            evicted: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // The table stays consistent even if a holder panicked.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Enters a new connection into the pending table, evicting the oldest
    /// entry when it is full; returns the slot and whether one was evicted.
    pub fn begin_handshake(self: &Arc<Self>, parent: &CancellationToken) -> (HandshakeSlot, bool) {
        let token = parent.child_token();
        let mut table = self.lock();
        let mut evicted = false;
        while table.queue.len() >= self.max_pending {
            match table.queue.pop_front() {
                Some((_, oldest)) => {
                    oldest.cancel();
                    evicted = true;
                    self.evicted.fetch_add(1, Ordering::Relaxed);
                }
                None => break,
            }
        }
        let id = table.next;
        table.next += 1;
        table.queue.push_back((id, token.clone()));
        drop(table);
        let slot = HandshakeSlot {
            id,
            admission: self.clone(),
            token,
        };
        (slot, evicted)
    }

    /// A session permit for an authenticated connection, `None` at the cap.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        self.sessions.clone().try_acquire_owned().ok()
    }

    /// Authenticated sessions open now.
    pub fn sessions(&self) -> usize {
        self.max_sessions - self.sessions.available_permits()
    }

    /// The session cap (`sst-max-connections`).
    pub fn max_sessions(&self) -> usize {
        self.max_sessions
    }

    /// The pending-handshake table's size.
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    /// Handshakes pending now.
    pub fn pending(&self) -> usize {
        self.lock().queue.len()
    }

    /// Pending handshakes evicted so far.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_evicts_the_oldest_and_admits_the_newcomer() {
        let a = Admission::new(1);
        let root = CancellationToken::new();
        let slots: Vec<HandshakeSlot> = (0..PENDING_PER_SESSION)
            .map(|_| {
                let (s, evicted) = a.begin_handshake(&root);
                assert!(!evicted);
                s
            })
            .collect();
        assert_eq!(a.pending(), PENDING_PER_SESSION);
        let (newest, evicted) = a.begin_handshake(&root);
        assert!(evicted);
        assert!(slots[0].token.is_cancelled(), "the oldest must go");
        assert!(slots[1..].iter().all(|s| !s.token.is_cancelled()));
        assert!(!newest.token.is_cancelled());
        assert_eq!(a.pending(), PENDING_PER_SESSION);
        assert_eq!(a.evicted(), 1);
        drop(slots);
        assert_eq!(a.pending(), 1);
        drop(newest);
        assert_eq!(a.pending(), 0);
    }

    #[test]
    fn sessions_are_capped_separately_from_handshakes() {
        let a = Admission::new(2);
        let root = CancellationToken::new();
        let _pending: Vec<_> = (0..8).map(|_| a.begin_handshake(&root).0).collect();
        let p1 = a.admit().expect("first session");
        let p2 = a.admit().expect("second session");
        assert_eq!(a.sessions(), 2);
        assert!(a.admit().is_none(), "third session over the cap");
        drop(p1);
        assert!(a.admit().is_some());
        drop(p2);
    }

    #[test]
    fn cancelling_the_parent_cancels_every_pending_handshake() {
        let a = Admission::new(4);
        let root = CancellationToken::new();
        let slots: Vec<_> = (0..3).map(|_| a.begin_handshake(&root).0).collect();
        root.cancel();
        assert!(slots.iter().all(|s| s.token.is_cancelled()));
    }
}
