//! `wsrep_sst_rsync_tunnel` driven by a fake mariadbd: whole transfers on
//! loopback (sst-protocol.md §1, §3, §5 and the compatibility checklist).
//! Each test runs a joiner and a donor on small fixture datadirs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fake_mariadbd::command::{Era, Value};
use fake_mariadbd::datadir::{self, UUID};
use fake_mariadbd::log;
use fake_mariadbd::pair::{self, Pair, Plan};
use fake_mariadbd::run::Stdin;
use fake_mariadbd::server;
use testkit::fake_mariadbd;

/// Checklist: full SST with 10.11 argv; trees equal, state printed exactly,
/// `flush tables`/`continue`/`done` in order, binlog tar installed (default
/// sst-max-binlogs = 1: only the last binlog), nothing left behind.
#[test]
fn full_sst_with_10_11_argv() {
    let pair = Pair::new();
    let plan = Plan::default();
    let out = pair::run(&pair, &plan);
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
}

/// `sst-max-binlogs=2` on the donor ships both binlogs of the index.
#[test]
fn sst_ships_as_many_binlogs_as_configured() {
    let mut pair = Pair::new();
    pair.donor.set_sst("sst-max-binlogs", "2");
    let plan = Plan::default();
    let out = pair::run(&pair, &plan);
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000001", "mysql-bin.000002"]);
}

/// 10.4-era servers quote numbers and pass no `--progress` (§1.6); the
/// joiner must then print nothing between `ready` and the state.
#[test]
fn full_sst_with_10_4_era_argv() {
    let pair = Pair::new();
    let plan = Plan {
        joiner_era: Era::V10_4,
        donor_era: Era::V10_4,
        ..Plan::default()
    };
    let out = pair::run(&pair, &plan);
    assert!(
        out.joiner
            .command
            .contains(&format!("--parent '{}'", pair.parent.pid()))
            && !out.joiner.command.contains("--progress")
            && out.donor.command.contains("--gtid-domain-id '3'"),
        "not a 10.4-era command: {}",
        out.joiner.command
    );
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
}

/// IST: `--bypass` → no `flush tables`, state = `--gtid --gtid-domain-id`,
/// no data shipped and the joiner's own binlogs untouched.
#[test]
fn ist_with_bypass_reports_the_given_position() {
    let pair = Pair::new();
    let plan = Plan {
        bypass: true,
        gtid: format!("{UUID}:4"),
        domain: 3,
        ..Plan::default()
    };
    let out = pair::run(&pair, &plan);
    assert_eq!(plan.expected_state(), format!("{UUID}:4 3"));
    out.assert_success(&pair, &plan);
    datadir::assert_trees_equal(
        "joiner datadir after IST (nothing may be shipped)",
        &datadir::snapshot(&pair.joiner.datadir),
        &out.joiner_before,
    );
}

/// `--progress 1`: `total N` / `complete N` lines may appear between
/// `ready` and the state (checked by `assert_success`); every one parses.
#[test]
fn progress_lines_only_with_progress_1() {
    let pair = Pair::new();
    let plan = Plan {
        progress: true,
        ..Plan::default()
    };
    let out = pair::run(&pair, &plan);
    assert!(out.joiner.command.contains("--progress 1"));
    out.assert_success(&pair, &plan);
    for l in out.joiner.texts().iter().chain(out.donor.texts().iter()) {
        if l.starts_with("total") || l.starts_with("complete") {
            assert!(server::is_progress(l), "malformed progress line {l:?}");
        }
    }
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
}

/// Unknown options anywhere before `--mysqld-args`, options in another
/// order, and a mysqld tail with quoted items: all tolerated.
#[test]
fn unknown_options_and_another_order_are_tolerated() {
    let pair = Pair::new();
    let plan = Plan {
        joiner_edit: Box::new(|c| {
            c.move_to("--parent", 0)
                .move_to("--progress", 1)
                .move_to("--datadir", 6)
                .insert(3, "--foo", Value::Quoted("bar".into()))
                .insert(5, "--binlog-index", Value::Quoted("mysql-bin.index".into()));
            c.mysqld_args
                .push("--wsrep_provider_options=gcache.size=64M; gmcast.peer_timeout=PT3S".into());
            c.mysqld_args.push("--log-error=/tmp/x y.err".into());
        }),
        donor_edit: Box::new(|c| {
            c.move_to("--gtid", 0)
                .move_to("--gtid-domain-id", 1)
                .move_to("--role", 4)
                .insert(2, "--foo", Value::Quoted("bar".into()))
                .insert(6, "--binlog-index", Value::Quoted("mysql-bin.index".into()));
            c.mysqld_args.push("--user=mysql".into());
        }),
        ..Plan::default()
    };
    let out = pair::run(&pair, &plan);
    assert!(out
        .joiner
        .command
        .starts_with("wsrep_sst_rsync_tunnel --parent"));
    assert!(out.joiner.command.contains("--foo 'bar'"));
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
}

/// The binary never reads stdin: with stdin a pipe that is never written
/// nor closed, both roles still complete, with a protocol-only stdout.
#[test]
fn never_reads_stdin() {
    let pair = Pair::new();
    let plan = Plan {
        stdin: Stdin::SilentPipe,
        ..Plan::default()
    };
    let out = pair::run(&pair, &plan);
    assert!(out.joiner.has_stdin_pipe() && out.donor.has_stdin_pipe());
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
}

/// Children (rsync on both sides) never hold mariadbd's stdout pipe or the
/// descriptors mariadbd leaked (grastate.dat, error log). The transfer is
/// slowed with sst-bwlimit so that the children are surely observed.
#[test]
fn children_hold_no_leaked_descriptors() {
    let mut pair = Pair::new();
    pair.donor.set_sst("sst-bwlimit", "2048");
    let plan = Plan::default();
    let out = pair::run(&pair, &plan);
    out.assert_success(&pair, &plan);
    let seen_rsync = |s: &fake_mariadbd::run::Sst| {
        s.seen_children()
            .iter()
            .filter(|c| c.argv.first().is_some_and(|a| a.ends_with("rsync")))
            .count()
    };
    assert!(
        seen_rsync(&out.joiner) > 0,
        "no rsync child of the joiner observed: {:?}",
        out.joiner.seen_children()
    );
    assert!(
        seen_rsync(&out.donor) > 0,
        "no rsync child of the donor observed: {:?}",
        out.donor.seen_children()
    );
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
}

/// The harness's check of the `WSREP_SST:` stderr form (every
/// `assert_success` runs it on both logs) accepts that form and nothing else.
#[test]
fn the_wsrep_log_form_is_recognised() {
    assert!(log::is_wsrep_line(
        "WSREP_SST: [INFO] joiner listening (20240101 12:34:56.789)"
    ));
    assert!(log::is_wsrep_line(
        "WSREP_SST: [ERROR] a b=c (20240101 12:34:56.789)"
    ));
    assert!(!log::is_wsrep_line("WSREP_SST: [INFO] no stamp"));
    assert!(!log::is_wsrep_line(
        "2024-01-01T12:34:56Z INFO joiner listening"
    ));
    assert!(!log::is_wsrep_line(
        "WSREP_SST: [INFO] x (2024010 12:34:56.789)"
    ));
}
