//! Test data: a few hundred MB of InnoDB across several schemas, loaded fast through
//! Galera, more writes for IST, and the equality check (row counts and `CHECKSUM TABLE` of
//! every user table on both nodes).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;

use super::node::Node;

/// How much data to load.
#[derive(Clone, Copy, Debug)]
pub struct DataSpec {
    /// Number of schemas `sst_s1`..`sst_sN`, loaded in parallel.
    pub schemas: usize,
    /// `blobs` gets `2^doublings` rows per schema.
    pub doublings: u32,
    /// Bytes of random-ish hex payload per `blobs` row (multiple of 128).
    pub payload_bytes: usize,
}

impl DataSpec {
    /// About 300 MB of `.ibd` files: 3 schemas x 16384 rows x 4 KiB (+ indexes, small tables).
    pub const FULL: DataSpec = DataSpec {
        schemas: 3,
        doublings: 14,
        payload_bytes: 4096,
    };

    /// Rough payload size in bytes.
    pub fn payload_total(&self) -> u64 {
        self.schemas as u64 * (1u64 << self.doublings) * self.payload_bytes as u64
    }
}

/// The names of the test schemas.
pub fn schemas(spec: &DataSpec) -> Vec<String> {
    (1..=spec.schemas).map(|i| format!("sst_s{i}")).collect()
}

fn schema_script(schema: &str, spec: &DataSpec) -> String {
    let repeats = (spec.payload_bytes / 128).max(1);
    let mut sql = format!(
        "CREATE DATABASE {schema};\n\
         USE {schema};\n\
         CREATE TABLE blobs (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, \
           note CHAR(40) NOT NULL, payload BLOB NOT NULL, KEY (k)) ENGINE=InnoDB;\n\
         CREATE TABLE numbers (n INT PRIMARY KEY, sq BIGINT NOT NULL, label VARCHAR(64) NOT NULL, \
           amount DECIMAL(12,2) NOT NULL, UNIQUE KEY (label)) ENGINE=InnoDB;\n\
         INSERT INTO numbers SELECT seq, seq * seq, MD5(CONCAT('{schema}', seq)), seq / 7 \
           FROM seq_1_to_50000;\n\
         INSERT INTO blobs (k, note, payload) VALUES (0, SHA1('{schema}'), \
           REPEAT(SHA2(RAND(), 512), {repeats}));\n"
    );
    for round in 0..spec.doublings {
        // Each statement doubles the table; the biggest transaction is half the final table.
        let _ = writeln!(
            sql,
            "INSERT INTO blobs (k, note, payload) SELECT k + {offset}, SHA1(RAND()), \
             REPEAT(SHA2(RAND(), 512), {repeats}) FROM blobs;",
            offset = 1u64 << round
        );
    }
    sql
}

