//! A bench for running the socat reference peer without mariadbd: the test plays the server
//! (reads the script's stdout lines, writes `tables_flushed`, provides a `--parent`), so the
//! fixture's own wire behaviour and exit codes are checked in seconds.
//!
//! Everything runs as `mysql` (through `setpriv`), like under mariadbd: an rsync daemon
//! started by root would switch to `nobody` and could not write the datadir.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

use super::method::Method;
use crate::pki::Issuer;
use crate::poll::{must, Probe};
use crate::procs;

/// A temp dir owned by `mysql` holding certificates, the fixture copy and one dir per role.
pub struct Bench {
    dir: tempfile::TempDir,
    /// The fixture copy every peer runs.
    pub script: PathBuf,
    /// `sleep` running as mysql: the `--parent` given to joiners.
    parent: Option<Child>,
}

/// One role's files: `<bench>/<role>/{data,my.cnf}`.
pub struct Side {
    /// Datadir (no trailing slash).
    pub datadir: PathBuf,
    /// Its `--defaults-file`.
    pub cnf: PathBuf,
}

impl Default for Bench {
    fn default() -> Self {
        Bench::new()
    }
}

impl Bench {
    /// Creates the bench with certificates for `ip` and a parent process.
    pub fn new() -> Bench {
        super::node::require_tools();
        let dir = tempfile::Builder::new()
            .prefix("sst-fixture-bench-")
            .tempdir_in("/tmp")
            .unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
        let root = dir.path();
        let tls = root.join("tls");
        fs::create_dir_all(&tls).unwrap_or_else(|e| panic!("cannot create {tls:?}: {e}"));
        let ca = Issuer::new(&tls, "bench");
        let joiner_ip = super::JOINER_IP.to_string();
        let leaf = ca.issue("peer", &["localhost"], &["127.0.0.1", &joiner_ip]);
        fs::rename(&ca.file, tls.join("ca.pem")).unwrap_or_else(|e| panic!("rename: {e}"));
        fs::rename(&leaf.cert, tls.join("cert.pem")).unwrap_or_else(|e| panic!("rename: {e}"));
        fs::rename(&leaf.key, tls.join("key.pem")).unwrap_or_else(|e| panic!("rename: {e}"));
        let script = root.join(Method::SocatReference.script_name());
        fs::copy(crate::socat::reference_script(), &script)
            .unwrap_or_else(|e| panic!("cannot copy the fixture: {e}"));
        let mut bench = Bench {
            dir,
            script,
            parent: None,
        };
        bench.chown();
        let parent = as_mysql("sleep")
            .arg("600")
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start a parent process as mysql: {e}"));
        bench.parent = Some(parent);
        bench
    }

    /// The bench dir.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// pid of the stand-in for mariadbd.
    pub fn parent_pid(&self) -> i32 {
        self.parent.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// Kills the stand-in parent (as if mariadbd died).
    pub fn kill_parent(&mut self) {
        if let Some(mut parent) = self.parent.take() {
            let _killed = parent.kill();
            let _reaped = parent.wait();
        }
    }

    fn chown(&self) {
        let status = Command::new("chown")
            .args(["-R", "mysql:mysql"])
            .arg(self.root())
            .status()
            .unwrap_or_else(|e| panic!("cannot run chown: {e}"));
        assert!(status.success(), "chown -R mysql:mysql failed: {status}");
    }

    /// Creates `<bench>/<role>` with an empty datadir and a my.cnf whose `[sst]` holds
    /// `sst_lines` (use [`Bench::tls_lines`] for the usual keys).
    pub fn side(&self, role: &str, sst_lines: &str) -> Side {
        let base = self.root().join(role);
        let datadir = base.join("data");
        fs::create_dir_all(&datadir).unwrap_or_else(|e| panic!("cannot create {datadir:?}: {e}"));
        let cnf = base.join("my.cnf");
        fs::write(
            &cnf,
            format!(
                "[mysqld]\ndatadir={}\n[sst]\n{sst_lines}",
                datadir.display()
            ),
        )
        .unwrap_or_else(|e| panic!("cannot write {cnf:?}: {e}"));
        self.chown();
        Side { datadir, cnf }
    }

    /// `tca`/`tcert`/`tkey` lines for the bench certificates.
    pub fn tls_lines(&self) -> String {
        let tls = self.root().join("tls");
        format!(
            "tca={}\ntcert={}\ntkey={}\n",
            tls.join("ca.pem").display(),
            tls.join("cert.pem").display(),
            tls.join("key.pem").display()
        )
    }

    /// Makes everything in the bench (files the test wrote) owned by mysql again.
    pub fn fix_owner(&self) {
        self.chown();
    }

    /// Starts the fixture as mysql with `args`, in `cwd` (mariadbd runs scripts in the
    /// datadir).
    pub fn run(&self, cwd: &Path, args: &[&str]) -> Script {
        let stderr = fs::File::create(self.root().join(format!(
            "stderr-{}.log",
            args.get(1).copied().unwrap_or("x")
        )))
        .unwrap_or_else(|e| panic!("cannot create a stderr log: {e}"));
        let mut child = as_mysql(self.script.to_str().unwrap_or_default())
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the fixture: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("fixture stdout is not piped"));
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Script { child, lines }
    }

    /// The fixture's stderr for the run whose role was `role`.
    pub fn stderr(&self, role: &str) -> String {
        fs::read_to_string(self.root().join(format!("stderr-{role}.log"))).unwrap_or_default()
    }

    /// Live processes whose argv or cwd names the bench dir (helpers included).
    pub fn processes(&self) -> Vec<procs::Process> {
        let root = self.root().to_string_lossy().into_owned();
        let parent = self.parent_pid();
        procs::all()
            .into_iter()
            .filter(|p| p.pid != parent && p.cmdline.contains(&root))
            .collect()
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.kill_parent();
        let left: Vec<i32> = self.processes().iter().map(|p| p.pid).collect();
        procs::signal_all(&left, procs::Signal::KILL);
    }
}

fn as_mysql(program: &str) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=mysql", "--regid=mysql", "--clear-groups", "--"])
        .arg(program)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
    cmd
}

/// A running fixture: its stdout lines and exit status.
pub struct Script {
    child: Child,
    lines: Receiver<String>,
}

impl Script {
    /// The next stdout line, or a failure naming `what` (EOF counts as failure).
    pub fn line(&mut self, what: &str, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => line,
            Err(e) => panic!(
                "fixture: no stdout line ({what}) within {timeout:?}: {e}; status {:?}",
                self.child.try_wait()
            ),
        }
    }

    /// Waits for the script to exit.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let child = &mut self.child;
        must("fixture exits", timeout, || match child.try_wait() {
            Ok(Some(status)) => Probe::Ready(status),
            Ok(None) => Probe::Pending,
            Err(e) => Probe::Failed(e.to_string()),
        })
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}
