//! Interoperability with socat-based peers (the original `wsrep_sst_rsync_tunnel`),
//! both directions, with real socat 1.7.4, rsync and OpenSSL: a full SST with
//! the reference rsync sequence each way, and raw bytes through each mixed
//! pair of tunnels. Certificates come from `scripts/gen-certs`, which is
//! tested here as well.

// A test that cannot set itself up should stop with a message: that is what expect does here.
#![allow(clippy::expect_used)]

use std::ffi::OsStr;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use testkit::bytes::pattern;
use testkit::child::{run, run_ok, Proc};
use testkit::net::{echo_through, Echo};
use testkit::procs::Signal;
use testkit::socat::gen_certs::{self, GenCerts};
use testkit::socat::tree::{assert_same_tree, make_datadir, Symlinks};
use testkit::socat::{self, MARKER, TRANSFER};

const STATE: &str = "6c4c5e0e-8f45-11ef-9a2c-3b1f0e6d7a10:1234";
const ECHO_BYTES: usize = 4 << 20;
const SIGTERM_EXIT: i32 = 3;
const SHORT: Duration = Duration::from_secs(10);
/// gen-certs makes RSA keys: slow on a loaded 2-core machine.
const GEN_TIMEOUT: Duration = Duration::from_secs(120);
/// What an rsync_tunnel joiner keeps in its datadir besides the data: the
/// marker and its own bookkeeping.
const JOINER_FILES: [&str; 4] = [
    MARKER,
    "rsync_tunnel_sst.conf",
    "rsync_tunnel_sst.pid",
    "sst_in_progress",
];

fn openssl(args: &[&OsStr]) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    run_ok("openssl", cmd, SHORT)
}

/// Echoes `data` through `entry`, failing with the stderr of every process on the path.
fn assert_echo(entry: SocketAddr, data: &[u8], path: &[&Proc]) {
    if let Err(e) = echo_through(entry, data, TRANSFER) {
        let logs: Vec<String> = path
            .iter()
            .map(|p| format!("--- {} stderr:\n{}", p.name(), p.stderr()))
            .collect();
        panic!("{e}\n{}", logs.join("\n"));
    }
}

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[test]
fn gen_certs_makes_a_ca_and_node_certificates_for_both_roles() {
    let pki = GenCerts::generate();
    let dir = pki.dir();

    for node in ["joiner", "donor"] {
        let snippet = format!(
            "[sst]\ntca = {ca}\ntcert = {crt}\ntkey = {key}\n",
            ca = pki.ca().display(),
            crt = pki.cert(node).display(),
            key = pki.key(node).display()
        );
        assert!(
            pki.snippets.contains(&snippet),
            "no [sst] snippet for {node} in:\n{}",
            pki.snippets
        );
        assert_eq!(mode(&pki.key(node)), 0o600, "{node}.key must be private");
        let text = openssl(&[
            "x509".as_ref(),
            "-noout".as_ref(),
            "-subject".as_ref(),
            "-ext".as_ref(),
            "subjectAltName,extendedKeyUsage,basicConstraints".as_ref(),
            "-in".as_ref(),
            pki.cert(node).as_os_str(),
        ]);
        for want in [
            format!("subject=CN = {node}"),
            format!("DNS:{node}, IP Address:127.0.0.1, DNS:localhost"),
            "TLS Web Server Authentication, TLS Web Client Authentication".to_owned(),
            "CA:FALSE".to_owned(),
        ] {
            assert!(text.contains(&want), "{node}.crt lacks {want:?}:\n{text}");
        }
    }
    assert_eq!(mode(&dir.join("ca.key")), 0o600, "ca.key must be private");
    let verified = openssl(&[
        "verify".as_ref(),
        "-CAfile".as_ref(),
        pki.ca().as_os_str(),
        pki.cert("joiner").as_os_str(),
        pki.cert("donor").as_os_str(),
    ]);
    assert!(verified.contains(": OK"), "openssl verify: {verified}");

    // A later run adds a node with the same CA (EC key this time).
    let ca_before = fs::read(pki.ca()).expect("read ca.pem");
    let mut cmd = Command::new("bash");
    cmd.arg(gen_certs::script()).arg("--out").arg(dir).args([
        "--key-type",
        "ec",
        "--install-dir",
        "/etc/mysql/ssl",
        "node3=[::1]",
    ]);
    let snippet = run_ok("gen-certs node3", cmd, Duration::from_secs(60));
    assert_eq!(
        fs::read(pki.ca()).expect("read ca.pem"),
        ca_before,
        "the CA was replaced"
    );
    assert!(
        snippet.contains("tcert = /etc/mysql/ssl/node3.crt"),
        "snippet: {snippet}"
    );
    let text = openssl(&[
        "x509".as_ref(),
        "-noout".as_ref(),
        "-text".as_ref(),
        "-in".as_ref(),
        dir.join("node3.crt").as_os_str(),
    ]);
    assert!(
        text.contains("NIST CURVE: P-256"),
        "node3 is not P-256:\n{text}"
    );
    assert!(
        text.contains("IP Address:0:0:0:0:0:0:0:1"),
        "node3 lacks the ::1 SAN:\n{text}"
    );
    openssl(&[
        "verify".as_ref(),
        "-CAfile".as_ref(),
        pki.ca().as_os_str(),
        dir.join("node3.crt").as_os_str(),
    ]);

    // It refuses to overwrite a node, and rejects a bad name, naming it.
    for (args, want) in [
        (vec!["node3=10.0.0.3"], "use --force"),
        (
            vec!["node4=not a name"],
            "'not a name' is neither an IP address nor a DNS name",
        ),
        (
            vec!["--key-type", "dsa", "node5"],
            "--key-type must be rsa or ec",
        ),
    ] {
        let mut cmd = Command::new("bash");
        cmd.arg(gen_certs::script())
            .arg("--out")
            .arg(dir)
            .args(&args);
        let (status, _, stderr) = run("gen-certs", cmd, GEN_TIMEOUT);
        assert_eq!(status.code(), Some(1), "gen-certs {args:?}: {stderr}");
        assert!(
            stderr.contains(want),
            "gen-certs {args:?}: stderr lacks {want:?}: {stderr}"
        );
    }
    let mut cmd = Command::new("bash");
    cmd.arg(gen_certs::script()).arg("--help");
    let help = run_ok("gen-certs --help", cmd, SHORT);
    assert!(
        help.contains("--out DIR") && help.contains("--key-type"),
        "help: {help}"
    );
}

