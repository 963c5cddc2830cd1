//! What the donor's relay met, kept to explain a failed rsync step: the
//! first TLS failure of a relay connection, and whether the transfer
//! stalled (no byte moved through the tunnel for `sst-idle-timeout`),
//! with the joiner's certificate subject for the message.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{DonorError, Target, TunnelFailure};
use crate::exit::ExitCode;
use crate::meter::Meter;
use crate::relay::RelayError;
use crate::rsync::RsyncError;
use crate::tls::PeerInfo;

/// rsync's "timeout in data send/receive" and "timeout waiting for daemon
/// connection": its own `--timeout` fired, i.e. the tunnel stopped moving.
const RSYNC_TIMEOUT_STATUSES: [i32; 2] = [30, 35];

/// The first failure a relay connection met, kept so that the donor can
/// report it instead of rsync's "did not see server greeting" or "write
/// error: Broken pipe".
#[derive(Clone, Debug, Default)]
pub(super) struct FirstFailure(Arc<Mutex<Option<Arc<TunnelFailure>>>>);

impl FirstFailure {
    pub(super) fn record(&self, failure: TunnelFailure) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(Arc::new(failure));
        }
    }

    /// The recorded failure, if any.
    pub(super) fn get(&self) -> Option<Arc<TunnelFailure>> {
        self.0.lock().ok().and_then(|s| s.clone())
    }
}

/// True when a relay connection ended because the joiner's side went away
/// (TCP closed without `close_notify`, reset, broken pipe), as opposed to a
/// TLS alert the joiner sent.
pub(super) fn broke_mid_transfer(e: &RelayError) -> bool {
    use std::io::ErrorKind;
    match e {
        RelayError::Truncated { .. } => true,
        RelayError::Read { source, .. } | RelayError::Write { source, .. } => {
            matches!(
                source.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
            )
        }
        _ => false,
    }
}

/// Relay connections whose pump runs, the joiner's subject, and whether
/// the relay declared the transfer stalled.
#[derive(Clone, Debug, Default)]
pub(super) struct StallWatch {
    pumping: Arc<AtomicUsize>,
    subject: Arc<Mutex<String>>,
    stalled: Arc<AtomicBool>,
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
    pub(super) fn stalled(
        &self,
        idle: Option<Duration>,
        meter: Option<&Meter>,
    ) -> Option<Duration> {
        let limit = idle?;
        let meter = meter?;
        if self.pumping.load(Ordering::Relaxed) == 0 || meter.idle_for() <= limit {
            return None;
        }
        self.stalled.store(true, Ordering::Relaxed);
        Some(limit)
    }

    fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Relaxed)
    }
}

fn is_rsync_timeout(e: &RsyncError) -> bool {
    matches!(e, RsyncError::Failed { status, .. }
        if status.code().is_some_and(|c| RSYNC_TIMEOUT_STATUSES.contains(&c)))
}

