//! Waiting with a deadline: the only way the cluster tests wait for anything.

use std::fmt::Display;
use std::thread;
use std::time::{Duration, Instant};

/// What one look at the world found.
pub enum Probe<T> {
    /// The awaited condition holds; stop polling.
    Ready(T),
    /// Not yet; look again.
    Pending,
    /// It can never hold (a process died, a file shows failure); stop with this reason.
    Failed(String),
}

/// Calls `probe` until it reports [`Probe::Ready`] or [`Probe::Failed`], or until `timeout`.
///
/// The pause between looks grows from 10 ms to 200 ms, so short waits stay short and long
/// ones do not burn the CPU the cluster needs.
pub fn wait_for<T>(
    what: impl Display,
    timeout: Duration,
    mut probe: impl FnMut() -> Probe<T>,
) -> Result<T, String> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        match probe() {
            Probe::Ready(value) => return Ok(value),
            Probe::Failed(reason) => {
                return Err(format!(
                    "{what}: gave up after {:.1} s: {reason}",
                    start.elapsed().as_secs_f64()
                ))
            }
            Probe::Pending => {}
        }
        if start.elapsed() >= timeout {
            return Err(format!("{what}: still not true after {timeout:?}"));
        }
        thread::sleep(pause.min(timeout.saturating_sub(start.elapsed())));
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// Like [`wait_for`] but panics with the reason (for use directly in test bodies).
pub fn must<T>(what: impl Display, timeout: Duration, probe: impl FnMut() -> Probe<T>) -> T {
    match wait_for(what, timeout, probe) {
        Ok(value) => value,
        Err(reason) => panic!("{reason}"),
    }
}