#[test]
fn socat_donor_sends_an_sst_into_an_sst_tunnel_joiner() {
    let pki = GenCerts::generate();
    let work = tempfile::tempdir().expect("work dir");
    let source = work.path().join("donor-data");
    let dest = work.path().join("joiner-data");
    make_datadir(&source);
    fs::create_dir(&dest).expect("joiner datadir");

    let (mut joiner, joiner_port) =
        socat::tunnel_joiner(&pki, "joiner", &["--datadir".as_ref(), dest.as_os_str()]);
    let (_socat, donor_port) = socat::socat_donor(&pki, "donor", "127.0.0.1", joiner_port);

    let marker = format!("{STATE} 0\n");
    socat::reference_donor_sequence(&source, donor_port, &marker);

    joiner.assert_exit_code(0, TRANSFER);
    let lines = joiner.remaining_stdout(SHORT);
    assert_eq!(
        lines,
        vec![format!("{STATE} 0")],
        "joiner's stdout after `ready`"
    );
    // The marker and the joiner's own bookkeeping are not part of the data.
    // Symlinks arrive munged, as on the reference joiner (whose
    // `use chroot = no` implies rsync's `munge symlinks`): a donor's link
    // must lead nowhere (issue 9).
    assert_same_tree(&source, &dest, &JOINER_FILES, Symlinks::Munged);
}

#[test]
fn sst_tunnel_donor_sends_an_sst_into_a_socat_joiner() {
    let pki = GenCerts::generate();
    let work = tempfile::tempdir().expect("work dir");
    let source = work.path().join("donor-data");
    let dest = work.path().join("joiner-data");
    let conf = work.path().join("rsyncd");
    make_datadir(&source);
    fs::create_dir(&dest).expect("joiner datadir");
    fs::create_dir(&conf).expect("rsyncd conf dir");

    let (_rsyncd, rsync_port) = socat::rsync_daemon(&conf, &dest);
    let (_socat, joiner_port) = socat::socat_joiner(&pki, "joiner", rsync_port);

    let mut donor = socat::tunnel_donor(&pki, "donor", joiner_port, &source, STATE, &[]);
    donor.assert_exit_code(0, TRANSFER);

    let marker = fs::read_to_string(dest.join(MARKER))
        .unwrap_or_else(|e| panic!("no marker {MARKER} on the socat joiner: {e}"));
    let first = marker.lines().next().unwrap_or_default();
    assert!(
        first == STATE || first.starts_with(&format!("{STATE} ")),
        "marker's first line {first:?} does not carry the state {STATE}"
    );
    // The reference joiner's own daemon munges symlinks (use chroot = no).
    assert_same_tree(&source, &dest, &[MARKER], Symlinks::Munged);
    assert!(
        !source.join(MARKER).exists(),
        "the donor left its marker in the datadir"
    );
}

#[test]
fn relay_only_donor_carries_bytes_through_a_socat_joiner() {
    let pki = GenCerts::generate();
    let echo = Echo::start();
    let (socat, joiner_port) = socat::socat_joiner(&pki, "joiner", echo.addr().port());
    let (mut relay, relay_port) = socat::tunnel_relay(&pki, "donor", joiner_port);

    let entry = SocketAddr::from((Ipv4Addr::LOCALHOST, relay_port));
    assert_echo(entry, &pattern(ECHO_BYTES, 7), &[&relay, &socat]);
    // A second connection through the same relay: one TLS connection each.
    assert_echo(entry, &pattern(64 << 10, 8), &[&relay, &socat]);

    relay.signal(Signal::TERM);
    relay.assert_exit_code(SIGTERM_EXIT, SHORT);
}

