//! What people watching a transfer see of its [`Meter`]: on an interactive
//! terminal, one live line (bytes, rate and, when the size is known, the
//! percentage and an ETA); anywhere else (mariadbd's error log, a pipe, a
//! file), a plain log line every [`LOG_INTERVAL`].
//!
//! While the live line is shown, log lines written through [`StderrWriter`]
//! (the manual command line's tracing writer) are printed above it instead
//! of through it.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::meter::Meter;

/// How often the log lines come.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);
/// How often the live line is redrawn.
const DRAW_INTERVAL: Duration = Duration::from_millis(200);

/// Which counter of the meter the progress follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Bytes sent into TLS (the donor).
    Sent,
    /// Bytes received from TLS (the joiner).
    Received,
}

impl Counter {
    fn read(self, meter: &Meter) -> u64 {
        match self {
            Counter::Sent => meter.outbound(),
            Counter::Received => meter.inbound(),
        }
    }
}

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    /// A live line on the terminal.
    Terminal,
    /// Periodic log lines.
    Log,
}

impl Display {
    /// A live line when stderr is an interactive terminal, log lines otherwise.
    pub fn for_stderr() -> Display {
        if std::io::stderr().is_terminal() {
            Display::Terminal
        } else {
            Display::Log
        }
    }
}

/// The live line on screen, if any, for [`StderrWriter`].
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn active() -> MutexGuard<'static, Option<ProgressBar>> {
    // The slot holds a handle only; a panicking holder cannot leave it half-set.
    ACTIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Shows `counter` of `meter` (out of `expected` bytes, when known) until
/// `token` is cancelled.
pub async fn show(
    meter: Arc<Meter>,
    counter: Counter,
    expected: Option<u64>,
    display: Display,
    token: CancellationToken,
) {
    match display {
        Display::Terminal => live_line(meter, counter, expected, token).await,
        Display::Log => log_lines(meter, counter, expected, LOG_INTERVAL, token).await,
    }
}

async fn live_line(
    meter: Arc<Meter>,
    counter: Counter,
    expected: Option<u64>,
    token: CancellationToken,
) {
    let (bar, template) = match expected.filter(|e| *e > 0) {
        Some(total) => (
            ProgressBar::new(total),
            "{binary_bytes} of {binary_total_bytes} ({percent}%), {binary_bytes_per_sec}, ETA {eta}",
        ),
        None => (
            ProgressBar::no_length(),
            "{binary_bytes} received, {binary_bytes_per_sec}, {elapsed}",
        ),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    *active() = Some(bar.clone());
    let mut tick = tokio::time::interval(DRAW_INTERVAL);
    loop {
        bar.set_position(counter.read(&meter));
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tick.tick() => {}
        }
    }
    *active() = None;
    bar.finish_and_clear();
}

/// Logs bytes moved, rate and (when `expected` is known) an ETA every
/// `every`, until the token is cancelled.
pub async fn log_lines(
    meter: Arc<Meter>,
    counter: Counter,
    expected: Option<u64>,
    every: Duration,
    token: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    let mut last = counter.read(&meter);
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = counter.read(&meter);
        let rate = now.saturating_sub(last) as f64 / every.as_secs_f64();
        last = now;
        let mib = |b: u64| b as f64 / 1048576.0;
        match expected.filter(|e| *e > 0) {
            Some(total) => {
                let eta = if rate > 0.0 {
                    format!("{:.0}s", total.saturating_sub(now) as f64 / rate)
                } else {
                    "unknown".into()
                };
                tracing::info!(
                    "progress: {:.1} MiB of about {:.1} MiB sent, {:.1} MiB/s, ETA {eta}",
                    mib(now),
                    mib(total),
                    rate / 1048576.0
                );
            }
            None => tracing::info!(
                "progress: {:.1} MiB moved, {:.1} MiB/s, {} connections",
                mib(now),
                rate / 1048576.0,
                meter.connections()
            ),
        }
    }
}

/// stderr for log lines: while a live progress line is shown, each write
/// clears it, prints, and redraws it.
#[derive(Clone, Copy, Debug, Default)]
pub struct StderrWriter;

impl Write for StderrWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = active().clone();
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for StderrWriter {
    type Writer = StderrWriter;

    fn make_writer(&'a self) -> Self::Writer {
        StderrWriter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_their_direction() {
        let m = Meter::new();
        m.add_inbound(3);
        m.add_outbound(5);
        assert_eq!(Counter::Sent.read(&m), 5);
        assert_eq!(Counter::Received.read(&m), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn the_live_line_is_registered_while_shown_and_gone_after() {
        let m = Arc::new(Meter::new());
        let stop = CancellationToken::new();
        let task = tokio::spawn(live_line(m, Counter::Sent, Some(100), stop.clone()));
        // The clock is paused: this advances it past two redraws at once,
        // no real wait; the line must still be registered after them.
        tokio::time::sleep(DRAW_INTERVAL * 2).await;
        assert!(active().is_some());
        stop.cancel();
        let _ = task.await;
        assert!(active().is_none());
    }
}