/// The error a failed rsync step ends the donor with: a stall naming the
/// joiner when the relay saw one or rsync's own `--timeout` fired, else the
/// tunnel's first failure, else rsync's error.
pub(super) fn explain(
    e: RsyncError,
    target: &Target,
    idle: Option<Duration>,
    failures: &FirstFailure,
    watch: &StallWatch,
) -> DonorError {
    // rsync's own report of a full joiner disk is the cause, whatever the
    // tunnel met after the joiner gave up.
    if e.exit_code() == ExitCode::NoSpace {
        return e.into();
    }
    if let Some(idle) = idle {
        if watch.is_stalled() || is_rsync_timeout(&e) {
            return DonorError::Stalled {
                target: target.clone(),
                subject: watch.subject(),
                idle,
                rsync: Box::new(e),
            };
        }
    }
    match failures.get() {
        Some(tunnel) => DonorError::Tunnel {
            tunnel,
            rsync: Box::new(e),
        },
        None => e.into(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::relay::Direction;
    use std::io::ErrorKind;
    use std::os::unix::process::ExitStatusExt;

    fn failed(code: i32) -> RsyncError {
        RsyncError::Failed {
            step: "directory db1".into(),
            status: std::process::ExitStatus::from_raw(code << 8),
            stderr_tail: "rsync error: timeout in data send/receive (code 30)".into(),
        }
    }

    fn target() -> Target {
        Target {
            host: "10.0.0.1".into(),
            port: 4444,
        }
    }

    fn info() -> PeerInfo {
        PeerInfo {
            subject: "CN=joiner".into(),
            ..PeerInfo::default()
        }
    }

    #[test]
    fn rsync_timeout_is_a_stall_naming_the_joiner() {
        let watch = StallWatch::default();
        drop(watch.pumping(&info()));
        let idle = Some(Duration::from_secs(5));
        let e = explain(
            failed(30),
            &target(),
            idle,
            &FirstFailure::default(),
            &watch,
        );
        let text = e.to_string();
        assert!(
            text.starts_with(
                "transfer to the joiner 10.0.0.1:4444 (CN=joiner) stalled: no byte moved for 5s"
            ),
            "{text}"
        );
        assert_eq!(e.exit_code(), ExitCode::TimedOut);
        // Without an idle timeout rsync had no --timeout: its own error stands.
        let e = explain(
            failed(30),
            &target(),
            None,
            &FirstFailure::default(),
            &watch,
        );
        assert_eq!(e.exit_code(), ExitCode::TransferFailed);
    }

    #[test]
    fn other_failures_keep_the_tunnel_reason_first() {
        let failures = FirstFailure::default();
        failures.record(TunnelFailure::Alert(RelayError::Read {
            direction: Direction::BToA,
            source: std::io::Error::other("tlsv13 alert certificate required"),
        }));
        let idle = Some(Duration::from_secs(5));
        let e = explain(
            failed(12),
            &target(),
            idle,
            &failures,
            &StallWatch::default(),
        );
        assert!(matches!(e, DonorError::Tunnel { .. }), "{e}");
        assert_eq!(e.exit_code(), ExitCode::AuthFailed);
        let text = crate::exit::chain(&e);
        assert!(
            text.starts_with("transfer failed because the tunnel failed: ")
                && text.contains("certificate required")
                && text.contains("(rsync then reported: rsync directory db1 failed"),
            "{text}"
        );
    }

    #[test]
    fn a_stall_needs_a_pumping_connection_and_the_idle_time() {
        let watch = StallWatch::default();
        let meter = Meter::new();
        let zero = Some(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            watch.stalled(zero, Some(&meter)),
            None,
            "no connection pumping"
        );
        let pumping = watch.pumping(&info());
        assert_eq!(
            watch.stalled(Some(Duration::from_secs(60)), Some(&meter)),
            None
        );
        assert_eq!(
            watch.stalled(None, Some(&meter)),
            None,
            "sst-idle-timeout 0"
        );
        assert_eq!(watch.stalled(zero, Some(&meter)), zero);
        assert!(watch.is_stalled());
        drop(pumping);
    }

    #[test]
    fn a_cut_connection_is_not_an_authentication_failure() {
        let cut = RelayError::Truncated {
            direction: Direction::BToA,
            source: std::io::Error::from(ErrorKind::UnexpectedEof),
        };
        assert!(broke_mid_transfer(&cut));
        let reset = RelayError::Read {
            direction: Direction::BToA,
            source: std::io::Error::from(ErrorKind::ConnectionReset),
        };
        assert!(broke_mid_transfer(&reset));
        let alert = RelayError::Read {
            direction: Direction::BToA,
            source: std::io::Error::other("tlsv13 alert certificate required"),
        };
        assert!(!broke_mid_transfer(&alert));
    }

    #[test]
    fn the_first_failure_is_kept() {
        let f = FirstFailure::default();
        assert!(f.get().is_none());
        let cut = || RelayError::Truncated {
            direction: Direction::BToA,
            source: std::io::Error::from(ErrorKind::UnexpectedEof),
        };
        f.record(TunnelFailure::Broke {
            target: target(),
            subject: "CN=joiner".into(),
            elapsed_ms: 7,
            source: cut(),
        });
        f.record(TunnelFailure::Alert(cut()));
        let first = f.get().unwrap();
        assert_eq!(first.exit_code(), ExitCode::TransferFailed);
        assert!(
            first.to_string().starts_with(
                "the connection to the joiner 10.0.0.1:4444 (CN=joiner) broke after 7 ms"
            ),
            "{first}"
        );
    }
}
