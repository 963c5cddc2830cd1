//! Issue 3: the `rsync_tunnel` SST method proven on a real two-node MariaDB 10.11 Galera
//! cluster (Debian packages `mariadb-server`, `galera-4`), with our binary installed as
//! `wsrep_sst_rsync_tunnel`, with the socat-based reference peer
//! (`tests/support/socat-sst/wsrep_sst_rsync_tunnel`), and with one of each.
//!
//! Every test is `#[ignore]`d (each needs root, starts two mariadbd and moves a few hundred
//! MB); run them with
//! `cargo test --test cluster -- --include-ignored --test-threads=1` (see docs/cluster-tests.md).
//! The `socat_reference_*` tests validate the harness and the scenarios with socat on both
//! sides; the others need the SST mode of `sst-tunnel`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bench_tests;

use std::time::{Duration, Instant};

use testkit::cluster as harness;
use testkit::net;
use testkit::poll::{must, wait_for, Probe};

use harness::checks::{
    assert_binlog_installed, assert_no_donor_files, assert_no_sst_processes, assert_trace,
    describe, is_mariadbd_line, schema_bytes,
};
use harness::data::{self, DataSpec};
use harness::method::Method;
use harness::{Cluster, ClusterSpec, Trust};

/// Time for the SST processes of a failed or finished transfer to go away (both nodes).
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);
/// After a kill -9 of the joiner's mariadbd, its SST processes must be gone this fast.
const ORPHAN_DEADLINE: Duration = Duration::from_secs(2);

/// Smaller data for the failure scenarios (they must not get far anyway).
const SMALL: DataSpec = DataSpec {
    schemas: 2,
    doublings: 10,
    payload_bytes: 4096,
};

// ----------------------------------------------------------------------------------------
// scenarios, each parameterised by the implementation on each node
// ----------------------------------------------------------------------------------------

/// Full SST, equal data, then IST after writes while the joiner was down.
fn sst_then_ist(donor: Method, joiner: Method) {
    let spec = DataSpec::FULL;
    let mut cluster = Cluster::new(&ClusterSpec::new(donor, joiner));
    cluster.bootstrap_donor();
    let loading = Instant::now();
    data::load(&cluster.donor, &spec);
    eprintln!(
        "loaded ~{} MB in {:.1} s",
        spec.payload_total() >> 20,
        loading.elapsed().as_secs_f64()
    );

    let sst = Instant::now();
    cluster.join(harness::SST_TIMEOUT);
    eprintln!(
        "SST {} -> {} took {:.1} s",
        donor.label(),
        joiner.label(),
        sst.elapsed().as_secs_f64()
    );
    let tables = data::assert_same_data(&cluster.donor, &cluster.joiner, &spec);
    eprintln!("{} tables equal after SST", tables.len());
    assert_trace(&cluster.joiner, &[("joiner", false)]);
    assert_trace(&cluster.donor, &[("donor", false)]);
    assert_binlog_installed(&cluster);
    assert_no_sst_processes(&cluster.joiner, CLEANUP_TIMEOUT);
    assert_no_sst_processes(&cluster.donor, CLEANUP_TIMEOUT);

    // IST: the joiner misses some writes, then catches up from the donor's gcache.
    cluster.joiner.stop();
    cluster.donor.wait_synced(1, harness::START_TIMEOUT);
    data::write_more(&cluster.donor, &spec, 1);
    let ist = Instant::now();
    cluster.joiner.start(false);
    cluster.joiner.wait_synced(2, harness::SST_TIMEOUT);
    cluster.donor.wait_synced(2, harness::START_TIMEOUT);
    eprintln!("IST took {:.1} s", ist.elapsed().as_secs_f64());
    let after = data::assert_same_data(&cluster.donor, &cluster.joiner, &spec);
    assert!(
        after.contains_key("sst_live.round_1"),
        "the table created during the joiner's downtime did not arrive"
    );
    assert_ne!(tables, after, "the writes for IST changed nothing");
    assert_trace(&cluster.joiner, &[("joiner", false), ("joiner", false)]);
    assert_trace(&cluster.donor, &[("donor", false), ("donor", true)]);
    let log = cluster.joiner.error_log_text();
    assert!(
        log.contains("IST received"),
        "joiner log does not show a received IST"
    );
    assert_no_sst_processes(&cluster.joiner, CLEANUP_TIMEOUT);
    assert_no_sst_processes(&cluster.donor, CLEANUP_TIMEOUT);
}

/// SST only (for the interop pairs).
fn sst_only(donor: Method, joiner: Method) {
    let spec = DataSpec::FULL;
    let mut cluster = Cluster::new(&ClusterSpec::new(donor, joiner));
    cluster.bootstrap_donor();
    data::load(&cluster.donor, &spec);
    let sst = Instant::now();
    cluster.join(harness::SST_TIMEOUT);
    eprintln!(
        "SST {} -> {} took {:.1} s",
        donor.label(),
        joiner.label(),
        sst.elapsed().as_secs_f64()
    );
    data::assert_same_data(&cluster.donor, &cluster.joiner, &spec);
    assert_trace(&cluster.joiner, &[("joiner", false)]);
    assert_trace(&cluster.donor, &[("donor", false)]);
    assert_binlog_installed(&cluster);
    assert_no_sst_processes(&cluster.joiner, CLEANUP_TIMEOUT);
    assert_no_sst_processes(&cluster.donor, CLEANUP_TIMEOUT);
}