/// Runs SQL `scripts` (a name for each, the SQL) on `node`, one client
/// each, all at once (written under the node's `tmp/`); panics naming the
/// script that failed.
pub fn run_scripts_in_parallel(node: &Node, scripts: Vec<(String, String)>) {
    let mut clients = Vec::new();
    for (name, sql) in scripts {
        let path = node.root().join(format!("tmp/{name}.sql"));
        fs::write(&path, sql).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        clients.push((name, node.spawn_script(&path)));
    }
    for (name, client) in clients {
        let out = client
            .wait_with_output()
            .unwrap_or_else(|e| panic!("cannot wait for SQL script {name}: {e}"));
        assert!(
            out.status.success(),
            "{}: SQL script {name} failed ({}): {}",
            node.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Loads `spec` into `node` (one client per schema, in parallel), plus a table in `sst_live`.
pub fn load(node: &Node, spec: &DataSpec) {
    let scripts = schemas(spec)
        .into_iter()
        .map(|schema| (format!("load-{schema}"), schema_script(&schema, spec)))
        .collect();
    run_scripts_in_parallel(node, scripts);
    node.sql(
        "CREATE DATABASE sst_live; \
         CREATE TABLE sst_live.events (id INT AUTO_INCREMENT PRIMARY KEY, round INT NOT NULL, \
           payload VARCHAR(200) NOT NULL) ENGINE=InnoDB; \
         INSERT INTO sst_live.events (round, payload) SELECT 0, SHA2(seq, 256) FROM sst_live.seq_1_to_1000;",
    );
}

/// Writes through Galera that an IST has to carry: inserts, updates, deletes and a new table.
pub fn write_more(node: &Node, spec: &DataSpec, round: u32) {
    let mut sql = format!(
        "INSERT INTO sst_live.events (round, payload) SELECT {round}, SHA2(CONCAT(seq, 'r{round}'), 256) \
           FROM sst_live.seq_1_to_2000; \
         CREATE TABLE sst_live.round_{round} (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB; \
         INSERT INTO sst_live.round_{round} SELECT seq, MD5(seq) FROM sst_live.seq_1_to_500; "
    );
    for schema in schemas(spec) {
        let _ = write!(
            sql,
            "UPDATE {schema}.blobs SET note = SHA1(CONCAT(id, 'r{round}')) WHERE id % 97 = {r}; \
             DELETE FROM {schema}.numbers WHERE n % 101 = {r}; ",
            r = round % 97
        );
    }
    node.sql(&sql);
}

/// Row count and `CHECKSUM TABLE` value of every base table outside the system schemas.
pub fn fingerprint(node: &Node) -> BTreeMap<String, (u64, String)> {
    let tables: Vec<String> = node
        .sql(
            "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' AND table_schema NOT IN \
             ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1",
        )
        .lines()
        .map(str::to_string)
        .collect();
    assert!(!tables.is_empty(), "{}: no user tables at all", node.name);
    let counts_sql = tables
        .iter()
        .map(|t| format!("SELECT '{t}', COUNT(*) FROM {t}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut counts = BTreeMap::new();
    for line in node.sql(&counts_sql).lines() {
        if let Some((table, count)) = line.split_once('\t') {
            let count: u64 = count
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("bad count line {line:?}: {e}"));
            counts.insert(table.to_string(), count);
        }
    }
    let mut result = BTreeMap::new();
    for line in node
        .sql(&format!("CHECKSUM TABLE {}", tables.join(", ")))
        .lines()
    {
        if let Some((table, sum)) = line.split_once('\t') {
            let count = counts.get(table).copied().unwrap_or_else(|| {
                panic!(
                    "{}: CHECKSUM TABLE named {table} but COUNT(*) did not",
                    node.name
                )
            });
            result.insert(table.to_string(), (count, sum.trim().to_string()));
        }
    }
    assert_eq!(
        result.len(),
        tables.len(),
        "{}: CHECKSUM TABLE answered for {} of {} tables",
        node.name,
        result.len(),
        tables.len()
    );
    result
}

/// Asserts both nodes hold exactly the same user tables, rows and checksums, and that the
/// test schemas are all there (with `2^doublings` blobs each). Returns the fingerprint.
pub fn assert_same_data(a: &Node, b: &Node, spec: &DataSpec) -> BTreeMap<String, (u64, String)> {
    let fa = fingerprint(a);
    let fb = fingerprint(b);
    for schema in schemas(spec) {
        let blobs = format!("{schema}.blobs");
        let (rows, _) = fa
            .get(&blobs)
            .unwrap_or_else(|| panic!("{}: table {blobs} is missing", a.name));
        assert!(
            *rows >= 1u64 << spec.doublings,
            "{}: {blobs} has only {rows} rows",
            a.name
        );
    }
    let names_a: Vec<&String> = fa.keys().collect();
    let names_b: Vec<&String> = fb.keys().collect();
    assert_eq!(
        names_a, names_b,
        "{} and {} hold different tables",
        a.name, b.name
    );
    for (table, value) in &fa {
        assert_eq!(
            Some(value),
            fb.get(table),
            "{table}: (rows, checksum) differ between {} and {}",
            a.name,
            b.name
        );
    }
    fa
}
