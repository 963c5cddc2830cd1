//! One bandwidth cap for a whole transfer, shared by every connection: a
//! token bucket that the pump of each connection draws from before it
//! writes `a → b` (on the donor, what goes to the joiner). The cap is the
//! total whatever the number of parallel rsync streams, which rsync's own
//! `--bwlimit` (one limit per process) cannot give.
//!
//! Tokens accrue at the rate up to a burst of [`BURST`] (or a tenth of a
//! second's worth, if more); a write takes as many as it can, but never
//! fewer than one TLS record's worth unless that is all it has to write, so
//! pacing does not shred records. A write that finds too few tokens waits
//! for them on a timer, never a busy loop.

use std::future::Future as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// The smallest burst, bytes: a few TLS records.
pub const BURST: u64 = 64 * 1024;
/// A write waits until it can take at least this much (one TLS record's
/// payload), or all it has when that is less.
const CHUNK: u64 = 16 * 1024;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A cap in bytes per second, shared by every connection of a transfer.
#[derive(Debug)]
pub struct Pacer {
    rate: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

impl Pacer {
    /// A cap of `bytes_per_sec` (at least 1), starting with a full burst.
    pub fn new(bytes_per_sec: u64) -> Arc<Pacer> {
        let rate = bytes_per_sec.max(1) as f64;
        let burst = (BURST as f64).max(rate / 10.0);
        Arc::new(Pacer {
            rate,
            burst,
            bucket: Mutex::new(Bucket {
                tokens: burst,
                last: Instant::now(),
            }),
        })
    }

    /// The cap, bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate as u64
    }

    /// The most bytes it lets through at once after an idle spell.
    pub fn burst(&self) -> u64 {
        self.burst as u64
    }

    fn lock(&self) -> MutexGuard<'_, Bucket> {
        // A bucket of two numbers stays consistent whatever a panicking holder did.
        self.bucket.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes up to `want` bytes' worth of tokens: `Ok(n)` with `n > 0`, or
    /// `Err(wait)` until enough have accrued.
    fn take(&self, want: usize, now: Instant) -> Result<usize, Duration> {
        let want = want as f64;
        let mut b = self.lock();
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.last = now;
        let needed = want.min(CHUNK as f64).max(1.0);
        if b.tokens >= needed {
            let n = want.min(b.tokens.floor());
            b.tokens -= n;
            return Ok(n as usize);
        }
        let missing = needed - b.tokens;
        Err(Duration::from_secs_f64(missing / self.rate).max(Duration::from_millis(1)))
    }

    /// Gives back tokens taken for bytes the writer did not accept.
    pub fn refund(&self, bytes: usize) {
        let mut b = self.lock();
        b.tokens = (b.tokens + bytes as f64).min(self.burst);
    }
}

/// One direction's claim on a [`Pacer`]: its timer while it waits.
#[derive(Debug)]
pub struct Paced {
    pacer: Arc<Pacer>,
    timer: Option<std::pin::Pin<Box<Sleep>>>,
}

impl Paced {
    /// A claim on `pacer`.
    pub fn new(pacer: Arc<Pacer>) -> Paced {
        Paced { pacer, timer: None }
    }

    /// How many of `want` bytes may be written now (`Ready(n)`, `n > 0`),
    /// or `Pending` with a timer registered to wake `cx` when enough tokens
    /// have accrued.
    pub fn poll_take(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<usize> {
        loop {
            if let Some(timer) = self.timer.as_mut() {
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.timer = None;
            }
            match self.pacer.take(want, Instant::now()) {
                Ok(n) => return Poll::Ready(n),
                Err(wait) => self.timer = Some(Box::pin(tokio::time::sleep(wait))),
            }
        }
    }

    /// Gives back tokens for bytes the writer did not take.
    pub fn refund(&self, bytes: usize) {
        if bytes > 0 {
            self.pacer.refund(bytes);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn takes_what_accrued_and_says_how_long_to_wait() {
        let p = Pacer::new(100 * 1024);
        let t0 = Instant::now();
        // The full burst first (64 KiB, more than a tenth of 100 KiB/s).
        assert_eq!(p.take(1 << 20, t0), Ok(64 * 1024));
        // Empty: wait for one record's worth at 100 KiB/s = 160 ms.
        let wait = p.take(1 << 20, t0).unwrap_err();
        assert_eq!(wait.as_millis(), 160);
        // After half a second, 50 KiB accrued.
        assert_eq!(
            p.take(1 << 20, t0 + Duration::from_millis(500)),
            Ok(50 * 1024)
        );
        // A small write needs only its own size.
        let t1 = t0 + Duration::from_millis(510);
        assert_eq!(p.take(100, t1), Ok(100));
        p.refund(100);
        // 10 ms gave 1 KiB: too little for a record, all a 1 KiB write needs.
        assert!(p.take(1 << 20, t1).is_err());
        assert_eq!(p.take(1024, t1), Ok(1024));
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_holds_across_claims() {
        let p = Pacer::new(1 << 20);
        let start = Instant::now();
        let mut claims: Vec<Paced> = (0..4).map(|_| Paced::new(p.clone())).collect();
        let mut sent = 0u64;
        let goal = (5u64 << 20) + p.burst();
        while sent < goal {
            for c in &mut claims {
                let n = std::future::poll_fn(|cx| c.poll_take(cx, 256 * 1024)).await;
                sent += n as u64;
            }
        }
        // 5 MiB beyond the first burst at 1 MiB/s: 5 s of (paused) time.
        let took = start.elapsed().as_secs_f64();
        assert!((4.9..5.2).contains(&took), "{took}");
    }
}
