//! Issue 11, item 3: the certificates users already have. With no `tca`,
//! `tcapath`, `tcert` or `tkey` in `[sst]`, the real binary takes its files
//! from MariaDB's own options: `ssl-ca`/`ssl-cert`/`ssl-key` in the server
//! groups, and the role-specific `ssl-server-*` (joiner) / `ssl-client-*`
//! (donor) in `[sst]`, as MariaDB's test `galera_sst_rsync_ssl_role_certs`
//! sets them. A manual transfer completes on them (real rsync, real
//! mutual TLS, certificates made here with `sst_tunnel::pki`), the start-up
//! log and `check` name the key and option-file line each file came from, a
//! bad fallback file's error names its key and file, and a configuration
//! with no certificate anywhere is exit 3 before anything listens.
//!
//! Self-contained on purpose: only the library's public API and the binary.

#![allow(clippy::expect_used, clippy::unwrap_used)]

/// `sst-tunnel check` on the fallback keys.
mod check_lines;
/// Bad fallback files, no certificate at all, the SST method's roles.
mod failures;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sst_tunnel::pki::{Ca, Eku, LeafFiles, LeafSpec};
use sst_tunnel::ExitCode;

/// A bound for one step (a `ready` line, a start-up failure).
const STEP: Duration = Duration::from_secs(30);
/// A bound for a whole (small) transfer.
const TRANSFER: Duration = Duration::from_secs(120);
const STATE: &str = "6a9c2a54-1f56-11ef-9a3e-0242ac120002:17 0";

fn code(c: ExitCode) -> i32 {
    i32::from(c.code())
}

/// A temp directory with a CA and the option files of one test.
struct World {
    dir: tempfile::TempDir,
    ca: Ca,
    ca_file: PathBuf,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("fallback keys test ca").unwrap();
        let ca_file = ca.write(dir.path(), "ca").unwrap();
        World { dir, ca, ca_file }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn leaf(&self, stem: &str, spec: &LeafSpec) -> LeafFiles {
        self.ca
            .issue(spec)
            .unwrap()
            .write(self.dir.path(), stem)
            .unwrap()
    }

    /// A node certificate the donor accepts for the joiner at 127.0.0.1.
    fn node(&self, stem: &str, eku: Eku) -> LeafFiles {
        self.leaf(stem, &LeafSpec::new(stem).ip("127.0.0.1").eku(eku))
    }

    fn cnf(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, text).unwrap();
        path
    }
}

/// The 1-based line of `path` where `needle` is, as the option-file reader counts.
fn line_of(path: &Path, needle: &str) -> usize {
    let text = fs::read_to_string(path).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in {}", path.display()))
        + 1
}

/// `[group] name FILE (from CNF:LINE)`: how every message names a fallback file.
fn named(group: &str, name: &str, file: &Path, cnf: &Path) -> String {
    let line = line_of(cnf, &format!("{name} = {}", file.display()));
    format!(
        "[{group}] {name} {} (from {}:{line})",
        file.display(),
        cnf.display()
    )
}

/// A running `sst-tunnel` (testkit's supervised child) with the calls
/// these tests make on it.
struct Proc(testkit::child::Proc);

impl Proc {
    fn spawn(dir: &Path, name: &str, args: &[&str]) -> Proc {
        Proc::spawn_as(testkit::project::binary(), dir, name, args)
    }

    /// Runs `program` (the binary, or a link to it under another name).
    fn spawn_as(program: &Path, dir: &Path, name: &str, args: &[&str]) -> Proc {
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(dir).stdin(Stdio::null());
        Proc(testkit::child::Proc::spawn(name, cmd))
    }

    fn line(&mut self, within: Duration) -> String {
        self.0.stdout_line(within)
    }

    fn stderr(&self) -> String {
        self.0.stderr()
    }

    /// The exit code, under a deadline.
    fn wait(&mut self, within: Duration) -> i32 {
        self.0.wait(within).code().unwrap_or(-1)
    }

    /// The stdout lines not read yet, up to the end of the stream.
    fn rest(&mut self, within: Duration) -> Vec<String> {
        self.0.remaining_stdout(within)
    }

    /// The one stderr line containing every needle.
    fn log_line(&self, needles: &[&str]) -> String {
        let err = self.stderr();
        err.lines()
            .find(|l| needles.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| panic!("no stderr line with {needles:?} in:\n{err}"))
            .to_string()
    }
}

/// A small data directory: the system tablespace and two schema directories.
fn populate(src: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for (rel, size) in [
        ("ibdata1", 300_000),
        ("mysql/user.frm", 3000),
        ("mysql/global_priv.MAD", 20_000),
        ("db1/db.opt", 65),
        ("db1/t1.ibd", 200_000),
    ] {
        let content: Vec<u8> = (0..size)
            .map(|i: usize| (i.wrapping_mul(31) ^ rel.len()) as u8)
            .collect();
        let path = src.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &content).unwrap();
        files.insert(rel.to_string(), content);
    }
    files
}