/// The nodes do not trust each other (`trust` says how): the SST must fail closed, and the
/// logs must name the certificate problem.
fn untrusted(donor: Method, joiner: Method, trust: Trust) {
    let spec = SMALL;
    let mut cluster = Cluster::new(&ClusterSpec {
        trust,
        ..ClusterSpec::new(donor, joiner)
    });
    cluster.bootstrap_donor();
    data::load(&cluster.donor, &spec);

    cluster.joiner.start(false);
    let status = cluster.joiner.wait_exit(harness::SST_TIMEOUT);
    assert!(
        !status.success(),
        "joiner mariadbd exited with {status} although its SST cannot have worked"
    );
    let log = cluster.joiner.error_log_text();
    assert!(
        !log.contains("-> SYNCED") && !log.contains("-> synced"),
        "joiner reached Synced without a trusted peer"
    );
    assert_no_donor_files(&cluster.joiner.datadir(), &spec);
    assert_trace(&cluster.joiner, &[("joiner", false)]);
    assert_no_sst_processes(&cluster.joiner, CLEANUP_TIMEOUT);
    assert_no_sst_processes(&cluster.donor, CLEANUP_TIMEOUT);

    // The cause must be visible: some SST process (not mariadbd itself, whose lines start
    // with `YYYY-MM-DD`) said "certificate" on either node.
    let cause: Vec<String> = [&cluster.joiner, &cluster.donor]
        .iter()
        .flat_map(|node| {
            node.error_log_text()
                .lines()
                .filter(|line| !is_mariadbd_line(line))
                .filter(|line| line.to_ascii_lowercase().contains("certificate"))
                .map(|line| format!("{}: {line}", node.name))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        !cause.is_empty(),
        "no SST log line names the certificate problem"
    );
    eprintln!("cause as logged:\n{}", cause.join("\n"));
    cluster.donor.wait_synced(1, harness::START_TIMEOUT);
}

/// kill -9 of the joiner's mariadbd while the (throttled) transfer is half-way.
fn joiner_killed_mid_transfer(donor: Method, joiner: Method) {
    let spec = DataSpec::FULL;
    let mut cluster = Cluster::new(&ClusterSpec {
        sst_bwlimit: Some(16384),
        ..ClusterSpec::new(donor, joiner)
    });
    cluster.bootstrap_donor();
    data::load(&cluster.donor, &spec);

    cluster.joiner.start(false);
    let datadir = cluster.joiner.datadir();
    let total = spec.payload_total();
    let arrived = must("joiner: SST half-way", harness::SST_TIMEOUT, || {
        if let Some(status) = cluster.joiner.exited() {
            return Probe::Failed(format!("joiner mariadbd exited with {status}"));
        }
        let bytes = schema_bytes(&datadir, &spec);
        if bytes >= 16 << 20 {
            Probe::Ready(bytes)
        } else {
            Probe::Pending
        }
    });
    assert!(
        arrived < total,
        "the transfer was not throttled: {arrived} of {total} bytes arrived before the kill"
    );
    let marker = datadir.join("rsync_tunnel_sst_complete");
    assert!(!marker.exists(), "the marker arrived before the kill");

    let killed_at = Instant::now();
    let tree = cluster.joiner.kill9();
    eprintln!(
        "killed joiner mariadbd with {arrived} bytes transferred; its tree had {} SST processes",
        tree.len()
    );
    assert!(
        !tree.is_empty(),
        "the joiner's mariadbd had no SST child when it was killed"
    );
    let outcome = wait_for(
        "joiner: every SST process gone after kill -9",
        ORPHAN_DEADLINE.saturating_sub(killed_at.elapsed()),
        || {
            if cluster.joiner.sst_processes().is_empty() {
                Probe::Ready(())
            } else {
                Probe::Pending
            }
        },
    );
    if let Err(reason) = outcome {
        panic!(
            "{reason}; still running:\n{}",
            describe(&cluster.joiner.sst_processes())
        );
    }
    eprintln!(
        "joiner SST processes gone {:.2} s after the kill",
        killed_at.elapsed().as_secs_f64()
    );

    // Nothing can write into the datadir once no process holds anything in it.
    let holders = cluster.joiner.datadir_holders();
    assert!(
        holders.is_empty(),
        "processes still hold files in the joiner datadir:\n{}",
        holders
            .iter()
            .map(|(p, path)| format!("  {p} -> {}", path.display()))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let before = cluster.joiner.datadir_snapshot();
    net::is_bindable(cluster.joiner.ip, cluster.joiner.ports.sst).unwrap();
    net::is_bindable(harness::DONOR_IP, cluster.joiner.ports.sst).unwrap();
    assert!(
        cluster.joiner.datadir_holders().is_empty(),
        "a process opened the datadir again"
    );
    let after = cluster.joiner.datadir_snapshot();
    assert_eq!(before, after, "the joiner datadir changed after the kill");
    assert!(!marker.exists(), "the marker arrived after the kill");

    // The donor gives up its side (its script exits, so it leaves the DONOR state and
    // releases the flush lock) and stays usable. A crashed member takes half the votes of a
    // two-node cluster with it, so the donor drops to non-Primary and is re-bootstrapped, as
    // an operator would.
    assert_no_sst_processes(&cluster.donor, Duration::from_secs(60));
    let donor = &cluster.donor;
    let primary = must(
        "donor: notices the dead joiner",
        harness::START_TIMEOUT,
        || match (
            donor.status("wsrep_cluster_status").as_deref(),
            donor.status("wsrep_local_state_comment").as_deref(),
            donor.status("wsrep_cluster_size").as_deref(),
        ) {
            (Ok("non-Primary"), _, _) => Probe::Ready(false),
            (Ok("Primary"), Ok("Synced"), Ok("1")) => Probe::Ready(true),
            _ => Probe::Pending,
        },
    );
    if !primary {
        donor.sql("SET GLOBAL wsrep_provider_options = 'pc.bootstrap=YES'");
    }
    cluster.donor.wait_synced(1, harness::START_TIMEOUT);

    // The aborted SST left nothing that blocks the next one (stale pid files, ports, half
    // files): the joiner restarts and receives a full SST into the half-written datadir.
    cluster.joiner.start(false);
    cluster.joiner.wait_synced(2, harness::SST_TIMEOUT);
    cluster.donor.wait_synced(2, harness::START_TIMEOUT);
    data::assert_same_data(&cluster.donor, &cluster.joiner, &spec);
    assert_trace(&cluster.joiner, &[("joiner", false), ("joiner", false)]);
    assert_no_sst_processes(&cluster.joiner, CLEANUP_TIMEOUT);
    assert_no_sst_processes(&cluster.donor, CLEANUP_TIMEOUT);
}

// ----------------------------------------------------------------------------------------
// tests: socat reference on both nodes (harness validation)
// ----------------------------------------------------------------------------------------

#[test]
#[ignore = "real Galera cluster: run with --include-ignored --test-threads=1 as root"]
fn socat_reference_sst_then_ist() {
    sst_then_ist(Method::SocatReference, Method::SocatReference);
}

#[test]
#[ignore = "real Galera cluster: run with --include-ignored --test-threads=1 as root"]
fn socat_reference_wrong_ca_fails_closed() {
    untrusted(
        Method::SocatReference,
        Method::SocatReference,
        Trust::JoinerOtherCa,
    );
}

#[test]
#[ignore = "real Galera cluster: run with --include-ignored --test-threads=1 as root"]
fn socat_reference_joiner_killed_mid_transfer() {
    joiner_killed_mid_transfer(Method::SocatReference, Method::SocatReference);
}

// ----------------------------------------------------------------------------------------
// tests: sst-tunnel (need the SST mode of the binary)
// ----------------------------------------------------------------------------------------

#[test]
#[ignore = "real Galera cluster: run with --include-ignored --test-threads=1 as root"]
fn sst_tunnel_sst_then_ist() {
    sst_then_ist(Method::SstTunnel, Method::SstTunnel);
}

#[test]
#[ignore = "real Galera cluster: run with --include-ignored --test-threads=1 as root"]
fn sst_tunnel_wrong_ca_fails_closed() {
    untrusted(Method::SstTunnel, Method::SstTunnel, Trust::JoinerOtherCa);
}

#[test]
#[ignore = "real Galera cluster: run with --include-ignored --test-threads=1 as root"]
fn sst_tunnel_joiner_rejects_untrusted_donor() {
    untrusted(
        Method::SstTunnel,
        Method::SstTunnel,
        Trust::JoinerRejectsDonor,
    );
}

#[test]
#[ignore = "real Galera cluster: run with --include-ignored --test-threads=1 as root"]
fn sst_tunnel_donor_rejects_untrusted_joiner() {
    untrusted(
        Method::SstTunnel,
        Method::SstTunnel,
        Trust::DonorRejectsJoiner,
    );
}

#[test]
#[ignore = "real Galera cluster: run with --include-ignored --test-threads=1 as root"]
fn sst_tunnel_joiner_killed_mid_transfer() {
    joiner_killed_mid_transfer(Method::SstTunnel, Method::SstTunnel);
}

#[test]
#[ignore = "real Galera cluster: run with --include-ignored --test-threads=1 as root"]
fn interop_socat_joiner_sst_tunnel_donor() {
    sst_only(Method::SstTunnel, Method::SocatReference);
}

#[test]
#[ignore = "real Galera cluster: run with --include-ignored --test-threads=1 as root"]
fn interop_sst_tunnel_joiner_socat_donor() {
    sst_only(Method::SocatReference, Method::SstTunnel);
}
