//! What one repetition measures besides its wall time: the moment the joiner is `Synced`
//! (polled cheaply, so the poll does not take the CPU the SST needs), the peak RSS of the
//! sst-tunnel processes, and the donor's per-step times from its log lines.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cluster::method::{read_trace, Method};
use crate::cluster::node::Node;
use crate::figures::peak_rss_kib;

/// Polls `node` (a joiner just started) until it is `Synced` in a cluster of two; returns
/// when that was first seen. Until mariadbd has created its socket (after the SST and
/// InnoDB's start) a look is one `stat`; then one SQL query per look. Fails if mariadbd
/// exits, the benchmark is interrupted or `timeout` passes.
pub fn wait_joiner_synced(node: &mut Node, timeout: Duration) -> Result<Instant, String> {
    let socket = node.root().join("run/mysqld.sock");
    let started = Instant::now();
    let mut last = String::from("socket not up");
    let mut failed = None;
    let ready = crate::poll::until(timeout, || {
        if super::interrupt::interrupted() {
            failed = Some("interrupted".to_string());
            return true;
        }
        if let Some(status) = node.exited() {
            failed = Some(format!("mariadbd exited with {status} ({last})"));
            return true;
        }
        if !socket.exists() {
            return false;
        }
        let sql = "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE \
                   VARIABLE_NAME IN ('WSREP_LOCAL_STATE_COMMENT', 'WSREP_CLUSTER_SIZE') \
                   ORDER BY VARIABLE_NAME";
        match node.try_sql(sql) {
            Ok(out) => {
                let values: Vec<&str> = out.lines().map(str::trim).collect();
                last = format!("cluster size, state: {values:?}");
                values == ["2", "Synced"]
            }
            Err(e) => {
                last = e;
                false
            }
        }
    });
    let seen = Instant::now();
    match failed {
        Some(reason) => Err(format!("{}: not Synced: {reason}", node.name)),
        None if ready => Ok(seen),
        None => Err(format!(
            "{}: not Synced within {:.0?} of start (last seen: {last})",
            node.name,
            started.elapsed()
        )),
    }
}

/// Follows the peak RSS (`VmHWM`) of every sst-tunnel process a node's trace log names, for
/// each role, until stopped.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<BTreeMap<String, u64>>>,
}

impl RssSampler {
    /// Starts sampling every 50 ms the sst-tunnel runs listed in `traces` (trace logs of
    /// the nodes); only runs added after now count.
    pub fn start(traces: Vec<PathBuf>) -> RssSampler {
        let skip: Vec<usize> = traces.iter().map(|t| read_trace(t).len()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peaks: BTreeMap<String, u64> = BTreeMap::new();
            loop {
                let last_round = flag.load(Ordering::Relaxed);
                for (trace, skip) in traces.iter().zip(&skip) {
                    for run in read_trace(trace).into_iter().skip(*skip) {
                        if run.implementation != Method::SstTunnel.label() {
                            continue;
                        }
                        let role = run.role().unwrap_or("?").to_string();
                        if let Some(kib) = peak_rss_kib(run.pid as u32) {
                            let peak = peaks.entry(role).or_insert(0);
                            *peak = (*peak).max(kib);
                        }
                    }
                }
                if last_round {
                    return peaks;
                }
                // A sampling interval, not a wait for an event: VmHWM is a high-water
                // mark, so only the last growth before the process exits can be missed.
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssSampler {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling; the peak seen per role (`donor`, `joiner`), in KiB.
    pub fn finish(mut self) -> BTreeMap<String, u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The value of `key=` in a log line: up to the next ` word=` field or the ` (time)` the
/// SST log format appends, without quotes (a `Debug`-formatted field has them).
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[at..];
    let end = if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.split('"').next();
    } else {
        next_field(rest)
    };
    Some(rest[..end].trim())
}

/// Where the value starting `rest` ends: before ` name=` or ` (`.
fn next_field(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b != b' ' {
            continue;
        }
        let after = &rest[i + 1..];
        if after.starts_with('(') {
            return i;
        }
        let word: &str = after.split(['=', ' ']).next().unwrap_or_default();
        let is_key = !word.is_empty()
            && word.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            && after[word.len()..].starts_with('=');
        if is_key {
            return i;
        }
    }
    rest.len()
}

/// The donor's step lines (`donor: step done step=<name> elapsed_ms=<n>`) in `log`, in the
/// order they first appear; a step logged twice counts once with both times added. Lines
/// that do not parse are skipped: the format belongs to the donor, the benchmark only
/// reads it.
pub fn donor_steps(log: &str) -> Vec<(String, u64)> {
    let mut steps: Vec<(String, u64)> = Vec::new();
    for line in log.lines().filter(|l| l.contains("step done")) {
        let Some(name) = field(line, "step") else {
            continue;
        };
        let Some(ms) = field(line, "elapsed_ms").and_then(|v| v.parse::<u64>().ok()) else {
            continue;
        };
        match steps.iter_mut().find(|(n, _)| n == name) {
            Some((_, total)) => *total += ms,
            None => steps.push((name.to_string(), ms)),
        }
    }
    steps
}

/// `elapsed_ms` of the first line of `log` containing `message` (e.g. the donor's
/// `donor: state snapshot sent`).
pub fn elapsed_ms_of(log: &str, message: &str) -> Option<u64> {
    log.lines()
        .filter(|l| l.contains(message))
        .find_map(|l| field(l, "elapsed_ms")?.parse().ok())
}