/// Runs a manual joiner and donor, each with its own option file, and
/// returns both (ended) processes after checking that the data arrived.
fn transfer(world: &World, joiner_cnf: &Path, donor_cnf: &Path) -> (Proc, Proc) {
    let (src, dst) = (world.path("src"), world.path("dst"));
    fs::create_dir_all(&dst).unwrap();
    let sent = populate(&src);
    let dst_s = dst.display().to_string();
    let jcnf = joiner_cnf.display().to_string();
    let mut joiner = Proc::spawn(
        world.dir.path(),
        "joiner",
        &[
            "joiner",
            "--defaults-file",
            &jcnf,
            "--address",
            "127.0.0.1:0",
            "--datadir",
            &dst_s,
        ],
    );
    let ready = joiner.line(STEP);
    let address = ready
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("{ready}\n{}", joiner.stderr()))
        .to_string();
    let src_s = src.display().to_string();
    let dcnf = donor_cnf.display().to_string();
    let mut donor = Proc::spawn(
        world.dir.path(),
        "donor",
        &[
            "donor",
            "--defaults-file",
            &dcnf,
            "--address",
            &address,
            "--state",
            STATE,
            "--datadir",
            &src_s,
        ],
    );
    assert_eq!(donor.wait(TRANSFER), 0, "donor:\n{}", donor.stderr());
    assert_eq!(joiner.wait(TRANSFER), 0, "joiner:\n{}", joiner.stderr());
    assert_eq!(
        joiner.line(STEP),
        STATE,
        "the joiner prints the state it got"
    );
    for (rel, content) in &sent {
        let got = fs::read(dst.join(rel)).unwrap_or_else(|e| panic!("{rel} did not arrive: {e}"));
        assert!(got == *content, "{rel} arrived with other bytes");
    }
    (joiner, donor)
}

/// `[mysqld]` holds the server's own TLS files and nothing else about TLS:
/// each node's SST runs on them, and each role's start-up line names them.
#[test]
fn a_manual_transfer_runs_on_the_server_groups_ssl_keys() {
    let world = World::new();
    let j = world.node("joiner", Eku::Absent);
    let d = world.node("donor", Eku::Absent);
    let cnf = |name: &str, node: &LeafFiles| {
        world.cnf(
            name,
            &format!(
                "[client]\nport = 3306\n[mysqld]\nssl-ca = {}\nssl-cert = {}\nssl-key = {}\n",
                world.ca_file.display(),
                node.cert.display(),
                node.key.display()
            ),
        )
    };
    let (jcnf, dcnf) = (cnf("joiner.cnf", &j), cnf("donor.cnf", &d));
    let (joiner, donor) = transfer(&world, &jcnf, &dcnf);
    for (proc, role, node, cnf) in [(&joiner, "joiner", &j, &jcnf), (&donor, "donor", &d, &dcnf)] {
        let line = proc.log_line(&["tls files:", role]);
        for needle in [
            format!(
                "certificate {}",
                named("mysqld", "ssl-cert", &node.cert, cnf)
            ),
            format!("private key {}", named("mysqld", "ssl-key", &node.key, cnf)),
            format!("CA file {}", named("mysqld", "ssl-ca", &world.ca_file, cnf)),
        ] {
            assert!(
                line.contains(&needle),
                "{role}: {needle:?} missing from {line}"
            );
        }
        assert!(!proc.stderr().contains("system store"), "{}", proc.stderr());
    }
}

/// MariaDB's `galera_sst_rsync_ssl_role_certs` layout: the CA in
/// `[mysqld]`, a server certificate for the joiner and a client certificate
/// for the donor in `[sst]`, each allowed only its own role by its EKU, so
/// the transfer works only if each role takes its own pair.
#[test]
fn role_specific_keys_in_sst_give_each_role_its_own_certificate() {
    let world = World::new();
    let server = world.node("server", Eku::ServerOnly);
    let client = world.node("client", Eku::ClientOnly);
    let cnf = world.cnf(
        "node.cnf",
        &format!(
            "[mysqld]\nssl-ca = {}\n[sst]\nssl-server-cert = {}\nssl-server-key = {}\n\
             ssl-client-cert = {}\nssl-client-key = {}\n",
            world.ca_file.display(),
            server.cert.display(),
            server.key.display(),
            client.cert.display(),
            client.key.display()
        ),
    );
    let (joiner, donor) = transfer(&world, &cnf, &cnf);
    let line = joiner.log_line(&["tls files:", "joiner"]);
    for needle in [
        named("sst", "ssl-server-cert", &server.cert, &cnf),
        named("sst", "ssl-server-key", &server.key, &cnf),
        named("mysqld", "ssl-ca", &world.ca_file, &cnf),
    ] {
        assert!(line.contains(&needle), "{needle:?} missing from {line}");
    }
    let line = donor.log_line(&["tls files:", "donor"]);
    for needle in [
        named("sst", "ssl-client-cert", &client.cert, &cnf),
        named("sst", "ssl-client-key", &client.key, &cnf),
    ] {
        assert!(line.contains(&needle), "{needle:?} missing from {line}");
    }
    // Each certificate serves one role: no warning about the other one's EKU.
    for p in [&joiner, &donor] {
        assert!(!p.stderr().contains("cannot act as"), "{}", p.stderr());
    }
}

fn check(cnf: &Path) -> (i32, String, String) {
    let out = testkit::check::check_cmd(cnf, &[])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The one stdout line of `level` containing every needle.
fn finding(stdout: &str, level: &str, needles: &[&str]) -> String {
    stdout
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(level))
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| panic!("no {level} line with {needles:?} in:\n{stdout}"))
        .to_string()
}

const MYSQLD: &str = "wsrep_sst_method = rsync_tunnel\nwsrep_node_address = 127.0.0.1:4567\n\
                      wsrep_sst_receive_address = 127.0.0.1:0\n";
