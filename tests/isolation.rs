//! Local isolation during a live, rate-limited SST between two fake-mariadbd
//! nodes (issue 4): another local user (uid 65534, through `setpriv`)
//! cannot read any file or directory the method creates (rsync
//! configuration and its private directory, pid and flag files, rsync's temporary files, the binlog
//! tar, the marker and its temporary directory), cannot use the donor's
//! loopback relay (the donor logs the refusal naming the uid), and finds no
//! listening TCP socket of ours that speaks rsync in plaintext.
//!
//! The test tree is opened up (0755 directories, as Debian's
//! `/var/lib/mysql` is; a private sticky `TMPDIR` per node) so that only the
//! modes the method itself chooses stand between the other user and the
//! files ([`fake_mariadbd::created`]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use fake_mariadbd::created::{self, Seen};
use fake_mariadbd::hostile;
use fake_mariadbd::listeners;
use fake_mariadbd::other_user::{self, Access};
use fake_mariadbd::pair::{self, Pair, Plan};
use fake_mariadbd::STEP;
use figures::Figure;
use testkit::fake_mariadbd;
use testkit::figures;
use testkit::poll;
use testkit::procs;

/// `sst-bwlimit` of the donor: the transfer lasts several seconds, so the
/// temporary files and the relay exist long enough to be probed.
const BWLIMIT: &str = "400";

