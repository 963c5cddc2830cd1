//! One mariadbd 10.11 Galera node: its temp dir, private basedir, process and SQL access
//! (option file in `cnf.rs`, SST leftovers and teardown in `leftovers.rs`).
//!
//! Layout of a node dir (all owned by `mysql`, the user mariadbd runs as):
//! ```text
//! my.cnf                 --defaults-file (mysqld + galera + [sst])
//! data/                  datadir (mariadb-install-db)
//! run/                   socket, pid file
//! log/error.log          log_error: mariadbd and every SST script's stderr
//! log/mariadbd.out       anything mariadbd writes before the error log is open
//! log/sst-trace.log      one line per SST run (see method.rs)
//! base/bin/              private basedir's bin: the first PATH entry of every SST child
//! libexec/<impl>/        the SST implementation the wrapper execs
//! tls/                   ca.pem, cert.pem, key.pem
//! tmp/                   tmpdir
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::cnf::{self, NodeConfig, Ports};
use super::method::{read_trace, Method, TraceLine};
use crate::poll::{must, Probe};
use crate::procs;

/// A Galera node. Dropping it kills mariadbd and every process of its SSTs and removes its
/// directory; if the test is panicking it first prints the tail of the node's logs.
pub struct Node {
    /// Node name.
    pub name: String,
    /// Loopback address.
    pub ip: Ipv4Addr,
    /// Ports.
    pub ports: Ports,
    /// SST implementation installed in this node's private bin.
    pub method: Method,
    pub(super) dir: tempfile::TempDir,
    pub(super) child: Option<Child>,
    /// Pids seen in mariadbd's process tree, so teardown finds orphans of a killed mariadbd.
    pub(super) seen: BTreeSet<i32>,
    /// What runs mariadbd where the node lives (see [`super::Site::exec_prefix`]).
    exec_prefix: Vec<String>,
}

