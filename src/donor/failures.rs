//! What the donor's relay met, kept to explain a failed rsync step: the
//! first TLS failure of a relay connection, and whether the transfer
//! stalled (no byte moved through the tunnel for `sst-idle-timeout`),
//! with the joiner's certificate subject for the message.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{DonorConfig, DonorError};
use crate::error::Error;
use crate::rsync::RsyncError;
use crate::tls::PeerInfo;

/// rsync's "timeout in data send/receive" and "timeout waiting for daemon
/// connection": its own `--timeout` fired, i.e. the tunnel stopped moving.
const RSYNC_TIMEOUT_STATUSES: [i32; 2] = [30, 35];

/// The first TLS failure a relay connection met, kept so that the donor can
/// report it instead of rsync's "did not see server greeting".
#[derive(Clone, Debug, Default)]
pub(super) struct FirstFailure(Arc<Mutex<Option<String>>>);

impl FirstFailure {
    pub(super) fn record(&self, text: String) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(text);
        }
    }

    /// The recorded failure, if any.
    pub(super) fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|s| s.clone())
    }
}

/// Relay connections whose pump runs, the joiner's subject, and whether
/// the relay declared the transfer stalled.
#[derive(Clone, Debug, Default)]
pub(super) struct StallWatch {
    pumping: Arc<AtomicUsize>,
    subject: Arc<Mutex<String>>,
    stalled: Arc<Mutex<bool>>,
}

/// Counts one pumping connection until dropped.
pub(super) struct Pumping(Arc<AtomicUsize>);

impl Drop for Pumping {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl StallWatch {
    /// A connection's pump starts (after its handshake).
    pub(super) fn pumping(&self, info: &PeerInfo) -> Pumping {
        if let Ok(mut s) = self.subject.lock() {
            s.clone_from(&info.subject);
        }
        self.pumping.fetch_add(1, Ordering::Relaxed);
        Pumping(self.pumping.clone())
    }

    /// The joiner certificate's subject, as the last handshake saw it.
    pub(super) fn subject(&self) -> String {
        self.subject.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// `Some(idle)` (and the stall recorded) when connections are pumping
    /// and no byte moved either way for the idle timeout. Bytes we write
    /// stop counting once the socket buffer is full, so a bulk transfer
    /// into a dead network stops here too.
    pub(super) fn stalled(&self, cfg: &DonorConfig) -> Option<Duration> {
        let limit = cfg.timeouts.idle?;
        let meter = cfg.relay.meter.as_ref()?;
        if self.pumping.load(Ordering::Relaxed) == 0 || meter.idle_for() <= limit {
            return None;
        }
        if let Ok(mut s) = self.stalled.lock() {
            *s = true;
        }
        Some(limit)
    }

    fn is_stalled(&self) -> bool {
        self.stalled.lock().map(|s| *s).unwrap_or(false)
    }
}

fn is_rsync_timeout(e: &RsyncError) -> bool {
    matches!(e, RsyncError::Failed { status, .. }
        if status.code().is_some_and(|c| RSYNC_TIMEOUT_STATUSES.contains(&c)))
}

/// The error a failed rsync step ends the donor with.
pub(super) fn explain(
    e: RsyncError,
    cfg: &DonorConfig,
    failures: &FirstFailure,
    watch: &StallWatch,
) -> Error {
    let rsync = crate::error::chain(&e);
    if let Some(idle) = cfg.timeouts.idle {
        if watch.is_stalled() || is_rsync_timeout(&e) {
            return DonorError::Stalled {
                target: cfg.target.clone(),
                subject: watch.subject(),
                idle,
                rsync,
            }
            .into();
        }
    }
    match failures.get() {
        Some(tunnel) => Error::Tunnel { tunnel, rsync },
        None => e.into(),
    }
}
