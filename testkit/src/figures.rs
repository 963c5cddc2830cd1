//! Measured figures for docs/reliability.md. A fault or hostile-input test
//! calls [`record`] once with what it measured; the line goes to stderr (seen
//! with `--nocapture`) and, when `SST_FIGURES` names a file, is appended to it.
//! `scripts/reliability` sets `SST_FIGURES`, runs the suites and renders the
//! table from those lines.

use std::fs::OpenOptions;
use std::io::Write;
use std::time::Duration;

/// One row of the reliability table.
#[derive(Debug, Clone, Default)]
pub struct Figure {
    /// Short scenario name, e.g. "network stall (netem loss 100%)".
    pub scenario: String,
    /// Time from the fault to a clean end (every process gone, exit seen).
    pub time_to_end: Option<Duration>,
    /// Exit code(s) observed, e.g. "joiner 110, donor 110".
    pub exit: String,
    /// Bytes written into the data directory after the fault.
    pub bytes_after: Option<u64>,
    /// Processes of ours left running at the end (must be 0).
    pub procs_left: Option<usize>,
    /// Peak resident set size of the measured process, in KiB.
    pub peak_rss_kib: Option<u64>,
    /// Anything else worth a column: throughput, connection counts, ...
    pub notes: String,
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "–".to_string(), T::to_string)
}

/// Prints the figure and appends it to `$SST_FIGURES` (tab-separated).
pub fn record(f: &Figure) {
    let secs = f
        .time_to_end
        .map_or_else(|| "–".to_string(), |d| format!("{:.2}", d.as_secs_f64()));
    let line = format!(
        "FIGURE\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        f.scenario.replace('\t', " "),
        secs,
        f.exit.replace('\t', " "),
        opt(&f.bytes_after),
        opt(&f.procs_left),
        opt(&f.peak_rss_kib),
        f.notes.replace('\t', " ")
    );
    eprintln!("{line}");
    if let Ok(path) = std::env::var("SST_FIGURES") {
        if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(&path) {
            let _ = writeln!(file, "{line}");
        }
    }
}

/// Peak RSS (`VmHWM`) of a live process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
