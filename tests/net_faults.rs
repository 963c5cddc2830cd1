//! Network faults under a real SST: the joiner's and the donor's
//! `wsrep_sst_rsync_tunnel` run in two network namespaces joined by a veth
//! pair (`testkit::netns`), started by the fake mariadbd, with real rsync and
//! TLS; `tc` throttles the link so a fault lands mid-transfer.
//!
//! - The network stops delivering (every packet dropped, or the link taken
//!   down): both ends end within `sst-idle-timeout` plus a margin, exit 110,
//!   name the stalled peer (address and certificate subject), leave no
//!   process, and the joiner prints no state.
//! - A slow network (50 Mbit/s, and 50 ms of delay where the kernel has
//!   netem): the transfer completes with an identical tree; our throughput
//!   and the socat reference's, measured in the same run, are recorded.
//! - mariadbd dying still ends a joiner that runs inside a namespace.
//!
//! Needs root and iproute2 (`apt-get install iproute2`); the comparison
//! needs socat and my_print_defaults (`apt-get install socat mariadb-server`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use fake_mariadbd::run::Sst;
use fake_mariadbd::{code, server, STEP, TRANSFER};
use figures::Figure;
use netns::link::Link;
use netns::pair::{self, Method, NsPair, RssSampler};
use netns::tc;
use sst_tunnel::ExitCode;
use testkit::fake_mariadbd;
use testkit::figures;
use testkit::netns;
use testkit::poll;
use testkit::procs;

/// `[sst] sst-idle-timeout` in the stall tests.
const IDLE: Duration = Duration::from_secs(5);
/// What a loaded 2-core host may add to the idle timeout before both ends
/// are gone (the bound asserted; the measured value is recorded).
const MARGIN: Duration = Duration::from_secs(10);
/// Table data added to the fixture datadir (MiB).
const DATA_MIB: usize = 28;

/// How the network stops delivering.
#[derive(Copy, Clone, Debug)]
enum Fault {
    /// Every packet dropped on both veth ends.
    BlackHole,
    /// The donor's veth end set down.
    LinkDown,
}

