//! Assertions shared by the scenarios: which implementation ran where (trace), that no SST
//! process is left, what did or did not reach the joiner's datadir, and how to tell
//! mariadbd's own log lines from those of the SST processes.

use std::fs;
use std::path::Path;
use std::time::Duration;

use super::data::{self, DataSpec};
use super::method::TraceLine;
use super::node::Node;
use super::Cluster;
use crate::poll::{self, Probe};
use crate::procs;

/// Waits until `node` has no SST process left (mariadbd itself excluded); on timeout the
/// failure lists what is still running.
pub fn assert_no_sst_processes(node: &Node, timeout: Duration) {
    let outcome = poll::wait_for(
        format!("{}: no SST process left", node.name),
        timeout,
        || {
            if node.sst_processes().is_empty() {
                Probe::Ready(())
            } else {
                Probe::Pending
            }
        },
    );
    if let Err(reason) = outcome {
        panic!(
            "{reason}; still running:\n{}",
            describe(&node.sst_processes())
        );
    }
}

/// Lists the SST processes of `node` (for failure messages).
pub fn describe(procs: &[procs::Process]) -> String {
    procs
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts the trace shows exactly the expected runs on `node`: for each entry, the role and
/// whether it was an IST (`--bypass`). Each run must be `node.method` and must have been
/// started with the node's private bin first on PATH.
pub fn assert_trace(node: &Node, expected: &[(&str, bool)]) -> Vec<TraceLine> {
    let trace = node.trace();
    let seen: Vec<(String, Option<String>, bool)> = trace
        .iter()
        .map(|t| {
            (
                t.implementation.clone(),
                t.role().map(str::to_string),
                t.bypass(),
            )
        })
        .collect();
    let want: Vec<(String, Option<String>, bool)> = expected
        .iter()
        .map(|(role, bypass)| {
            (
                node.method.label().to_string(),
                Some(role.to_string()),
                *bypass,
            )
        })
        .collect();
    assert_eq!(
        seen, want,
        "{}: SST runs (implementation, role, bypass) differ from the expected ones",
        node.name
    );
    let bin = node.bin_dir();
    for run in &trace {
        let first = run.path.split(':').next().unwrap_or_default();
        // mariadbd renders `<basedir>/bin` with a doubled slash; compare as paths.
        assert_eq!(
            std::path::Path::new(first),
            bin,
            "{}: SST run {} did not have the private bin first on PATH ({})",
            node.name,
            run.pid,
            run.path
        );
    }
    trace
}

/// Whether an error-log line was written by mariadbd (`2026-12-01 20:13:14 0 [Note] ...`)
/// rather than by an SST process writing to the inherited stderr.
pub fn is_mariadbd_line(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-'
}

/// Bytes of all files under the test schemas' directories in `datadir`.
pub fn schema_bytes(datadir: &Path, spec: &DataSpec) -> u64 {
    data::schemas(spec)
        .iter()
        .filter_map(|schema| fs::read_dir(datadir.join(schema)).ok())
        .flat_map(|entries| entries.flatten())
        .filter_map(|entry| entry.metadata().ok())
        .map(|meta| meta.len())
        .sum()
}

/// None of the donor's test data reached `datadir`.
pub fn assert_no_donor_files(datadir: &Path, spec: &DataSpec) {
    let mut names = data::schemas(spec);
    names.push("sst_live".into());
    for schema in names {
        let dir = datadir.join(&schema);
        assert!(
            !dir.exists(),
            "donor schema directory {} appeared on the joiner",
            dir.display()
        );
    }
    for name in ["rsync_tunnel_sst_complete", "wsrep_sst_binlog.tar"] {
        assert!(
            !datadir.join(name).exists(),
            "{name} appeared in the joiner datadir"
        );
    }
}

/// The joiner's binlog index was rebuilt around the binlog the donor shipped.
pub fn assert_binlog_installed(cluster: &Cluster) {
    let datadir = cluster.joiner.datadir();
    assert!(
        !datadir.join("wsrep_sst_binlog.tar").exists(),
        "the binlog tar was left in the joiner datadir"
    );
    let index = fs::read_to_string(datadir.join("mysql-bin.index")).unwrap_or_default();
    assert!(
        !index.trim().is_empty(),
        "joiner has an empty binlog index after SST"
    );
    let logs = cluster.joiner.sql("SHOW BINARY LOGS");
    assert!(!logs.trim().is_empty(), "joiner lists no binary logs");
}
