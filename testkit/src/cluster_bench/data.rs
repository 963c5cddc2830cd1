//! The benchmark's data set: about `size` bytes of InnoDB tables, four fifths of them in
//! one schema of four tables of unequal size (the common case of one application schema
//! holding most of the bytes), the rest in a medium schema of two tables and a schema of
//! small tables. Rows carry `RANDOM_BYTES` (4 KiB in the sized tables), so nothing along
//! the way could shrink them.
//!
//! Loaded once per run on the donor, locally (`wsrep_on=OFF`, `sql_log_bin=0`): the joiner
//! gets every byte by SST anyway, and neither a Galera write set nor a binlog of the whole
//! load is needed. Two clients load in parallel (one per core of this machine).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::cluster::data::run_scripts_in_parallel;
use crate::cluster::node::Node;
use crate::netns::pair::tree_bytes;
use crate::poll::{must, Probe};

/// The schema that holds most of the bytes.
pub const BIG_SCHEMA: &str = "sst_big";

/// Bytes of payload per row of the sized tables.
const PAYLOAD: u64 = 4096;
/// Bytes of `.ibd` file per row of those, as measured on 10.11: three 4 KiB rows fit a
/// 16 KiB page, and InnoDB allocates a growing table's file ahead of its pages.
const ROW_ON_DISK: u64 = 5900;
/// Rows per INSERT statement (about 20 MB of payload per transaction).
const CHUNK: u64 = 5000;
/// Rows and payload bytes of each table of the small schema (a few hundred KB each).
const SMALL_ROWS: u64 = 2000;
const SMALL_PAYLOAD: u64 = 100;

/// One table to load: schema, name, share of the size in parts per thousand (0: one of the
/// small tables of the small schema).
const TABLES: &[(&str, &str, u64)] = &[
    (BIG_SCHEMA, "orders", 320),
    (BIG_SCHEMA, "order_lines", 220),
    (BIG_SCHEMA, "events", 160),
    (BIG_SCHEMA, "documents", 100),
    ("sst_mid", "customers", 120),
    ("sst_mid", "invoices", 80),
    ("sst_small", "settings", 0),
    ("sst_small", "users", 0),
    ("sst_small", "roles", 0),
    ("sst_small", "audit", 0),
    ("sst_small", "queue", 0),
    ("sst_small", "tags", 0),
];

/// What was loaded, as found on the donor's disk.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Bytes of the files under each benchmark schema's directory.
    pub schema_bytes: BTreeMap<String, u64>,
    /// Bytes of every file in the datadir (system tablespace, logs, binlogs included).
    pub datadir_bytes: u64,
    /// Rows loaded.
    pub rows: u64,
    /// Wall time of the load.
    pub load_time: Duration,
}

impl Loaded {
    /// Share of the benchmark schemas' bytes held by [`BIG_SCHEMA`].
    pub fn big_share(&self) -> f64 {
        let total: u64 = self.schema_bytes.values().sum();
        let big = self.schema_bytes.get(BIG_SCHEMA).copied().unwrap_or(0);
        big as f64 / total.max(1) as f64
    }
}

/// Rows and payload bytes per row of a table with share `permille`.
fn shape(size: u64, permille: u64) -> (u64, u64) {
    if permille == 0 {
        (SMALL_ROWS, SMALL_PAYLOAD)
    } else {
        ((size * permille / 1000 / ROW_ON_DISK).max(16), PAYLOAD)
    }
}

/// An SQL expression of `bytes` random bytes (`RANDOM_BYTES` gives at most 1024 per call).
fn random_bytes(bytes: u64) -> String {
    let mut parts = Vec::new();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(1024);
        parts.push(format!("RANDOM_BYTES({n})"));
        left -= n;
    }
    format!("CONCAT({})", parts.join(", "))
}