/// uid 65534 tries to read every file and directory the method creates
/// during the SST, on both nodes and in their temp dirs (`TMPDIR`).
#[test]
fn another_user_cannot_read_what_the_method_creates() {
    let mut pair = Pair::new();
    created::open_up(&mut pair);
    pair.donor.set_sst("sst-bwlimit", BWLIMIT);
    let plan = Plan::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = created::sample_created(&pair, stop.clone());
    let started = Instant::now();
    let out = pair::run(&pair, &plan);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (seen, mut reader) = sampler.join().unwrap();
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);

    // Controls: the reader does read what is meant to be readable, and is
    // refused what is not.
    let shipped = pair.joiner.datadir.join("db1/t1.frm");
    assert_eq!(
        fs::metadata(&shipped).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(
        reader.try_read(&shipped),
        Access::Readable,
        "control: 0644 data file"
    );
    let key = pair.world.root.join("pki/trusted-joiner.key");
    assert_eq!(reader.try_read(&key), Access::Denied, "control: 0600 key");
    drop(reader);

    let readable: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.access == Access::Readable)
        .collect();
    let denied = seen.iter().filter(|s| s.access == Access::Denied).count();
    let gone = seen.iter().filter(|s| s.access == Access::Gone).count();
    let other: Vec<&Seen> = seen
        .iter()
        .filter(|s| matches!(s.access, Access::Other(_)))
        .collect();
    let rsync_temps = seen
        .iter()
        .filter(|s| {
            s.path.starts_with(&pair.joiner.datadir)
                && s.path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .count();
    let list = |v: &[&Seen]| {
        v.iter()
            .map(|s| format!("{} ({:o})", s.path.display(), s.mode))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let names: BTreeSet<String> = seen
        .iter()
        .filter_map(|s| {
            let n = s.path.file_name()?.to_string_lossy().into_owned();
            // rsync's temporary names end in a random suffix.
            Some(if n.starts_with('.') {
                ".<rsync temp>".into()
            } else {
                n
            })
        })
        .collect();
    figures::record(&Figure {
        scenario: "isolation: uid 65534 reads files the method creates".into(),
        time_to_end: Some(elapsed),
        exit: format!("joiner {}, donor {}", out.joiner_code, out.donor_code),
        procs_left: Some(procs::touching(&pair.world.root).len()),
        notes: format!(
            "{} paths probed during the SST ({denied} denied, {gone} gone before the probe, {} readable, \
             {rsync_temps} rsync temp files): {}",
            seen.len(),
            readable.len(),
            names.into_iter().collect::<Vec<_>>().join(" ")
        ),
        ..Figure::default()
    });
    assert!(
        readable.is_empty(),
        "uid 65534 could read: {}",
        list(&readable)
    );
    assert!(other.is_empty(), "unexpected probe results: {other:?}");
    let denied = |p: &std::path::Path, what: &str| {
        let s = seen.iter().find(|s| s.path == p);
        assert!(
            matches!(
                s,
                Some(Seen {
                    access: Access::Denied,
                    ..
                })
            ),
            "joiner {what} was not probed while it existed: {s:?}"
        );
    };
    for f in ["sst_in_progress", "rsync_tunnel_sst.pid"] {
        denied(&pair.joiner.datadir.join(f), f);
    }
    // The rsync daemon configuration lives in a private directory in the
    // joiner's TMPDIR (issue 9), never in the datadir.
    let private = seen
        .iter()
        .find(|s| {
            s.path.parent() == Some(pair.joiner.dir.join("tmp").as_path())
                && s.path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("sst-tunnel-joiner."))
        })
        .unwrap_or_else(|| panic!("no private directory seen in the joiner's TMPDIR: {seen:?}"));
    assert_eq!(private.mode, 0o700, "{private:?}");
    denied(&private.path, "private directory");
    denied(
        &private.path.join("rsync_tunnel_sst.conf"),
        "rsync_tunnel_sst.conf",
    );
    assert!(
        !seen
            .iter()
            .any(|s| s.path == pair.joiner.datadir.join("rsync_tunnel_sst.conf")),
        "a daemon configuration appeared in the joiner's datadir"
    );
}

/// uid 65534 probing every port: what it got, and a root probe's.
#[derive(Debug)]
struct PortCheck {
    role: &'static str,
    addr: SocketAddr,
    other_user: other_user::Probe,
    root: Vec<u8>,
}

fn has_greeting(b: &[u8]) -> bool {
    String::from_utf8_lossy(b).contains("@RSYNCD")
}

/// During the SST: every listening TCP socket of either node's processes is
/// found, probed in plaintext as uid 65534 and as the method's own uid. No
/// port gives uid 65534 rsync; the donor's relay refuses it and logs the
/// uid. The joiner's port gives nobody rsync without TLS. The relay does
/// serve the method's own uid (that is how its rsync clients reach the
/// tunnel; that uid can read tkey anyway), which the root probe confirms,
/// so the enumeration and the probes are not blind.
#[test]
fn another_user_finds_no_plaintext_way_to_rsync() {
    let mut pair = Pair::new();
    created::open_up(&mut pair);
    pair.donor.set_sst("sst-bwlimit", BWLIMIT);
    let plan = Plan::default();
    let (jd, dd) = (pair.joiner.datadir.clone(), pair.donor.datadir.clone());
    let mut checker = None;
    let started = Instant::now();
    let out = pair::run_with(&pair, &plan, |port| {
        checker = Some(std::thread::spawn(move || {
            // Wait for the donor's relay and a running transfer.
            let mut pids = (None, None);
            let ready = poll::until(STEP, || {
                pids = (procs::method_pid(&jd), procs::method_pid(&dd));
                match pids {
                    (Some(j), Some(d)) => {
                        procs::runs_rsync(j) && !listeners::listening_of(&[d]).is_empty()
                    }
                    _ => false,
                }
            });
            assert!(ready, "the SST never got under way");
            let (j, d) = (pids.0.unwrap(), pids.1.unwrap());
            let mut checks = Vec::new();
            for (role, pid) in [("joiner", j), ("donor", d)] {
                let mut tree = vec![pid];
                tree.extend(procs::descendants(pid));
                for (_, addr) in listeners::listening_of(&tree) {
                    let at = listeners::reach(addr);
                    let other_user = other_user::plaintext_probe(&at.ip().to_string(), at.port());
                    // Only the joiner's port is probed as root here: the
                    // relay as root is the designed path (checked below).
                    let root = if role == "joiner" {
                        hostile::plaintext_at(at)
                    } else {
                        Vec::new()
                    };
                    checks.push(PortCheck {
                        role,
                        addr,
                        other_user,
                        root,
                    });
                }
            }
            // The relay as the method's own uid: reaches rsync.
            let relay = checks.iter().find(|c| c.role == "donor").map(|c| c.addr);
            let relay_root = relay.map(|a| hostile::plaintext_at(listeners::reach(a)));
            (port, checks, relay_root)
        }));
    });
    let elapsed = started.elapsed();
    let (port, checks, relay_root) = checker.unwrap().join().unwrap();
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
    let donor_log = out.donor.log_text();
    let refusals: Vec<&str> = donor_log
        .lines()
        .filter(|l| l.contains("relay connection from another user refused"))
        .collect();
    let left = procs::touching(&pair.world.root).len();
    let exit = format!("joiner {}, donor {}", out.joiner_code, out.donor_code);

    let describe = |c: &PortCheck| {
        format!(
            "{} {}: uid 65534 {}, root {}",
            c.role,
            c.addr,
            if c.other_user.refused {
                "refused".to_string()
            } else {
                format!(
                    "{} bytes, greeting {}",
                    c.other_user.got.len(),
                    has_greeting(&c.other_user.got)
                )
            },
            if c.role == "joiner" {
                format!("{} bytes, greeting {}", c.root.len(), has_greeting(&c.root))
            } else {
                format!(
                    "greeting {} (designed: own uid)",
                    relay_root.as_deref().is_some_and(has_greeting)
                )
            }
        )
    };
    figures::record(&Figure {
        scenario: "isolation: listening ports probed in plaintext".into(),
        time_to_end: Some(elapsed),
        exit: exit.clone(),
        procs_left: Some(left),
        notes: checks.iter().map(describe).collect::<Vec<_>>().join("; "),
        ..Figure::default()
    });
    figures::record(&Figure {
        scenario: "isolation: uid 65534 on the donor's relay".into(),
        time_to_end: Some(elapsed),
        exit,
        procs_left: Some(left),
        notes: format!(
            "{} refusal(s) logged: {}",
            refusals.len(),
            refusals.first().copied().unwrap_or("none")
        ),
        ..Figure::default()
    });

    let joiner_ports: Vec<&PortCheck> = checks.iter().filter(|c| c.role == "joiner").collect();
    let donor_ports: Vec<&PortCheck> = checks.iter().filter(|c| c.role == "donor").collect();
    assert_eq!(
        joiner_ports
            .iter()
            .map(|c| c.addr.port())
            .collect::<Vec<_>>(),
        vec![port],
        "the joiner must listen on its SST port only: {checks:#?}"
    );
    assert_eq!(
        donor_ports.len(),
        1,
        "the donor must listen on its relay only: {checks:#?}"
    );
    let relay = donor_ports[0].addr;
    assert!(relay.ip().is_loopback(), "relay on {relay}, not loopback");
    for c in &checks {
        hostile::assert_no_rsync(
            &format!("uid 65534 on {} {}", c.role, c.addr),
            &c.other_user.got,
        );
        hostile::assert_no_rsync(&format!("root on {} {}", c.role, c.addr), &c.root);
    }
    assert!(
        !donor_ports[0].other_user.refused,
        "the relay refused the TCP connect itself; the refusal must come from the uid check"
    );
    assert!(
        refusals
            .iter()
            .any(|l| l.contains(&format!("owner={}", other_user::UID))),
        "the donor did not log the refusal naming uid {}\n{donor_log}",
        other_user::UID
    );
    assert!(
        relay_root.as_deref().is_some_and(has_greeting),
        "control: the relay did not reach rsync for the method's own uid: {relay_root:?}"
    );
    assert_eq!(left, 0, "processes left");
}
