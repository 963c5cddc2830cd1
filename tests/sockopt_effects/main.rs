//! Issue 10 item 4: each socket item of `[sst] sockopt` does what socat
//! does with it, proved on the real binary (`sst-tunnel donor --relay-only`
//! and `sst-tunnel joiner --forward`) against sockets the test controls:
//! attempts are counted as connections on a listener the test holds, or
//! read from the count the error reports; nothing is timed.
//!
//! `pf` with a name needs a name that resolves to both families; the test
//! runs the binary in a private mount namespace (`unshare --mount`, root)
//! where `/etc/hosts` maps `dualhost` to `::1` and `127.0.0.1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod net;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use net::{AcceptAndDrop, Blackhole};
use sst_tunnel::pki::{Ca, Eku, LeafFiles, LeafSpec};
use tempfile::TempDir;
use testkit::child::Proc;
use testkit::project::binary;

/// Every wait on a process is bounded by this (generous: the machine is shared).
const STEP: Duration = Duration::from_secs(60);
/// The name the mount-namespace runs resolve to `::1` and `127.0.0.1`.
const DUAL: &str = "dualhost";

/// A CA, a node certificate valid for every name used here, and option files.
struct Node {
    dir: TempDir,
    files: LeafFiles,
    ca: PathBuf,
}

impl Node {
    fn new() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let authority = Ca::new("sockopt ca").unwrap();
        let ca = authority.write(dir.path(), "ca").unwrap();
        let spec = LeafSpec::new(DUAL)
            .dns(DUAL)
            .dns("localhost")
            .ip("127.0.0.1")
            .ip("::1")
            .eku(Eku::ServerAndClient);
        let files = authority
            .issue(&spec)
            .unwrap()
            .write(dir.path(), "node")
            .unwrap();
        std::fs::write(
            dir.path().join("hosts"),
            format!("::1 {DUAL}\n127.0.0.1 {DUAL}\n"),
        )
        .unwrap();
        Node { dir, files, ca }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// An option file: the node's files, `sockopt`, and more `[sst]` keys.
    fn cnf(&self, sockopt: &str, extra: &[(&str, &str)]) -> PathBuf {
        let mut text = format!(
            "[sst]\ntcert = {}\ntkey = {}\ntca = {}\nsockopt = {sockopt}\n",
            self.files.cert.display(),
            self.files.key.display(),
            self.ca.display(),
        );
        for (k, v) in extra {
            text.push_str(&format!("{k} = {v}\n"));
        }
        let file = self.path(&format!("sst-{}.cnf", next_suffix()));
        std::fs::write(&file, text).unwrap();
        file
    }

    /// `sst-tunnel donor --relay-only` to `address`; in the `dualhost`
    /// namespace when `dual`.
    fn donor(&self, address: &str, cnf: &Path, dual: bool) -> Proc {
        let args = [
            "donor",
            "--relay-only",
            "--address",
            address,
            "--defaults-file",
            &cnf.display().to_string(),
        ]
        .map(String::from);
        Proc::spawn("donor", self.command(&args, dual))
    }

    /// `sst-tunnel joiner --forward` on `address` (the forward target is
    /// never reached: no donor connects).
    fn joiner(&self, address: &str, cnf: &Path, dual: bool, env: &[(&str, &str)]) -> Proc {
        let args = [
            "joiner",
            "--address",
            address,
            "--forward",
            "127.0.0.1:9",
            "--defaults-file",
            &cnf.display().to_string(),
        ]
        .map(String::from);
        let mut cmd = self.command(&args, dual);
        cmd.envs(env.iter().copied());
        Proc::spawn("joiner", cmd)
    }

    fn command(&self, args: &[String], dual: bool) -> Command {
        if !dual {
            let mut cmd = Command::new(binary());
            cmd.args(args);
            return cmd;
        }
        require_root();
        // `unshare --mount` makes the bind mount private to this process.
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "sh", "-c"])
            .arg(format!(
                "mount --bind '{}' /etc/hosts || exit 97; exec \"$0\" \"$@\"",
                self.path("hosts").display()
            ))
            .arg(binary())
            .args(args);
        cmd
    }
}

fn next_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

fn require_root() {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    assert_eq!(
        uid,
        Some(0),
        "the pf tests with a name run sst-tunnel in a private mount namespace \
         (unshare --mount, util-linux) with their own /etc/hosts: run them as root"
    );
}

/// Waits for `p` to exit with `code` and returns its whole stderr.
fn exits(p: &mut Proc, code: i32) -> String {
    p.assert_exit_code(code, STEP);
    assert!(
        p.wait_stderr_closed(STEP),
        "{}: stderr still open",
        p.name()
    );
    p.stderr()
}