/// Fails the test unless the Debian packages the cluster needs are installed.
pub fn require_tools() {
    let needs = [
        ("/usr/sbin/mariadbd", "mariadb-server galera-4"),
        (
            "/usr/lib/galera/libgalera_smm.so",
            "mariadb-server galera-4",
        ),
        ("/usr/bin/mariadb-install-db", "mariadb-server galera-4"),
        ("/usr/bin/mariadb", "mariadb-server galera-4"),
        ("/usr/bin/my_print_defaults", "mariadb-server galera-4"),
        ("/usr/bin/rsync", "rsync"),
        ("/usr/bin/socat", "socat"),
        ("/usr/bin/openssl", "openssl"),
        ("/usr/bin/ss", "iproute2"),
    ];
    for (path, package) in needs {
        assert!(
            Path::new(path).exists(),
            "{path} not found: apt-get install {package}"
        );
    }
    let mysql = Command::new("id").args(["-u", "mysql"]).output();
    assert!(
        mysql.is_ok_and(|out| out.status.success()),
        "no `mysql` user: apt-get install mariadb-server galera-4"
    );
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write_file(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

impl Node {
    /// Creates the node dir, runs mariadb-install-db, installs the method and writes my.cnf.
    /// Nothing is started.
    pub fn create(cfg: &NodeConfig<'_>) -> Node {
        let dir = tempfile::Builder::new()
            .prefix(&format!("sst-cluster-{}-", cfg.name))
            .tempdir_in("/tmp")
            .unwrap_or_else(|e| panic!("cannot create a temp dir in /tmp: {e}"));
        let root = dir.path().to_path_buf();
        for sub in ["data", "run", "log", "base/bin", "libexec", "tls", "tmp"] {
            fs::create_dir_all(root.join(sub))
                .unwrap_or_else(|e| panic!("cannot create {}/{sub}: {e}", root.display()));
        }
        let tls = root.join("tls");
        for (from, name) in [
            (cfg.tls.ca, "ca.pem"),
            (cfg.tls.cert, "cert.pem"),
            (cfg.tls.key, "key.pem"),
        ] {
            fs::copy(from, tls.join(name))
                .unwrap_or_else(|e| panic!("cannot copy {}: {e}", from.display()));
        }
        cfg.method.install(
            &root,
            &root.join("base/bin"),
            &root.join("log/sst-trace.log"),
        );
        write_file(&root.join("my.cnf"), &cnf::my_cnf(&root, cfg));
        run(
            Command::new("chown").args(["-R", "mysql:mysql"]).arg(&root),
            "chown -R mysql:mysql",
        );
        run(
            Command::new("chmod").arg("0755").arg(&root),
            "chmod of the node dir",
        );
        run(
            Command::new("chmod").arg("0600").arg(tls.join("key.pem")),
            "chmod of the node key",
        );
        let install_log = root.join("log/install-db.log");
        let out = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg("--user=mysql")
            .arg("--basedir=/usr")
            .arg(format!("--datadir={}", root.join("data").display()))
            .arg("--skip-test-db")
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run mariadb-install-db ({e}): apt-get install mariadb-server galera-4"
                )
            });
        write_file(
            &install_log,
            &format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        );
        assert!(
            out.status.success(),
            "mariadb-install-db for {} failed ({}): {}",
            cfg.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Node {
            name: cfg.name.to_string(),
            ip: cfg.ip,
            ports: cfg.ports,
            method: cfg.method,
            dir,
            child: None,
            seen: BTreeSet::new(),
            exec_prefix: cfg.exec_prefix.to_vec(),
        }
    }

    /// The node directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The datadir (no trailing slash).
    pub fn datadir(&self) -> PathBuf {
        self.root().join("data")
    }

    fn socket(&self) -> PathBuf {
        self.root().join("run/mysqld.sock")
    }

    fn error_log(&self) -> PathBuf {
        self.root().join("log/error.log")
    }

    /// The private bin directory that mariadbd puts first on its PATH.
    pub fn bin_dir(&self) -> PathBuf {
        self.root().join("base/bin")
    }

    /// pid of the running mariadbd, if any.
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// Starts mariadbd as root with `--user=mysql` (through the node's exec prefix, e.g.
    /// inside its namespace); `bootstrap` adds `--wsrep-new-cluster`.
    /// Returns at once; use [`Node::wait_synced`].
    pub fn start(&mut self, bootstrap: bool) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root().join("log/mariadbd.out"))
            .unwrap_or_else(|e| panic!("cannot open mariadbd.out: {e}"));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot dup mariadbd.out: {e}"));
        let mut cmd = match self.exec_prefix.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg("/usr/sbin/mariadbd");
                cmd
            }
            None => Command::new("/usr/sbin/mariadbd"),
        };
        cmd.arg(format!(
            "--defaults-file={}",
            self.root().join("my.cnf").display()
        ))
        .arg("--user=mysql");
        if bootstrap {
            cmd.arg("--wsrep-new-cluster");
        }
        // Like under systemd: mariadbd leads its own process group (the SST scripts join it).
        cmd.env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LANG", "C.UTF-8")
            .current_dir(self.root())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start mariadbd for {}: {e}", self.name));
        self.seen.insert(child.id() as i32);
        self.child = Some(child);
    }

    /// `Some(status)` once mariadbd has exited (and is reaped).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status)
            }
            _ => None,
        }
    }

    /// Remembers the current process tree of mariadbd for teardown.
    fn note_tree(&mut self) {
        if let Some(pid) = self.pid() {
            self.seen.extend(procs::tree(pid));
        }
    }

    fn client(&self) -> Command {
        let mut cmd = Command::new("mariadb");
        cmd.arg("--no-defaults").arg("-S").arg(self.socket()).args([
            "-uroot",
            "-N",
            "-B",
            "--connect-timeout=5",
        ]);
        cmd
    }

    /// Runs SQL through the `mariadb` client; `Err` carries the client's stderr.
    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        let out = self
            .client()
            .arg("-e")
            .arg(sql)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run mariadb: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// Runs SQL and fails the test if it fails.
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|e| panic!("{}: SQL failed: {e}\n  statement: {sql}", self.name))
    }

    /// Starts a client that reads a whole SQL script from `script` (for parallel loads).
    pub fn spawn_script(&self, script: &Path) -> Child {
        let input = fs::File::open(script)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", script.display()));
        self.client()
            .stdin(input)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run mariadb: {e}"))
    }

    /// One global status variable.
    pub fn status(&self, name: &str) -> Result<String, String> {
        let out = self.try_sql(&format!("SHOW GLOBAL STATUS LIKE '{name}'"))?;
        Ok(out
            .split_once('\t')
            .map(|(_, value)| value.trim().to_string())
            .unwrap_or_default())
    }

    /// Waits until mariadbd answers SQL, is `Synced` and sees `size` members. Fails at once if
    /// mariadbd exits meanwhile.
    pub fn wait_synced(&mut self, size: usize, timeout: Duration) {
        let name = self.name.clone();
        let mut last = String::from("socket not up");
        let what = format!("{name}: Synced in a cluster of {size}");
        let result = crate::poll::wait_for(&what, timeout, || {
            self.note_tree();
            if let Some(status) = self.exited() {
                return Probe::Failed(format!("mariadbd exited with {status} ({last})"));
            }
            let state = match self.status("wsrep_local_state_comment") {
                Ok(state) => state,
                Err(e) => {
                    last = e;
                    return Probe::Pending;
                }
            };
            let members = self.status("wsrep_cluster_size").unwrap_or_default();
            last = format!("state {state}, cluster size {members}");
            if state == "Synced" && members == size.to_string() {
                Probe::Ready(())
            } else {
                Probe::Pending
            }
        });
        if let Err(reason) = result {
            panic!("{reason} (last seen: {last})");
        }
    }

    /// Waits for mariadbd to exit by itself; returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let what = format!("{}: mariadbd exits", self.name);
        must(what, timeout, || {
            self.note_tree();
            match self.exited() {
                Some(status) => Probe::Ready(status),
                None if self.child.is_none() => Probe::Failed("not running".into()),
                None => Probe::Pending,
            }
        })
    }

    /// Clean shutdown (SIGTERM), waiting for mariadbd to exit.
    pub fn stop(&mut self) {
        let pid = self
            .pid()
            .unwrap_or_else(|| panic!("{} is not running", self.name));
        self.note_tree();
        procs::signal_all(&[pid], procs::Signal::TERM);
        let status = self.wait_exit(Duration::from_secs(120));
        assert!(
            status.success(),
            "{}: mariadbd exited with {status} on SIGTERM",
            self.name
        );
    }

    /// SIGKILLs mariadbd and reaps it. Returns the pids that were in its process tree at
    /// the moment of the kill (the SST helpers, now orphans).
    pub fn kill9(&mut self) -> BTreeSet<i32> {
        let mut child = self
            .child
            .take()
            .unwrap_or_else(|| panic!("{} is not running", self.name));
        let pid = child.id() as i32;
        let tree = procs::tree(pid);
        self.seen.extend(tree.iter().copied());
        procs::signal_all(&[pid], procs::Signal::KILL);
        let status = child
            .wait()
            .unwrap_or_else(|e| panic!("cannot reap mariadbd: {e}"));
        assert_eq!(
            status.signal(),
            Some(9),
            "{}: mariadbd status {status}",
            self.name
        );
        tree.into_iter().filter(|p| *p != pid).collect()
    }

    /// The SST runs recorded by the trace wrapper on this node.
    pub fn trace(&self) -> Vec<TraceLine> {
        read_trace(&self.root().join("log/sst-trace.log"))
    }

    /// The error log (empty if not written yet).
    pub fn error_log_text(&self) -> String {
        fs::read_to_string(self.error_log()).unwrap_or_default()
    }

    /// The last `lines` lines of the error log, the early output and the trace.
    pub fn log_tail(&self, lines: usize) -> String {
        let mut text = String::new();
        for (label, path) in [
            ("error log", self.error_log()),
            ("mariadbd.out", self.root().join("log/mariadbd.out")),
            ("sst trace", self.root().join("log/sst-trace.log")),
        ] {
            let body = fs::read_to_string(&path).unwrap_or_default();
            let all: Vec<&str> = body.lines().collect();
            let start = all.len().saturating_sub(lines);
            let _ = writeln!(
                text,
                "----- {} {label} ({}), last {} lines -----",
                self.name,
                path.display(),
                all.len() - start
            );
            for line in &all[start..] {
                let _ = writeln!(text, "{line}");
            }
        }
        text
    }
}
