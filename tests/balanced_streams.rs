//! Issue 12, item 2: the donor's schema phase in streams balanced by bytes,
//! with real rsync on both ends and real TLS. A schema holding most of the
//! bytes is spread over `backup-threads` streams (the plan line says so,
//! within the largest file of each other) and arrives intact; rsync's
//! `--delete` stays exact (extra files, joiner-only directories at any
//! depth, a file where the donor has a directory and the reverse); the
//! socat reference joiner receives the same tree from our donor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use testkit::bytes::named;
use testkit::fake_mariadbd::datadir::{Entry, Tree};
use testkit::fake_mariadbd::pair::{self, Pair, Plan};
use testkit::socat::gen_certs::GenCerts;
use testkit::socat::tree::{assert_same_tree, make_datadir, Symlinks};
use testkit::socat::{self, MARKER, TRANSFER};
use testkit::tunnel_log::number;

/// The donor's step lines, in the order the sequence runs them.
const STEPS: [&str; 9] = [
    "flush",
    "top level",
    "system tablespace",
    "undo tablespaces",
    "aria logs",
    "log dir",
    "delete",
    "schemas",
    "marker",
];

fn put(root: &Path, rel: &str, len: usize) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, named(rel, len)).unwrap();
}

/// One schema `big` of `sizes` KiB files, next to the fixture's small ones.
fn add_big_schema(datadir: &Path, sizes: &[usize]) {
    for (i, kib) in sizes.iter().enumerate() {
        put(datadir, &format!("big/t{i}.ibd"), kib * 1024 + i);
        put(datadir, &format!("big/t{i}.frm"), 900);
    }
}

/// Bytes of the regular files below the top level (the schema directories).
fn schema_bytes(tree: &Tree) -> u64 {
    tree.iter()
        .filter(|(rel, _)| rel.contains('/'))
        .map(|(_, e)| match e {
            Entry::File(_, data) => data.len() as u64,
            Entry::Dir(_) => 0,
        })
        .sum()
}

/// The donor's `donor: plan` line: (streams, bytes of each, largest file).
fn plan_line(log: &str) -> (u64, Vec<u64>, u64) {
    let line = log
        .lines()
        .find(|l| l.contains("donor: plan"))
        .unwrap_or_else(|| panic!("no `donor: plan` line in the donor's log:\n{log}"));
    let at = line.find("stream_bytes=").expect("stream_bytes") + "stream_bytes=".len();
    let bytes = line[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .split(',')
        .map(|n| {
            n.parse()
                .unwrap_or_else(|_| panic!("stream_bytes in {line:?}"))
        })
        .collect();
    (
        number(line, "streams="),
        bytes,
        number(line, "largest_file="),
    )
}

/// Every step line, once each, in the sequence's order, the plan before
/// the schemas.
fn assert_step_lines(log: &str, steps: &[&str]) {
    let mut at = Vec::new();
    for step in steps {
        let want = format!("donor: step done step={step} elapsed_ms=");
        let hits: Vec<usize> = log
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains(&want))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(hits.len(), 1, "{want:?} not exactly once in:\n{log}");
        at.push(hits[0]);
    }
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "steps out of order:\n{log}"
    );
    let plan = log.lines().position(|l| l.contains("donor: plan")).unwrap();
    let schemas = at[steps.iter().position(|s| *s == "schemas").unwrap()];
    assert!(
        plan < schemas,
        "the plan line comes after the schemas:\n{log}"
    );
}

/// A schema holding about 80 % of the schema bytes in six files, and the
/// fixture's small schemas, with `backup-threads = 2`: two streams whose
/// bytes differ by at most the largest file, all the schema bytes planned,
/// every step line logged, the tree identical (schemas named `#...` and
/// `;...` included: see `files_from`). Fails on the code before
/// issue 12 (no plan line: one rsync per schema directory).
#[test]
fn issue_12_a_skewed_schema_travels_in_two_balanced_streams() {
    let mut pair = Pair::new();
    add_big_schema(&pair.donor.datadir, &[4096, 3072, 2560, 2048, 1024, 512]);
    // A name rsync would read as a comment at the start of a list entry.
    put(&pair.donor.datadir, "#mysql50#legacy-db/t.ibd", 2000);
    put(&pair.donor.datadir, ";odd/t.ibd", 3000);
    pair.donor.set_sst("backup-threads", "2");
    let plan = Plan::default();
    let out = pair::run(&pair, &plan);
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);

    let total = schema_bytes(&out.donor_before);
    let big: u64 = out
        .donor_before
        .iter()
        .filter(|(rel, _)| rel.starts_with("big/"))
        .map(|(_, e)| match e {
            Entry::File(_, d) => d.len() as u64,
            Entry::Dir(_) => 0,
        })
        .sum();
    assert!(
        big * 10 >= total * 7,
        "the fixture is not skewed: {big} of {total}"
    );
    let log = out.donor.log_text();
    let (streams, bytes, largest) = plan_line(&log);
    assert_eq!(streams, 2, "{log}");
    assert_eq!(bytes.len(), 2, "{log}");
    assert_eq!(bytes.iter().sum::<u64>(), total, "planned bytes\n{log}");
    assert_eq!(largest, 4096 * 1024, "{log}");
    assert!(
        bytes[0].abs_diff(bytes[1]) <= largest,
        "streams {bytes:?} differ by more than the largest file {largest}"
    );
    assert_step_lines(&log, &STEPS);
}