fn occurrences(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

// ---- donor: retry, interval, forever, connect-timeout ----

/// The window is long so that only the items can end the retries.
const LONG_WINDOW: (&str, &str) = ("sst-connect-retry", "600");

#[test]
fn donor_retry_bounds_refused_connects() {
    let node = Node::new();
    let closed = net::closed_port(Ipv4Addr::LOCALHOST.into());
    let cnf = node.cnf("retry=2,interval=0", &[LONG_WINDOW]);
    let mut donor = node.donor(&closed.to_string(), &cnf, false);
    let err = exits(&mut donor, 111);
    assert!(err.contains("in 3 attempts (sockopt retry=2)"), "{err}");
    assert!(err.contains("Connection refused"), "{err}");
}

#[test]
fn donor_retry_bounds_dropped_handshakes() {
    let node = Node::new();
    let joiner = AcceptAndDrop::new(Ipv4Addr::LOCALHOST.into());
    let cnf = node.cnf("retry=2,interval=0", &[LONG_WINDOW]);
    let mut donor = node.donor(&joiner.addr().to_string(), &cnf, false);
    // A handshake dropped without a verdict ends as a vanished peer (1).
    let err = exits(&mut donor, 1);
    assert_eq!(joiner.count(), 3, "{err}");
    assert_eq!(
        occurrences(&err, "before the handshake completed, retrying"),
        2,
        "{err}"
    );
}

#[test]
fn donor_interval_is_the_pause_and_no_pause_runs_past_the_window() {
    let node = Node::new();
    let closed = net::closed_port(Ipv4Addr::LOCALHOST.into());
    // One hour between attempts, ten minutes of window: the second attempt
    // could only start after the window, so none is waited for.
    let cnf = node.cnf("retry=5,interval=3600", &[LONG_WINDOW]);
    let mut donor = node.donor(&closed.to_string(), &cnf, false);
    let err = exits(&mut donor, 111);
    assert!(
        err.contains("in 1 attempt within 600s (sst-connect-retry)"),
        "{err}"
    );
}

#[test]
fn donor_forever_lifts_the_retry_count_within_the_window() {
    let node = Node::new();
    let joiner = AcceptAndDrop::new(Ipv4Addr::LOCALHOST.into());
    // retry=0 alone allows one attempt; forever wins over it.
    let cnf = node.cnf("retry=0,forever,interval=0", &[LONG_WINDOW]);
    let donor = node.donor(&joiner.addr().to_string(), &cnf, false);
    joiner.wait_for(4, STEP);
    drop(donor);

    // forever stays bounded by sst-connect-retry, and without `interval` it
    // pauses socat's 1 s: with a window of half a second, one attempt.
    let closed = net::closed_port(Ipv4Addr::LOCALHOST.into());
    let cnf = node.cnf("forever", &[("sst-connect-retry", "0.5")]);
    let mut donor = node.donor(&closed.to_string(), &cnf, false);
    let err = exits(&mut donor, 111);
    assert!(
        err.contains("in 1 attempt within 500ms (sst-connect-retry)"),
        "{err}"
    );
}

#[test]
fn donor_connect_timeout_overrides_sst_connect_timeout() {
    let node = Node::new();
    let hole = Blackhole::new();
    let cnf = node.cnf(
        "connect-timeout=0.2,retry=0",
        &[LONG_WINDOW, ("sst-connect-timeout", "600")],
    );
    let mut donor = node.donor(&hole.addr().to_string(), &cnf, false);
    let err = exits(&mut donor, 111);
    assert!(
        err.contains("connect timed out after 200ms (sockopt connect-timeout)"),
        "{err}"
    );
}

// ---- donor: pf ----

#[test]
fn donor_pf_conflicting_with_a_literal_is_exit_22_naming_item_and_address() {
    let node = Node::new();
    let cnf = node.cnf("pf=ip4", &[("sst-connect-retry", "0")]);
    let mut donor = node.donor("[::1]:4444", &cnf, false);
    let err = exits(&mut donor, 22);
    assert!(err.contains("sockopt item `pf` asks for IPv4"), "{err}");
    assert!(err.contains("[::1]:4444 is an IPv6 address"), "{err}");

    let cnf = node.cnf("pf=ip6", &[("sst-connect-retry", "0")]);
    let mut donor = node.donor("127.0.0.1:4444", &cnf, false);
    let err = exits(&mut donor, 22);
    assert!(err.contains("127.0.0.1:4444 is an IPv4 address"), "{err}");
}

#[test]
fn donor_pf_ip4_connects_over_ipv4_to_a_name_with_both() {
    let node = Node::new();
    let (v4, v6) = net::dual_accept_and_drop();
    let cnf = node.cnf("pf=ip4,retry=0", &[LONG_WINDOW]);
    let address = format!("{DUAL}:{}", v4.addr().port());
    let mut donor = node.donor(&address, &cnf, true);
    v4.wait_for(1, STEP);
    donor.wait(STEP);
    assert_eq!(v6.count(), 0, "the resolver's first address, ::1, was used");
}

#[test]
fn donor_pf_ip6_never_falls_back_to_ipv4() {
    let node = Node::new();
    // IPv4 listens; on ::1 the same port is held by a socket that does not
    // listen, so IPv6 connects are refused.
    let (v4, _v6_hold) = net::v4_listener_v6_closed();
    let cnf = node.cnf("pf=ip6,retry=0", &[LONG_WINDOW]);
    let port = v4.local_addr().unwrap().port();
    let mut donor = node.donor(&format!("{DUAL}:{port}"), &cnf, true);
    let err = exits(&mut donor, 111);
    assert!(err.contains(&format!("[::1]:{port}")), "{err}");
    assert!(net::queue_is_empty(&v4), "the donor connected over IPv4");
}

// ---- joiner: pf ----

#[test]
fn joiner_pf_conflicting_with_a_literal_is_exit_22_naming_item_and_address() {
    let node = Node::new();
    let cnf = node.cnf("pf=ip4", &[]);
    let mut joiner = node.joiner("[::1]:0", &cnf, false, &[]);
    let err = exits(&mut joiner, 22);
    assert!(err.contains("sockopt item `pf` asks for IPv4"), "{err}");
    assert!(err.contains("[::1]:0 is an IPv6 address"), "{err}");
}

/// The address the joiner says it bound (its `joiner listening` line),
/// checked against its `ready` port and by a connect.
fn bound_address(joiner: &mut Proc) -> SocketAddr {
    let line = joiner.stdout_line(STEP);
    let port: u16 = line
        .strip_prefix(&format!("ready {DUAL}:"))
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"));
    let log = joiner.stderr_line_matching(|l| l.contains("joiner listening"), STEP);
    let bound: SocketAddr = log
        .split_whitespace()
        .find_map(|w| w.strip_prefix("address="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {log:?}"));
    assert_eq!(bound.port(), port, "{log}");
    std::net::TcpStream::connect(bound).unwrap_or_else(|e| panic!("{bound}: {e}"));
    bound
}

#[test]
fn joiner_pf_binds_the_family_asked_for_a_name_with_both() {
    let node = Node::new();
    let cnf = node.cnf("pf=ip4", &[]);
    let mut joiner = node.joiner(&format!("{DUAL}:0"), &cnf, true, &[]);
    let bound = bound_address(&mut joiner);
    assert_eq!(bound.ip(), IpAddr::from(Ipv4Addr::LOCALHOST), "pf=ip4");
    drop(joiner);

    let cnf = node.cnf("pf=ip6", &[]);
    let mut joiner = node.joiner(&format!("{DUAL}:0"), &cnf, true, &[]);
    let bound = bound_address(&mut joiner);
    assert_eq!(bound.ip(), IpAddr::from(Ipv6Addr::LOCALHOST), "pf=ip6");
}

// ---- joiner: retry, interval, forever, connect-timeout ----

const RETRYING: &str = "port in use, retrying";

#[test]
fn joiner_forever_waits_for_a_busy_port_to_be_released() {
    let node = Node::new();
    let holder = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = holder.local_addr().unwrap().port();
    // connect-timeout is the donor's; the joiner accepts and ignores it.
    let cnf = node.cnf("forever,interval=0.05,connect-timeout=5", &[LONG_WINDOW]);
    let mut joiner = node.joiner(&format!("127.0.0.1:{port}"), &cnf, false, &[]);
    joiner.stderr_line_matching(|l| l.contains(RETRYING), STEP);
    drop(holder);
    let line = joiner.stdout_line(STEP);
    assert_eq!(line, format!("ready 127.0.0.1:{port}/rsync_tunnel_sst"));
    std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
}

#[test]
fn joiner_retry_is_counted_and_interval_past_the_window_is_not_waited() {
    let node = Node::new();
    let holder = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let address = holder.local_addr().unwrap().to_string();
    let debug = [("SST_TUNNEL_LOG", "debug")];

    let cnf = node.cnf("retry=2,interval=0", &[LONG_WINDOW]);
    let mut joiner = node.joiner(&address, &cnf, false, &debug);
    let err = exits(&mut joiner, 16);
    assert_eq!(occurrences(&err, RETRYING), 2, "{err}");
    assert!(err.contains("Address already in use"), "{err}");

    // An interval longer than the window: the bind is not retried at all.
    let cnf = node.cnf("retry=2,interval=3600", &[LONG_WINDOW]);
    let mut joiner = node.joiner(&address, &cnf, false, &debug);
    let err = exits(&mut joiner, 16);
    assert_eq!(occurrences(&err, RETRYING), 0, "{err}");
    drop(holder);
}