/// The SQL that creates and fills `tables` (one client runs it).
fn script(size: u64, tables: &[&(&str, &str, u64)]) -> String {
    let mut sql = String::from("SET SESSION wsrep_on=OFF;\nSET SESSION sql_log_bin=0;\n");
    for (schema, table, permille) in tables {
        let (rows, bytes) = shape(size, *permille);
        let payload = random_bytes(bytes);
        let _ = writeln!(
            sql,
            "CREATE TABLE {schema}.{table} (id BIGINT UNSIGNED PRIMARY KEY, k INT NOT NULL, \
             note CHAR(32) NOT NULL, payload BLOB NOT NULL, KEY (k)) ENGINE=InnoDB;"
        );
        let mut first = 1;
        while first <= rows {
            let last = (first + CHUNK - 1).min(rows);
            let _ = writeln!(
                sql,
                "INSERT INTO {schema}.{table} SELECT seq, seq MOD 1009, MD5(RAND()), \
                 {payload} FROM {schema}.seq_{first}_to_{last};"
            );
            first = last + 1;
        }
    }
    sql
}

/// Loads about `size` bytes into `node` and waits until InnoDB has written every page.
pub fn load(node: &Node, size: u64) -> Loaded {
    let started = std::time::Instant::now();
    let mut schemas: Vec<&str> = TABLES.iter().map(|t| t.0).collect();
    schemas.dedup();
    let create: String = schemas
        .iter()
        .map(|s| format!("CREATE DATABASE {s}; "))
        .collect();
    node.sql(&format!(
        "SET SESSION wsrep_on=OFF; SET SESSION sql_log_bin=0; {create}"
    ));
    // Two clients, tables dealt largest first to the one with less work.
    let mut groups: [Vec<&(&str, &str, u64)>; 2] = [Vec::new(), Vec::new()];
    let mut load = [0u64; 2];
    let mut sorted: Vec<&(&str, &str, u64)> = TABLES.iter().collect();
    sorted.sort_by_key(|t| std::cmp::Reverse(t.2));
    for table in sorted {
        let i = usize::from(load[1] < load[0]);
        load[i] += table.2.max(1);
        groups[i].push(table);
    }
    let scripts = groups
        .iter()
        .enumerate()
        .map(|(i, group)| (format!("bench-load-{i}"), script(size, group)))
        .collect();
    run_scripts_in_parallel(node, scripts);
    eprintln!(
        "cluster bench:   rows inserted after {:.1} s; flushing InnoDB's dirty pages",
        started.elapsed().as_secs_f64()
    );
    flush_dirty_pages(node);
    let datadir = node.datadir();
    let schema_bytes = schemas
        .iter()
        .map(|s| (s.to_string(), tree_bytes(&datadir.join(s))))
        .collect();
    Loaded {
        schema_bytes,
        datadir_bytes: tree_bytes(&datadir),
        rows: TABLES.iter().map(|t| shape(size, t.2).0).sum(),
        load_time: started.elapsed(),
    }
}

/// Makes InnoDB write every dirty page now (and keep none), so that no repetition's SST
/// finds a backlog of the load to flush first. The page cleaner's I/O budget is raised
/// meanwhile (the default 200 pages/s would take minutes), then put back.
fn flush_dirty_pages(node: &Node) {
    let budget = node.sql("SELECT @@innodb_io_capacity, @@innodb_io_capacity_max");
    let mut budget = budget.split_whitespace();
    let (capacity, capacity_max) = (
        budget.next().unwrap_or("200").to_string(),
        budget.next().unwrap_or("2000").to_string(),
    );
    node.sql(
        "SET GLOBAL innodb_max_dirty_pages_pct_lwm=0; SET GLOBAL innodb_max_dirty_pages_pct=0; \
         SET GLOBAL innodb_io_capacity_max=100000; SET GLOBAL innodb_io_capacity=100000",
    );
    must(
        format!("{}: no dirty InnoDB page left", node.name),
        Duration::from_secs(600),
        || match node.status("Innodb_buffer_pool_pages_dirty") {
            Ok(n) if n == "0" => Probe::Ready(()),
            Ok(_) => Probe::Pending,
            Err(e) => Probe::Failed(e),
        },
    );
    node.sql(&format!(
        "SET GLOBAL innodb_io_capacity={capacity}; SET GLOBAL innodb_io_capacity_max={capacity_max}"
    ));
}