#[test]
fn socat_donor_carries_bytes_through_a_forwarding_joiner() {
    // EC P-256 keys here, so both key types from gen-certs meet socat.
    let pki = GenCerts::generate_with(&["--key-type", "ec"]);
    let echo = Echo::start();
    let forward = echo.addr().to_string();
    let (mut joiner, joiner_port) =
        socat::tunnel_joiner(&pki, "joiner", &["--forward".as_ref(), forward.as_ref()]);
    let (socat, donor_port) = socat::socat_donor(&pki, "donor", "127.0.0.1", joiner_port);

    let entry = SocketAddr::from((Ipv4Addr::LOCALHOST, donor_port));
    assert_echo(entry, &pattern(ECHO_BYTES, 9), &[&socat, &joiner]);
    assert_echo(entry, &pattern(64 << 10, 10), &[&socat, &joiner]);

    assert!(
        joiner.try_status().is_none(),
        "forwarding joiner exited early: {}",
        joiner.stderr()
    );
    joiner.signal(Signal::TERM);
    joiner.assert_exit_code(SIGTERM_EXIT, SHORT);
}

/// Control: the reference peers of this file, socat donor and socat joiner,
/// complete the reference SST between themselves, so a failure above is
/// sst-tunnel's and not the harness's.
#[test]
fn reference_socat_pair_completes_the_reference_sst() {
    let pki = GenCerts::generate();
    let work = tempfile::tempdir().expect("work dir");
    let source = work.path().join("donor-data");
    let dest = work.path().join("joiner-data");
    let conf = work.path().join("rsyncd");
    make_datadir(&source);
    fs::create_dir(&dest).expect("joiner datadir");
    fs::create_dir(&conf).expect("rsyncd conf dir");

    let (_rsyncd, rsync_port) = socat::rsync_daemon(&conf, &dest);
    let (_joiner, joiner_port) = socat::socat_joiner(&pki, "joiner", rsync_port);
    let (_donor, donor_port) = socat::socat_donor(&pki, "donor", "127.0.0.1", joiner_port);
    socat::reference_donor_sequence(&source, donor_port, &format!("{STATE} 0\n"));

    assert_eq!(
        fs::read_to_string(dest.join(MARKER)).expect("marker arrived"),
        format!("{STATE} 0\n")
    );
    // The reference joiner's own daemon munges symlinks (use chroot = no).
    assert_same_tree(&source, &dest, &[MARKER], Symlinks::Munged);
}

/// A socat donor whose certificate comes from another CA gets no byte into
/// the joiner's data directory (its rsync fails), and the joiner stays up
/// for the legitimate donor that follows.
#[test]
fn sst_tunnel_joiner_refuses_a_socat_donor_from_another_ca_then_serves_the_real_one() {
    let pki = GenCerts::generate();
    let rogue = GenCerts::generate();
    let work = tempfile::tempdir().expect("work dir");
    let source = work.path().join("donor-data");
    let dest = work.path().join("joiner-data");
    make_datadir(&source);
    fs::create_dir(&dest).expect("joiner datadir");

    let (mut joiner, joiner_port) =
        socat::tunnel_joiner(&pki, "joiner", &["--datadir".as_ref(), dest.as_os_str()]);
    // The rogue trusts the joiner's CA but presents a certificate the joiner does not trust.
    let opts = format!(
        "cert={},key={},cafile={}",
        rogue.cert("donor").display(),
        rogue.key("donor").display(),
        pki.ca().display()
    );
    let (rogue_socat, rogue_port) = socat::socat_donor_with(&opts, "127.0.0.1", joiner_port);
    let mut cmd = Command::new("rsync");
    cmd.args(socat::SST_FLAGS)
        .arg("--recursive")
        .arg(format!("{}/", source.join("db1").display()))
        .arg(format!(
            "rsync://localhost:{rogue_port}/{}/db1",
            socat::MODULE
        ));
    let (status, _, stderr) = run("rogue rsync", cmd, TRANSFER);
    assert!(
        !status.success(),
        "rsync through an untrusted donor succeeded; joiner stderr:\n{}",
        joiner.stderr()
    );
    let written = socat::tree::snapshot(&dest, &JOINER_FILES);
    assert!(
        written.is_empty(),
        "the untrusted donor wrote into the datadir: {:?}; rsync said: {stderr}",
        written.keys().collect::<Vec<_>>()
    );
    assert!(
        joiner.try_status().is_none(),
        "the joiner exited after a rejected donor: {}",
        joiner.stderr()
    );
    drop(rogue_socat);

    let (_socat, donor_port) = socat::socat_donor(&pki, "donor", "127.0.0.1", joiner_port);
    socat::reference_donor_sequence(&source, donor_port, &format!("{STATE} 0\n"));
    joiner.assert_exit_code(0, TRANSFER);
    assert_eq!(joiner.remaining_stdout(SHORT), vec![format!("{STATE} 0")]);
}
