//! Shared pieces of the `sst-tunnel check` tests: option files written into
//! a temp directory, the binary run to its end under a deadline, and its
//! OK/WARN/FAIL lines picked out with the needles each must contain.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sst_tunnel::pki::{LeafFiles, LeafSpec};

use crate::pki::Pki;

/// Limit for one check run (it does no network wait unless --peer/--listen).
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// The documented exit code of a check with a FAIL line.
pub const FAIL_EXIT: i32 = 22;
/// The `[mysqld]` part of most tests: an SST address on loopback, port 0
/// (the port check binds an ephemeral port, so no fixed port is needed).
pub const MYSQLD: &str = "wsrep_sst_method = rsync_tunnel\nwsrep_node_address = 127.0.0.1:4567\n\
                      wsrep_sst_receive_address = 127.0.0.1:0";

/// A node certificate spec covering the loopback SST address.
pub fn node_spec() -> LeafSpec {
    LeafSpec::new("node1.test")
        .dns("node1.test")
        .ip("127.0.0.1")
}

/// What one check run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Everything on stdout: the findings.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
    /// How long the run took.
    pub elapsed: Duration,
}

impl Outcome {
    /// The lines of one level (`OK`, `WARN`, `FAIL`).
    pub fn lines(&self, level: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(level))
            .collect()
    }

    /// The one line of `level` containing every needle, or a panic showing the output.
    pub fn line(&self, level: &str, needles: &[&str]) -> String {
        let found: Vec<&str> = self
            .lines(level)
            .into_iter()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .collect();
        assert!(
            !found.is_empty(),
            "no {level} line containing {needles:?} in:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        found[0].to_string()
    }

    /// Asserts that no line contains all the needles at this level.
    pub fn no_line(&self, level: &str, needles: &[&str]) {
        let found: Vec<&str> = self
            .lines(level)
            .into_iter()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .collect();
        assert!(
            found.is_empty(),
            "unexpected {level} line {found:?} in:\n{}",
            self.stdout
        );
    }

    /// Every stdout line starts with a level: the output is nothing but findings.
    pub fn assert_only_findings(&self) {
        for l in self.stdout.lines() {
            let first = l.split_whitespace().next().unwrap_or("");
            assert!(
                matches!(first, "OK" | "WARN" | "FAIL"),
                "stdout line is not a finding: {l:?}\n{}",
                self.stdout
            );
        }
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code, code,
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
    }
}

/// A node certificate from `pki`'s CA, written as `STEM.*`, its key at 0600.
pub fn node(pki: &Pki, stem: &str, spec: &LeafSpec) -> LeafFiles {
    let files = pki.leaf(stem, spec);
    chmod(&files.key, 0o600);
    files
}

/// PATH with `DIR/bin` first, holding `wsrep_sst_rsync_tunnel` and
/// `wsrep_sst_rsync_tunnel_wan` (links to the binary), as an installed
/// package leaves them for mariadbd to find.
pub fn method_path(dir: &Path) -> std::ffi::OsString {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["wsrep_sst_rsync_tunnel", "wsrep_sst_rsync_tunnel_wan"] {
        let link = bin.join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(crate::project::binary(), &link).unwrap();
        }
    }
    let mut path = std::ffi::OsString::from(&bin);
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()));
    path
}

/// `sst-tunnel check --defaults-file CNF EXTRA...`, with PATH from
/// [`method_path`] beside CNF.
pub fn check_cmd(cnf: &Path, extra: &[&str]) -> Command {
    let dir = cnf.parent().expect("the cnf is in a directory");
    let mut cmd = Command::new(crate::project::binary());
    cmd.arg("check")
        .arg("--defaults-file")
        .arg(cnf)
        .args(extra)
        .env("PATH", method_path(dir));
    cmd
}

/// Runs `sst-tunnel check --defaults-file CNF EXTRA...` to its end.
pub fn run(name: &str, cnf: &Path, extra: &[&str]) -> Outcome {
    run_check(name, check_cmd(cnf, extra))
}

/// Runs `cmd` to its end.
pub fn run_check(name: &str, cmd: Command) -> Outcome {
    let start = Instant::now();
    let (status, stdout, stderr) = crate::child::run(name, cmd, RUN_LIMIT);
    Outcome {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
        elapsed: start.elapsed(),
    }
}

/// Writes `DIR/my.cnf` with a `[mysqld]` and an `[sst]` group.
pub fn write_cnf(dir: &Path, mysqld: &str, sst: &str) -> PathBuf {
    let path = dir.join("my.cnf");
    std::fs::write(&path, format!("[mysqld]\n{mysqld}\n\n[sst]\n{sst}\n")).unwrap();
    chmod(&path, 0o644);
    path
}

/// The `[sst]` lines for these files.
pub fn sst_lines(ca: &Path, cert: &Path, key: &Path, sockopt: &str) -> String {
    format!(
        "tca = {}\ntcert = {}\ntkey = {}\nsockopt = \"{sockopt}\"",
        ca.display(),
        cert.display(),
        key.display()
    )
}

/// `chmod MODE PATH`.
pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
