//! Waiting with a deadline: the only way the tests wait for anything (never a
//! bare sleep).
//!
//! - [`within`] bounds one await of an async test.
//! - [`until`] polls a condition and says whether it came true in time.
//! - [`wait_for`] and [`must`] poll a [`Probe`], which can also give up early
//!   (a process died, a file shows failure) with its reason.
//! - [`eventually`] polls a condition from async code, on the runtime's timer.

use std::fmt::Display;
use std::future::Future;
use std::thread;
use std::time::{Duration, Instant};

/// Bounds an await: its output, or a panic once `limit` has passed (the test
/// fails instead of hanging).
pub async fn within<F: Future>(limit: Duration, f: F) -> F::Output {
    match tokio::time::timeout(limit, f).await {
        Ok(output) => output,
        Err(_) => panic!("test step did not finish within {limit:?}"),
    }
}

/// What one look at the world found.
pub enum Probe<T> {
    /// The awaited condition holds; stop polling.
    Ready(T),
    /// Not yet; look again.
    Pending,
    /// It can never hold (a process died, a file shows failure); stop with this reason.
    Failed(String),
}

/// How often to look.
#[derive(Clone, Copy)]
enum Pace {
    /// Every 10 ms: cheap probes (a `/proc` read, a socket, a file), where the
    /// moment a condition came true may be measured.
    Steady,
    /// From 10 ms growing to 200 ms: probes that cost something (a program
    /// run, an SQL query) over waits of minutes.
    Growing,
}

/// Calls `probe` until it reports [`Probe::Ready`] or [`Probe::Failed`], or until `limit`.
fn poll<T>(limit: Duration, pace: Pace, mut probe: impl FnMut() -> Probe<T>) -> Outcome<T> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        match probe() {
            Probe::Ready(value) => return Outcome::Ready(value),
            Probe::Failed(reason) => return Outcome::Failed(reason, start.elapsed()),
            Probe::Pending => {}
        }
        if start.elapsed() >= limit {
            return Outcome::TimedOut;
        }
        thread::sleep(pause.min(limit.saturating_sub(start.elapsed())));
        if let Pace::Growing = pace {
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }
}

enum Outcome<T> {
    Ready(T),
    Failed(String, Duration),
    TimedOut,
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; returns whether it held.
pub fn until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let outcome = poll(limit, Pace::Steady, || {
        if cond() {
            Probe::Ready(())
        } else {
            Probe::Pending
        }
    });
    matches!(outcome, Outcome::Ready(()))
}

/// Calls `probe` until it reports [`Probe::Ready`] or [`Probe::Failed`], or until `timeout`;
/// the error names `what` and why it stopped.
///
/// The pause between looks grows from 10 ms to 200 ms, so short waits stay short and long
/// ones do not burn the CPU the processes under test need.
pub fn wait_for<T>(
    what: impl Display,
    timeout: Duration,
    probe: impl FnMut() -> Probe<T>,
) -> Result<T, String> {
    match poll(timeout, Pace::Growing, probe) {
        Outcome::Ready(value) => Ok(value),
        Outcome::Failed(reason, after) => Err(format!(
            "{what}: gave up after {:.1} s: {reason}",
            after.as_secs_f64()
        )),
        Outcome::TimedOut => Err(format!("{what}: still not true after {timeout:?}")),
    }
}

/// Like [`wait_for`] but panics with the reason (for use directly in test bodies).
pub fn must<T>(what: impl Display, timeout: Duration, probe: impl FnMut() -> Probe<T>) -> T {
    match wait_for(what, timeout, probe) {
        Ok(value) => value,
        Err(reason) => panic!("{reason}"),
    }
}

/// Polls `cond` every 20 ms on the async runtime's timer (the runtime's
/// other tasks keep running) until it holds; panics naming `what` after `limit`.
pub async fn eventually(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
