//! The joiner's log of connections turned away before they were served
//! (failed TLS handshakes, evicted pending handshakes, authenticated peers
//! over the connection cap), bounded so that a port scan or a flood cannot
//! fill mariadbd's error log.
//!
//! The first [`FULL_LINES`] rejections of a run are logged in full, each
//! with its peer and cause: that is what an operator needs to fix a donor
//! with the wrong certificate. After that, rejections are only counted by
//! cause, and one summary line per [`SUMMARY_INTERVAL`] (and one at the end
//! of the run) reports the counts. Every rejection is still logged at debug
//! level, for `SST_TUNNEL_LOG=debug`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::tls::TlsError;

/// Rejections logged in full at the start of a run.
pub const FULL_LINES: u32 = 5;
/// How often, at most, a summary of the rejections since the last line is logged.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// Why a connection was turned away: the label counted in summaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// The handshake did not finish within `sst-handshake-timeout`.
    Timeout,
    /// The client does not speak TLS.
    NotTls,
    /// The client presented no certificate.
    NoCertificate,
    /// The client's certificate failed the chain check (untrusted, expired, …).
    Untrusted,
    /// The client's certificate carries none of the names required.
    NameRefused,
    /// The client hung up or reset during the handshake.
    Closed,
    /// Any other handshake failure (no common protocol or cipher, an alert…).
    Handshake,
    /// A newer connection evicted this pending handshake (the table was full).
    Evicted,
    /// An authenticated peer over `sst-max-connections`.
    OverCap,
}

impl Cause {
    /// The cause of a failed handshake.
    pub fn of(error: &TlsError) -> Cause {
        match error {
            TlsError::Timeout { .. } => Cause::Timeout,
            TlsError::NotTls { .. } => Cause::NotTls,
            TlsError::NoPeerCert { .. } => Cause::NoCertificate,
            TlsError::PeerCertRejected { .. } => Cause::Untrusted,
            TlsError::NameMismatch { .. } => Cause::NameRefused,
            TlsError::PeerClosed { .. } | TlsError::Io { .. } => Cause::Closed,
            _ => Cause::Handshake,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Cause::Timeout => "handshake timeout",
            Cause::NotTls => "not tls",
            Cause::NoCertificate => "no certificate",
            Cause::Untrusted => "certificate not trusted",
            Cause::NameRefused => "certificate name refused",
            Cause::Closed => "closed during the handshake",
            Cause::Handshake => "handshake failure",
            Cause::Evicted => "evicted from the full handshake table",
            Cause::OverCap => "over sst-max-connections",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Counts of rejections by cause, printed as `12 not tls, 3 no certificate`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts(BTreeMap<Cause, u64>);

impl Counts {
    /// Total rejections counted.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// The count for one cause.
    pub fn get(&self, cause: Cause) -> u64 {
        self.0.get(&cause).copied().unwrap_or(0)
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (cause, n) in &self.0 {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{n} {cause}")?;
        }
        Ok(())
    }
}

/// What to do with one rejection.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Log it in full (one of the first [`FULL_LINES`]).
    Full,
    /// Count it only; log it at debug level.
    Counted,
}

#[derive(Debug)]
struct State {
    logged: u32,
    since: Instant,
    pending: Counts,
    total: Counts,
}

/// One joiner run's rejection log, shared by every connection task.
#[derive(Debug)]
pub struct Rejects {
    state: Mutex<State>,
    interval: Duration,
}

impl Default for Rejects {
    fn default() -> Self {
        Rejects::new(SUMMARY_INTERVAL)
    }
}

impl Rejects {
    /// A log whose summaries come at most every `interval`.
    pub fn new(interval: Duration) -> Rejects {
        Rejects {
            state: Mutex::new(State {
                logged: 0,
                since: Instant::now(),
                pending: Counts::default(),
                total: Counts::default(),
            }),
            interval,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Counters stay meaningful even if a holder panicked.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one rejection and says whether to log it in full. Counted
    /// rejections wait for the next summary.
    pub fn note(&self, cause: Cause) -> Verdict {
        let mut s = self.lock();
        *s.total.0.entry(cause).or_default() += 1;
        if s.logged < FULL_LINES {
            s.logged += 1;
            return Verdict::Full;
        }
        *s.pending.0.entry(cause).or_default() += 1;
        Verdict::Counted
    }

    /// The counts not yet reported, once the interval since the last
    /// summary has passed (then the interval starts again).
    pub fn due(&self, now: Instant) -> Option<Counts> {
        let mut s = self.lock();
        if s.pending.total() == 0 || now.duration_since(s.since) < self.interval {
            return None;
        }
        s.since = now;
        Some(std::mem::take(&mut s.pending))
    }

    /// The counts not yet reported, whatever the time (end of the run).
    pub fn rest(&self) -> Option<Counts> {
        let mut s = self.lock();
        (s.pending.total() > 0).then(|| std::mem::take(&mut s.pending))
    }

    /// Every rejection of the run, by cause.
    pub fn total(&self) -> Counts {
        self.lock().total.clone()
    }
}

/// Logs a summary line for `counts`.
pub fn log_summary(counts: &Counts, final_line: bool) {
    tracing::warn!(
        rejected = counts.total(),
        "{} connections turned away since the last report: {counts}{}",
        counts.total(),
        if final_line { " (end of the run)" } else { "" }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_few_are_full_then_counted_and_summarised_per_interval() {
        let r = Rejects::new(Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..FULL_LINES {
            assert_eq!(r.note(Cause::NotTls), Verdict::Full);
        }
        for _ in 0..700 {
            assert_eq!(r.note(Cause::Timeout), Verdict::Counted);
        }
        for _ in 0..300 {
            assert_eq!(r.note(Cause::NoCertificate), Verdict::Counted);
        }
        assert_eq!(r.due(start), None, "no summary before the interval");
        let later = start + Duration::from_secs(61);
        let c = r.due(later).unwrap_or_default();
        assert_eq!(c.total(), 1000);
        assert_eq!(c.to_string(), "700 handshake timeout, 300 no certificate");
        assert_eq!(r.due(later + Duration::from_secs(120)), None, "nothing new");
        assert_eq!(r.note(Cause::Evicted), Verdict::Counted);
        assert_eq!(
            r.due(later + Duration::from_secs(1)),
            None,
            "interval restarted"
        );
        assert_eq!(r.rest().map(|c| c.get(Cause::Evicted)), Some(1));
        assert_eq!(r.rest(), None);
        assert_eq!(r.total().total(), 1000 + u64::from(FULL_LINES) + 1);
    }
}