/// Polls both processes until they exited; returns when the last one did.
fn wait_both(joiner: &mut Sst, donor: &mut Sst, within: Duration) -> Option<Instant> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if joiner.try_status().is_some() && donor.try_status().is_some() {
            return joiner.exited.max(donor.exited);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

fn stall(fault: Fault, scenario: &str) {
    let link = Link::new();
    // Slow enough that the fault lands mid-transfer (~30 MiB at 20 Mbit/s).
    for end in link.ends() {
        tc::rate(end, 20);
    }
    let mut pair = NsPair::new(&link, Method::SstTunnel, DATA_MIB);
    pair.set_sst("sst-idle-timeout", &IDLE.as_secs().to_string());
    let (mut joiner, addr) = pair.start_joiner(&link);
    let mut donor = pair.start_donor(&link, &addr);
    let rss = [
        RssSampler::start(joiner.method_pid()),
        RssSampler::start(donor.method_pid()),
    ];
    server::answer_first_flush(&mut donor, &pair.donor.datadir, &pair::state(), STEP);

    // Let a few MiB arrive, then cut.
    let before = pair::tree_bytes(&pair.joiner.datadir);
    let arrived = poll::until(TRANSFER, || {
        pair::tree_bytes(&pair.joiner.datadir) > before + (4 << 20)
            || joiner.try_status().is_some()
            || donor.try_status().is_some()
    });
    assert!(
        arrived && joiner.try_status().is_none() && donor.try_status().is_none(),
        "the transfer did not get under way (or ended) before the fault\n{}\n\n{}",
        joiner.diagnostics(),
        donor.diagnostics()
    );
    let at_fault = pair::tree_bytes(&pair.joiner.datadir);
    let fault_at = Instant::now();
    let how = match fault {
        Fault::BlackHole => tc::black_hole(&link.ends()).to_string(),
        Fault::LinkDown => {
            tc::link_down(&link.donor);
            format!("ip link set {} down (donor end)", link.donor.dev)
        }
    };

    let ended = wait_both(&mut joiner, &mut donor, IDLE + MARGIN);
    let both = format!("{}\n\n{}", joiner.diagnostics(), donor.diagnostics());
    let ended = ended.unwrap_or_else(|| {
        panic!(
            "{scenario}: not both ended within {:?} of the fault\n{both}",
            IDLE + MARGIN
        )
    });
    let time_to_end = ended.duration_since(fault_at);
    let bytes_after = pair::tree_bytes(&pair.joiner.datadir).saturating_sub(at_fault);
    let (jcode, dcode) = (joiner.try_status().unwrap(), donor.try_status().unwrap());
    let peak = rss.into_iter().filter_map(RssSampler::finish).max();
    joiner.assert_stdout_closed(Duration::from_secs(2));
    donor.assert_stdout_closed(Duration::from_secs(2));
    // Both exited; give their last children the same 5 s the other SST
    // tests allow, then count what is left.
    poll::until(Duration::from_secs(5), || {
        procs::touching(&pair.world.root).is_empty()
    });
    let left = procs::touching(&pair.world.root);
    if let Fault::BlackHole = fault {
        assert!(
            tc::dropped(&link.donor) > 0,
            "the black hole dropped no packet: the fault was not applied\n{both}"
        );
    }

    let jlog = joiner.log_text();
    let dlog = donor.log_text();
    let named = |log: &str, ip: &str, cn: &str| {
        log.lines()
            // The error the run ends with, not a warning on the way.
            .find(|l| {
                l.contains("[ERROR]") && l.contains("stalled") && l.contains(ip) && l.contains(cn)
            })
            .map(str::to_string)
    };
    let jline = named(&jlog, link.donor.ip, "CN=donor");
    let dline = named(&dlog, link.joiner.ip, "CN=joiner");
    eprintln!("{scenario}:\n  joiner: {jline:?}\n  donor: {dline:?}");
    figures::record(&Figure {
        scenario: scenario.into(),
        time_to_end: Some(time_to_end),
        exit: format!("joiner {jcode}, donor {dcode}"),
        bytes_after: Some(bytes_after),
        procs_left: Some(left.len()),
        peak_rss_kib: peak,
        notes: format!(
            "sst-idle-timeout {}s; {how}; joiner names donor: {}; donor names joiner: {}",
            IDLE.as_secs(),
            jline.is_some(),
            dline.is_some()
        ),
    });

    assert!(
        left.is_empty(),
        "{scenario}: processes left: {left:#?}\n{both}"
    );
    let timed_out = code(ExitCode::TimedOut);
    assert_eq!(
        (jcode, dcode),
        (timed_out, timed_out),
        "{scenario}: exit codes\n{both}"
    );
    assert!(
        jline.is_some(),
        "{scenario}: the joiner's log does not name the stalled donor ({} and CN=donor)\n{both}",
        link.donor.ip
    );
    assert!(
        dline.is_some(),
        "{scenario}: the donor's log does not name the stalled joiner ({} and CN=joiner)\n{both}",
        link.joiner.ip
    );
    let timeout_flag = format!("--timeout={}", IDLE.as_secs());
    let donor_rsyncs: Vec<Vec<String>> = donor
        .stop_watching()
        .into_iter()
        .map(|c| c.argv)
        .filter(|a| a.first().is_some_and(|p| p.ends_with("rsync")))
        .collect();
    assert!(
        !donor_rsyncs.is_empty() && donor_rsyncs.iter().all(|a| a.contains(&timeout_flag)),
        "{scenario}: every donor rsync must carry {timeout_flag} (sst-idle-timeout): {donor_rsyncs:?}"
    );
    let jout = joiner.texts();
    assert!(
        jout.len() == 1 && jout[0].starts_with("ready "),
        "{scenario}: the joiner printed more than `ready` (a state would tell mariadbd the SST succeeded): {jout:?}"
    );
    assert!(
        donor.texts().iter().all(|l| !l.starts_with("done")),
        "{scenario}: the donor printed done: {:?}",
        donor.texts()
    );
    for f in [
        "sst_in_progress",
        "rsync_tunnel_sst.conf",
        "rsync_tunnel_sst.pid",
        "rsync_tunnel_sst_complete",
    ] {
        assert!(
            !pair.joiner.datadir.join(f).exists(),
            "{scenario}: joiner left {f}\n{both}"
        );
    }
}

#[test]
fn network_that_drops_every_packet_ends_both_sides_naming_the_peer() {
    stall(
        Fault::BlackHole,
        "network stall mid-transfer (every packet dropped)",
    );
}

#[test]
fn veth_link_down_ends_both_sides_naming_the_peer() {
    stall(
        Fault::LinkDown,
        "network stall mid-transfer (veth link down)",
    );
}

/// Our SST, then the socat reference's, on the same shaped link.
fn slow(link: &Link, scenario: &str, shape: &str) {
    let rtt = link.syn_rtt();
    let ours_pair = NsPair::new(link, Method::SstTunnel, DATA_MIB);
    let ours = pair::transfer(&ours_pair, link);
    let ref_pair = NsPair::new(link, Method::SocatReference, DATA_MIB);
    let reference = pair::transfer(&ref_pair, link);
    let left =
        procs::touching(&ours_pair.world.root).len() + procs::touching(&ref_pair.world.root).len();
    figures::record(&Figure {
        scenario: scenario.into(),
        time_to_end: Some(ours.elapsed),
        exit: "joiner 0, donor 0 (both methods)".into(),
        bytes_after: None,
        procs_left: Some(left),
        peak_rss_kib: ours.peak_rss_kib,
        notes: format!(
            "{shape}; SYN/RST round trip {:.0} ms; {:.1} MB shipped; sst-tunnel {:.2} MB/s ({:.1}s), \
             socat reference {:.2} MB/s ({:.1}s)",
            rtt.as_secs_f64() * 1e3,
            ours.bytes as f64 / 1e6,
            ours.mb_per_s(),
            ours.elapsed.as_secs_f64(),
            reference.mb_per_s(),
            reference.elapsed.as_secs_f64()
        ),
    });
}

#[test]
fn slow_network_50mbit_completes_identically() {
    let link = Link::new();
    for end in link.ends() {
        tc::rate(end, 50);
    }
    slow(
        &link,
        "slow network (tbf 50 Mbit/s)",
        "tc tbf rate 50mbit on both veth ends",
    );
}

#[test]
fn slow_network_50ms_delay_50mbit_completes_identically() {
    const DELAY: Duration = Duration::from_millis(50);
    let netem = tc::netem(&Link::new().joiner);
    let (link, shape) = match netem {
        Ok(()) => {
            let link = Link::new();
            for end in link.ends() {
                if let Err(e) = tc::delay_and_rate(end, 50, 50) {
                    panic!("cannot apply netem delay 50ms rate 50mbit: {e}");
                }
            }
            let shape = "tc netem delay 50ms rate 50mbit on both veth ends".to_string();
            (link, shape)
        }
        Err(why) => {
            // Without netem the kernel cannot delay packets: a userspace
            // delay line holds them, tbf still limits the rate.
            let link = Link::delay_line(DELAY);
            for end in link.ends() {
                tc::rate(end, 50);
            }
            let shape = format!(
                "userspace delay line 50 ms each way (TUN devices) + tc tbf rate 50mbit on both \
                 ends; netem unavailable: {why}"
            );
            (link, shape)
        }
    };
    let rtt = link.syn_rtt();
    assert!(
        rtt >= 2 * DELAY,
        "a TCP round trip took {rtt:?}, less than twice the {DELAY:?} delay: the delay is not applied"
    );
    slow(
        &link,
        "slow network (50 ms delay each way, 50 Mbit/s)",
        &shape,
    );
}

#[test]
fn parent_death_ends_a_joiner_inside_a_namespace() {
    let link = Link::new();
    let mut pair = NsPair::new(&link, Method::SstTunnel, 0);
    let (mut joiner, _addr) = pair.start_joiner(&link);
    let pid = joiner.method_pid();
    let ns = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let own = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_ne!(
        ns, own,
        "the joiner does not run in its own network namespace"
    );
    assert_eq!(
        procs::stat(joiner.sh_pid()).map(|s| s.1),
        Some(std::process::id()),
        "ip netns exec did not exec: the method's sh is not the test's child"
    );
    let killed = Instant::now();
    pair.parent.kill();
    let jcode = joiner.wait(fake_mariadbd::PARENT_DEATH + Duration::from_secs(2));
    let gone = killed.elapsed();
    joiner.assert_stdout_closed(Duration::from_secs(2));
    let left = procs::touching(&pair.world.root);
    figures::record(&Figure {
        scenario: "mariadbd dies, joiner in a network namespace".into(),
        time_to_end: Some(gone),
        exit: format!("joiner {jcode}"),
        bytes_after: None,
        procs_left: Some(left.len()),
        peak_rss_kib: None,
        notes: "ip netns exec keeps pid and parent; --parent watch works across namespaces".into(),
    });
    assert_eq!(
        jcode,
        code(ExitCode::BrokenPipe),
        "{}",
        joiner.diagnostics()
    );
    assert!(left.is_empty(), "processes left: {left:#?}");
    assert!(
        joiner
            .log_text()
            .contains(&format!("PID: {}", pair.parent.pid())),
        "the joiner's log does not name the dead parent\n{}",
        joiner.diagnostics()
    );
}