/// `--delete` stays exact with the streams: the joiner's extra files in
/// directories the donor has, extra nested directories, joiner-only
/// directories at depth inside schema directories, a joiner's file where
/// the donor has a directory, and a joiner's non-empty directory where the
/// donor has a file; empty donor directories and zero-length files arrive.
/// The joiner's tree is then exactly what the donor ships. (It passes on
/// the code before issue 12, which sent each directory with `--recursive
/// --delete`; it fails when the streams run without the delete pass.)
#[test]
fn issue_12_delete_stays_exact_with_balanced_streams() {
    let mut pair = Pair::new();
    let (d, j) = (pair.donor.datadir.clone(), pair.joiner.datadir.clone());
    add_big_schema(&d, &[1024, 512, 256]);
    put(&d, "db1/sub/inner.ibd", 3000);
    put(&d, "db1/zero.frm", 0);
    fs::create_dir_all(d.join("db2/empty/deeper")).unwrap();
    for (rel, len) in [
        ("db2/extra.ibd", 10),
        ("mysql/extra.frm", 10),
        ("db1/nested/deeper/x.ibd", 10),
        ("big/only_joiner/a/b/c.txt", 10),
        ("db2/empty/deeper/joiner.txt", 10),
        ("empty_schema/joiner.ibd", 10),
        ("db2/big.ibd/inside/file", 10),
        ("db1/zero.frm/x", 10),
        // At a schema directory's own level, `ib_logfile*` is data like any
        // other (the reference's `*/ib_logfile*` spares only deeper ones).
        ("db2/ib_logfile5", 10),
    ] {
        put(&j, rel, len);
    }
    // A file where the donor has a directory.
    put(&j, "db1/sub", 10);
    pair.donor.set_sst("backup-threads", "3");
    let plan = Plan::default();
    let out = pair::run(&pair, &plan);
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
    let (streams, _, _) = plan_line(&out.donor.log_text());
    assert_eq!(streams, 3);
}

/// Our donor with `--parallel 2` into the socat reference joiner (socat in
/// front of `rsync --daemon`, as the original script runs it), whose
/// datadir holds stale files and directories: the tree arrives exactly,
/// stale entries gone, through two balanced streams. Fails on the code
/// before issue 12 (no plan line).
#[test]
fn issue_12_the_socat_reference_joiner_takes_the_balanced_streams() {
    let pki = GenCerts::generate();
    let work = tempfile::tempdir().expect("work dir");
    let source = work.path().join("donor-data");
    let dest = work.path().join("joiner-data");
    let conf = work.path().join("rsyncd");
    make_datadir(&source);
    for (i, kib) in [2048, 1536, 1024, 512].iter().enumerate() {
        put(&source, &format!("db1/big{i}.ibd"), kib * 1024);
    }
    fs::create_dir_all(&conf).expect("rsyncd conf dir");
    for rel in [
        "db1/stale.ibd",
        "db2/part/stale/deep.ibd",
        "old_schema/t.ibd",
        "db1/big0.ibd/dir/x",
    ] {
        put(&dest, rel, 100);
    }

    let (_rsyncd, rsync_port) = socat::rsync_daemon(&conf, &dest);
    let (_socat, joiner_port) = socat::socat_joiner(&pki, "joiner", rsync_port);
    let mut donor = socat::tunnel_donor(
        &pki,
        "donor",
        joiner_port,
        &source,
        "6c4c5e0e-8f45-11ef-9a2c-3b1f0e6d7a10:7",
        &["--parallel", "2"],
    );
    donor.assert_exit_code(0, TRANSFER);

    assert_same_tree(&source, &dest, &[MARKER], Symlinks::Munged);
    let log = donor.stderr();
    let (streams, bytes, largest) = plan_line(&log);
    assert_eq!(streams, 2, "{log}");
    assert!(bytes[0].abs_diff(bytes[1]) <= largest, "{bytes:?}\n{log}");
    // The manual donor flushes nothing; the reference joiner has no
    // system tablespace module, so that step is the fallback's run.
    assert_step_lines(&log, &STEPS[1..]);
}
