//! The real-cluster SST benchmark behind `scripts/bench --cluster` (issue 12, item 1): what a
//! DBA waits for, from starting a wiped joiner to the joiner being `Synced`, with sst-tunnel
//! on both nodes against the socat reference peer on both nodes.
//!
//! One run: two mariadbd 10.11 + Galera nodes from the cluster harness
//! ([`crate::cluster`]), each in its own network namespace joined by a veth pair
//! ([`crate::netns::link`]; or both on loopback addresses), the donor loaded once
//! ([`data`]) and one untimed warm-up SST run per path; then per repetition, for each path in a
//! rotated order: install the path on
//! both nodes, wipe and start the joiner, time start → `Synced`, check every table arrived
//! (row count and `CHECKSUM TABLE` equal to the donor's), stop the joiner.
//! ([`measure`]: the `Synced` poll, peak RSS, the donor's step lines; [`interrupt`]:
//! cleaning up on Ctrl-C.)
//!
//! Output: one JSON object per line on stdout (`setup`, `data`, `rep`, `done`), read by
//! `scripts/bench.d/cluster.py`; progress on stderr. A benchmark, not a test: it asserts
//! that data arrived intact, never anything about time.

pub mod data;
pub mod interrupt;
pub mod json;
pub mod measure;

use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cluster::data::fingerprint;
use crate::cluster::method::{self, Method};
use crate::cluster::node::Node;
use crate::cluster::{checks, Cluster, ClusterSpec, Placement, SST_TIMEOUT, START_TIMEOUT};
use crate::netns::link::Link;
use json::Obj;

/// Where the two nodes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// Two namespaces joined by a veth pair (10.77.0.2 donor, 10.77.0.1 joiner).
    Namespaces,
    /// The host's loopback: 127.0.0.1 and 127.0.0.2.
    Loopback,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Approximate bytes of table data to load on the donor.
    pub size: u64,
    /// Repetitions (each runs every path once).
    pub reps: usize,
    /// Where the nodes run.
    pub network: Network,
    /// The sst-tunnel binary to install (a release build).
    pub binary: PathBuf,
    /// The paths to compare, in the first repetition's order.
    pub paths: Vec<Method>,
}

/// Time for a joiner to stop, or a donor to see it gone.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

fn emit(obj: &Obj) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", obj.render());
    let _ = out.flush();
}

fn progress(text: &str) {
    eprintln!("cluster bench: {text}");
}

/// Runs the whole benchmark; panics (after the harness has cleaned up) on any failure.
pub fn run(opts: &Options) {
    crate::cluster::node::require_tools();
    assert!(
        crate::procs::is_root(),
        "the cluster benchmark starts mariadbd as root with --user=mysql and creates network \
         namespaces: run it as root"
    );
    method::use_binary(opts.binary.clone());
    // Declared before the cluster, so dropped after it: the nodes stop before their
    // namespaces go.
    let link = match opts.network {
        Network::Namespaces => Some(Link::new()),
        Network::Loopback => None,
    };
    let placement = match &link {
        Some(link) => Placement::namespaces(link),
        None => Placement::loopback(),
    };
    let first = opts.paths.first().copied().unwrap_or(Method::SstTunnel);
    let mut cluster = Cluster::placed(&ClusterSpec::new(first, first), &placement);
    interrupt::check();
    progress("bootstrapping the donor");
    cluster.donor.start(true);
    interrupt::started(cluster.donor.pid());
    cluster.donor.wait_synced(1, START_TIMEOUT);
    emit(
        &Obj::new("setup")
            .str(
                "network",
                match opts.network {
                    Network::Namespaces => "netns",
                    Network::Loopback => "loopback",
                },
            )
            .str("donor_ip", &placement.donor.ip.to_string())
            .str("joiner_ip", &placement.joiner.ip.to_string())
            .str("mariadbd", cluster.donor.sql("SELECT VERSION()").trim())
            .str(
                "galera",
                cluster
                    .donor
                    .status("wsrep_provider_version")
                    .unwrap_or_default()
                    .as_str(),
            ),
    );

    progress(&format!(
        "loading about {} MiB on the donor",
        opts.size >> 20
    ));
    let loaded = data::load(&cluster.donor, opts.size);
    interrupt::check();
    assert!(
        loaded.big_share() >= 0.70,
        "{} holds only {:.0} % of the data: {:?}",
        data::BIG_SCHEMA,
        loaded.big_share() * 100.0,
        loaded.schema_bytes
    );
    // Nothing of the load in the binlog the SST ships (the load ran with sql_log_bin=0).
    let expected = fingerprint(&cluster.donor);
    let mut data = Obj::new("data")
        .num("datadir_bytes", loaded.datadir_bytes as f64)
        .num("rows", loaded.rows as f64)
        .num("tables", expected.len() as f64)
        .num("load_s", loaded.load_time.as_secs_f64())
        .num("big_share", loaded.big_share());
    let mut schemas = Obj::bare();
    for (name, bytes) in &loaded.schema_bytes {
        schemas = schemas.num(name, *bytes as f64);
    }
    data = data.obj("schema_bytes", schemas);
    emit(&data);

    // The first SSTs after the load pay for things no later one does (the first start of
    // mariadbd in the joiner's namespace, first page-ins): one untimed SST per path first.
    for &path in opts.paths.iter().rev() {
        interrupt::check();
        progress(&format!("warm-up SST (not counted): {}", path.label()));
        let result = repetition(&mut cluster, path, &expected);
        emit(&result.str("event", "warmup"));
    }

    for rep in 0..opts.reps {
        let mut order = opts.paths.clone();
        let turn = rep % order.len().max(1);
        order.rotate_left(turn);
        for path in order {
            interrupt::check();
            progress(&format!("rep {}: {} on both nodes", rep + 1, path.label()));
            let result = repetition(&mut cluster, path, &expected);
            emit(&result.num("rep", (rep + 1) as f64));
        }
    }
    emit(&Obj::new("done"));
    drop(cluster);
    drop(link);
}

