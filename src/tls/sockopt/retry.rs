//! `connect-timeout`, `retry`, `interval` and `forever`, combined with our
//! own `sst-connect-timeout` and `sst-connect-retry` into one bounded plan,
//! for the donor's connects and the joiner's bind (tls-compat.md §2b).
//!
//! Precedence, the same on both sides where the item applies:
//! - one connect attempt (donor) is bounded by `connect-timeout` when
//!   given, else by `sst-connect-timeout`;
//! - `retry=N` allows N retries after the first attempt (`retry=0`: none);
//!   `forever` lifts that count (it wins over `retry`, as in socat);
//! - `interval` is the pause between attempts; socat's 1 s when `retry` or
//!   `forever` is given without it; otherwise the donor keeps its 200 ms;
//! - whatever the items say, no attempt starts once `sst-connect-retry`
//!   has passed since the first one, so `forever` ends there too.
//!
//! Without any of these items the donor retries every 200 ms within
//! `sst-connect-retry`, and the joiner does not retry a busy port (socat's
//! `retry=0`). `connect-timeout` does not apply to the joiner's bind.

use std::fmt;
use std::time::Duration;

use super::SockOpts;

/// Pause between the donor's attempts when `sockopt` sets no retry item.
pub const DEFAULT_PAUSE: Duration = Duration::from_millis(200);
/// socat's default `interval`, used when `retry` or `forever` comes without it.
pub const SOCAT_INTERVAL: Duration = Duration::from_secs(1);

/// When to try again after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPlan {
    /// Retries allowed after the first attempt; `None` = no count.
    pub retries: Option<u32>,
    /// Pause between two attempts.
    pub pause: Duration,
    /// No attempt starts later than this after the first (`sst-connect-retry`).
    pub window: Duration,
}

/// Why a retry loop gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    /// `retry=N` was used up.
    Count {
        /// The `retry` value.
        retry: u32,
    },
    /// The next attempt would start after `sst-connect-retry`.
    Window {
        /// The window.
        window: Duration,
    },
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exhausted::Count { retry } => write!(f, "(sockopt retry={retry})"),
            Exhausted::Window { window } => write!(f, "within {window:?} (sst-connect-retry)"),
        }
    }
}

impl RetryPlan {
    /// After `attempts` failed attempts (1 or more), the first of which
    /// began `elapsed` ago: the pause before the next one, or why there is
    /// none. An attempt that could only start after the window is not
    /// waited for.
    pub fn after(&self, attempts: u32, elapsed: Duration) -> Result<Duration, Exhausted> {
        if let Some(retry) = self.retries {
            if attempts > retry {
                return Err(Exhausted::Count { retry });
            }
        }
        if elapsed.saturating_add(self.pause) >= self.window {
            return Err(Exhausted::Window {
                window: self.window,
            });
        }
        Ok(self.pause)
    }
}

impl SockOpts {
    /// The limit on one TCP connect attempt of the donor: `connect-timeout`
    /// when given, else `sst_connect_timeout`; with the name of the setting
    /// that gave it, for messages.
    pub fn attempt_timeout(&self, sst_connect_timeout: Duration) -> (Duration, &'static str) {
        match self.connect_timeout {
            Some(t) => (t, "sockopt connect-timeout"),
            None => (sst_connect_timeout, "sst-connect-timeout"),
        }
    }

    /// The donor's retries of a failed connect or dropped handshake, within
    /// `window` (`sst-connect-retry`).
    pub fn connect_retry(&self, window: Duration) -> RetryPlan {
        let socat_items = self.retry.is_some() || self.forever;
        RetryPlan {
            retries: if self.forever { None } else { self.retry },
            pause: self.interval.unwrap_or(if socat_items {
                SOCAT_INTERVAL
            } else {
                DEFAULT_PAUSE
            }),
            window,
        }
    }