/// Removes everything in the joiner's datadir (a wiped node, as a DBA re-seeds one) and
/// its stale socket; `sync`s so the previous repetition's writes are not this one's.
fn wipe(node: &Node) {
    let datadir = node.datadir();
    let entries =
        fs::read_dir(&datadir).unwrap_or_else(|e| panic!("cannot list {}: {e}", datadir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.unwrap_or_else(|e| panic!("cannot remove {}: {e}", path.display()));
    }
    let _gone = fs::remove_file(node.root().join("run/mysqld.sock"));
    let status = std::process::Command::new("sync")
        .status()
        .unwrap_or_else(|e| panic!("cannot run sync: {e}"));
    assert!(status.success(), "sync failed: {status}");
}

fn log_len(node: &Node) -> usize {
    node.error_log_text().len()
}

/// One SST with `path` on both nodes; its measurements (the `rep` line without its number).
fn repetition(
    cluster: &mut Cluster,
    path: Method,
    expected: &std::collections::BTreeMap<String, (u64, String)>,
) -> Obj {
    cluster.donor.set_method(path);
    cluster.joiner.set_method(path);
    wipe(&cluster.joiner);
    cluster.donor.wait_synced(1, START_TIMEOUT);
    let donor_log = log_len(&cluster.donor);
    let joiner_log = log_len(&cluster.joiner);
    let donor_runs = cluster.donor.trace().len();
    let joiner_runs = cluster.joiner.trace().len();
    let sampler = (path == Method::SstTunnel).then(|| {
        measure::RssSampler::start(vec![
            cluster.donor.root().join("log/sst-trace.log"),
            cluster.joiner.root().join("log/sst-trace.log"),
        ])
    });

    let start = Instant::now();
    cluster.joiner.start(false);
    interrupt::started(cluster.joiner.pid());
    let synced = measure::wait_joiner_synced(&mut cluster.joiner, SST_TIMEOUT)
        .unwrap_or_else(|reason| panic!("{} SST: {reason}", path.label()));
    let seconds = synced.duration_since(start).as_secs_f64();
    let rss = sampler.map(measure::RssSampler::finish).unwrap_or_default();
    cluster.donor.wait_synced(2, START_TIMEOUT);
    progress(&format!(
        "  start → Synced {seconds:.2} s; checking the data"
    ));

    // What ran: one SST (no --bypass) of `path` on each node.
    for (node, role, before) in [
        (&cluster.joiner, "joiner", joiner_runs),
        (&cluster.donor, "donor", donor_runs),
    ] {
        let runs: Vec<_> = node.trace().into_iter().skip(before).collect();
        let seen: Vec<(String, Option<String>, bool)> = runs
            .iter()
            .map(|r| {
                (
                    r.implementation.clone(),
                    r.role().map(str::to_string),
                    r.bypass(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![(path.label().to_string(), Some(role.to_string()), false)],
            "{}: expected exactly one {} SST run as {role}",
            node.name,
            path.label()
        );
    }
    let got = fingerprint(&cluster.joiner);
    assert_eq!(
        got.len(),
        expected.len(),
        "{} SST: the joiner has {} tables, the donor {}",
        path.label(),
        got.len(),
        expected.len()
    );
    for (table, value) in expected {
        assert_eq!(
            got.get(table),
            Some(value),
            "{} SST: {table} (rows, checksum) differs between donor and joiner",
            path.label()
        );
    }

    let donor_text = cluster.donor.error_log_text();
    let joiner_text = cluster.joiner.error_log_text();
    let donor_new = donor_text.get(donor_log..).unwrap_or_default();
    let joiner_new = joiner_text.get(joiner_log..).unwrap_or_default();

    let pid = cluster.joiner.pid();
    cluster.joiner.stop();
    interrupt::stopped(pid);
    cluster.donor.wait_synced(1, STOP_TIMEOUT);
    checks::assert_no_sst_processes(&cluster.joiner, STOP_TIMEOUT);
    checks::assert_no_sst_processes(&cluster.donor, STOP_TIMEOUT);

    let mut obj = Obj::new("rep")
        .str("path", path.label())
        .num("seconds", seconds)
        .num("tables_verified", got.len() as f64);
    if path == Method::SstTunnel {
        let mut steps = Obj::bare();
        for (name, ms) in measure::donor_steps(donor_new) {
            steps = steps.num(&name, ms as f64);
        }
        obj = obj.obj("donor_steps_ms", steps);
        if let Some(ms) = measure::elapsed_ms_of(donor_new, "donor: state snapshot sent") {
            obj = obj.num("donor_sst_ms", ms as f64);
        }
        if let Some(ms) = measure::elapsed_ms_of(joiner_new, "joiner: state snapshot received") {
            obj = obj.num("joiner_sst_ms", ms as f64);
        }
        let mut peaks = Obj::bare();
        for (role, kib) in rss {
            peaks = peaks.num(&role, kib as f64);
        }
        obj = obj.obj("peak_rss_kib", peaks);
    }
    obj
}