    /// The joiner's retries of a bind that finds the port in use, within
    /// `window` (`sst-connect-retry`): none unless `retry` or `forever`.
    pub fn bind_retry(&self, window: Duration) -> RetryPlan {
        RetryPlan {
            retries: if self.forever {
                None
            } else {
                Some(self.retry.unwrap_or(0))
            },
            pause: self.interval.unwrap_or(SOCAT_INTERVAL),
            window,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn opts(s: &str) -> SockOpts {
        SockOpts::parse(s).unwrap()
    }

    #[test]
    fn attempt_timeout_is_connect_timeout_over_sst_connect_timeout() {
        assert_eq!(
            opts("").attempt_timeout(10 * S),
            (10 * S, "sst-connect-timeout")
        );
        assert_eq!(
            opts("connect-timeout=2.5").attempt_timeout(10 * S),
            (Duration::from_millis(2500), "sockopt connect-timeout")
        );
        // Longer than ours is honoured too: the item is what the user wrote.
        assert_eq!(opts("connect-timeout=60").attempt_timeout(10 * S).0, 60 * S);
    }

    #[test]
    fn donor_without_items_keeps_200ms_within_the_window() {
        let p = opts("").connect_retry(30 * S);
        assert_eq!(
            p,
            RetryPlan {
                retries: None,
                pause: DEFAULT_PAUSE,
                window: 30 * S
            }
        );
        assert_eq!(p.after(1, Duration::ZERO), Ok(DEFAULT_PAUSE));
        assert_eq!(p.after(10_000, 29 * S), Ok(DEFAULT_PAUSE));
        assert_eq!(
            p.after(150, 30 * S - DEFAULT_PAUSE),
            Err(Exhausted::Window { window: 30 * S })
        );
    }

    #[test]
    fn retry_counts_retries_after_the_first_attempt() {
        let p = opts("retry=2").connect_retry(30 * S);
        assert_eq!(p.retries, Some(2));
        assert_eq!(p.pause, SOCAT_INTERVAL, "socat's interval default");
        assert_eq!(p.after(1, Duration::ZERO), Ok(S));
        assert_eq!(p.after(2, S), Ok(S));
        assert_eq!(p.after(3, 2 * S), Err(Exhausted::Count { retry: 2 }));
        let p = opts("retry=0").connect_retry(30 * S);
        assert_eq!(
            p.after(1, Duration::ZERO),
            Err(Exhausted::Count { retry: 0 })
        );
    }

    #[test]
    fn the_window_bounds_retry_and_forever() {
        let p = opts("retry=100,interval=1").connect_retry(30 * S);
        assert_eq!(p.after(29, 28 * S), Ok(S));
        assert_eq!(
            p.after(30, 29 * S),
            Err(Exhausted::Window { window: 30 * S })
        );
        let p = opts("forever").connect_retry(30 * S);
        assert_eq!(p.retries, None);
        assert_eq!(p.after(u32::MAX, 10 * S), Ok(S));
        assert_eq!(
            p.after(3, 29 * S),
            Err(Exhausted::Window { window: 30 * S })
        );
        // A window of 0 allows the first attempt only.
        let p = opts("forever,interval=0").connect_retry(Duration::ZERO);
        assert_eq!(
            p.after(1, Duration::ZERO),
            Err(Exhausted::Window {
                window: Duration::ZERO
            })
        );
    }

    #[test]
    fn forever_wins_over_retry() {
        assert_eq!(opts("retry=1,forever").connect_retry(30 * S).retries, None);
        assert_eq!(opts("forever,retry=1").bind_retry(30 * S).retries, None);
    }

    #[test]
    fn interval_is_the_pause_and_a_pause_past_the_window_is_not_waited() {
        let p = opts("interval=0.05").connect_retry(30 * S);
        assert_eq!(p.retries, None, "interval alone sets no count");
        assert_eq!(p.after(7, S), Ok(Duration::from_millis(50)));
        let p = opts("retry=3,interval=3600").connect_retry(600 * S);
        assert_eq!(
            p.after(1, Duration::ZERO),
            Err(Exhausted::Window { window: 600 * S })
        );
    }

    #[test]
    fn joiner_retries_a_busy_port_only_when_asked() {
        let p = opts("").bind_retry(30 * S);
        assert_eq!(
            p.after(1, Duration::ZERO),
            Err(Exhausted::Count { retry: 0 })
        );
        let p = opts("interval=0.1").bind_retry(30 * S);
        assert_eq!(
            p.after(1, Duration::ZERO),
            Err(Exhausted::Count { retry: 0 })
        );
        let p = opts("retry=5").bind_retry(30 * S);
        assert_eq!(p.pause, SOCAT_INTERVAL);
        assert_eq!(p.after(5, 4 * S), Ok(S));
        assert_eq!(p.after(6, 5 * S), Err(Exhausted::Count { retry: 5 }));
        let p = opts("forever,interval=0.5").bind_retry(30 * S);
        assert_eq!(p.after(50, 20 * S), Ok(Duration::from_millis(500)));
        assert_eq!(
            p.after(60, 29_600 * Duration::from_millis(1)),
            Err(Exhausted::Window { window: 30 * S })
        );
    }

    #[test]
    fn exhausted_names_the_setting() {
        assert_eq!(
            Exhausted::Count { retry: 2 }.to_string(),
            "(sockopt retry=2)"
        );
        assert_eq!(
            Exhausted::Window { window: 30 * S }.to_string(),
            "within 30s (sst-connect-retry)"
        );
    }
}
