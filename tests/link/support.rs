//! Helpers of the link tests (main.rs): a child-process guard, certificates from
//! `sst_tunnel::pki` and option files naming them, InnoDB-like data
//! directories and a joiner's copy holding 90 % of one, tree comparison,
//! the per-connection log lines, and one manual transfer end to end.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use sst_tunnel::pki::{Ca, LeafSpec};

pub const TUNNEL: &str = env!("CARGO_BIN_EXE_sst-tunnel");
pub const STEP: Duration = Duration::from_secs(30);
pub const TRANSFER: Duration = Duration::from_secs(180);
pub const PAGE: usize = 16 * 1024;

/// One child in its own process group; killed and reaped when dropped, so a
/// failing test leaves nothing behind (its rsyncs die with it: pdeathsig).
pub struct Running {
    name: &'static str,
    child: Child,
    status: Option<ExitStatus>,
    stdout: Receiver<String>,
    log: PathBuf,
}

impl Running {
    pub fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Running {
        let err = fs::File::create(&log).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start {cmd:?}: {e}"));
        let out = child.stdout.take().unwrap();
        let (tx, stdout) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Running {
            name,
            child,
            status: None,
            stdout,
            log,
        }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The next stdout line; panics with the log when none comes in time.
    pub fn line(&mut self) -> String {
        self.stdout
            .recv_timeout(STEP)
            .unwrap_or_else(|e| panic!("{}: no stdout line ({e}); log:\n{}", self.name, self.log()))
    }

    /// Waits (polling, bounded by `within`) for the exit; panics unless 0.
    pub fn succeeds(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.status.is_none() {
            self.status = self.child.try_wait().unwrap();
            assert!(
                Instant::now() < deadline,
                "{} still running after {within:?}; log:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20)); // poll interval, bounded above
        }
        let status = self.status.unwrap();
        assert!(
            status.success(),
            "{} exited {status}; log:\n{}",
            self.name,
            self.log()
        );
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A CA and one certificate per role, every name on loopback.
pub struct Pki {
    ca: PathBuf,
    joiner: [PathBuf; 2],
    donor: [PathBuf; 2],
}

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        let ca = Ca::new("link test CA").unwrap();
        let node = |cn: &str| {
            let spec = LeafSpec::new(cn).dns("localhost").ip("127.0.0.1");
            let files = ca.issue(&spec).unwrap().write(dir, cn).unwrap();
            [files.cert, files.key]
        };
        Pki {
            joiner: node("joiner"),
            donor: node("donor"),
            ca: ca.write(dir, "ca").unwrap(),
        }
    }

    /// An option file whose `[sst]` names `role`'s files, then `extra` lines.
    pub fn cnf(&self, path: &Path, role: &str, extra: &str) -> PathBuf {
        let [cert, key] = if role == "joiner" {
            &self.joiner
        } else {
            &self.donor
        };
        let text = format!(
            "[sst]\ntca={}\ntcert={}\ntkey={}\nsst-initial-timeout=60\n{extra}",
            self.ca.display(),
            cert.display(),
            key.display()
        );
        fs::write(path, text).unwrap();
        path.to_path_buf()
    }
}

pub fn random(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    openssl::rand::rand_bytes(&mut v).unwrap();
    v
}

/// An InnoDB-like data directory of `schemas` schema directories of
/// `per_schema` bytes each (16 KiB pages, random), plus a system tablespace
/// and a redo log. Returns its size in bytes.
pub fn make_datadir(dir: &Path, schemas: usize, per_schema: usize) -> usize {
    let mut files = vec![
        ("ibdata1".to_string(), 48 * PAGE),
        ("ib_logfile0".to_string(), 32 * PAGE),
    ];
    for d in 1..=schemas {
        let pages = per_schema / PAGE;
        files.push((format!("db{d}/big.ibd"), pages / 2 * PAGE));
        files.push((format!("db{d}/mid.ibd"), pages / 4 * PAGE));
        for t in 0..pages / 4 / 8 {
            files.push((format!("db{d}/t{t}.ibd"), 8 * PAGE));
        }
    }
    for (rel, len) in &files {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, random(*len)).unwrap();
    }
    files.iter().map(|(_, len)| len).sum()
}

/// `to` becomes a copy of `from` with every tenth page of every file
/// different: a joiner that holds 90 % of the donor's bytes. Returns the
/// bytes that differ.
pub fn seed_ninety_percent(from: &Path, to: &Path) -> usize {
    let _ = fs::remove_dir_all(to);
    let mut changed = 0;
    for (rel, content) in tree(from) {
        let mut content = content;
        for page in (5..content.len() / PAGE).step_by(10) {
            content[page * PAGE..(page + 1) * PAGE].copy_from_slice(&random(PAGE));
            changed += PAGE;
        }
        let path = to.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    changed
}

/// Every regular file under `root` by relative path, with its content.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    pub fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

pub fn assert_same_tree(what: &str, joiner: &Path, donor: &Path) {
    let (got, want) = (tree(joiner), tree(donor));
    let names = |t: &BTreeMap<PathBuf, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&got), names(&want), "{what}: the files differ");
    for (rel, content) in &want {
        assert!(got[rel] == *content, "{what}: {} differs", rel.display());
    }
}

/// The number after `key` (`bytes_in=`) in a log line.
pub fn field(line: &str, key: &str) -> u64 {
    let at = line
        .find(key)
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
        + key.len();
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {key} in {line:?}"))
}

/// One connection as a manual command's `connection closed` line tells
/// it: the bytes that came in, and when it opened and closed (seconds since
/// the epoch, from the line's UTC time and its `elapsed_ms`).
pub struct Closed {
    pub bytes_in: u64,
    pub opened: f64,
    pub closed: f64,
}

/// Every `connection closed` line of a manual command's log.
pub fn closed_connections(log: &str) -> Vec<Closed> {
    log.lines()
        .filter(|l| l.contains("connection closed") && l.contains("bytes_in="))
        .map(|l| {
            let time = l.split_whitespace().next().unwrap();
            let closed = chrono::DateTime::parse_from_rfc3339(time)
                .unwrap_or_else(|e| panic!("no time at the start of {l:?}: {e}"))
                .timestamp_micros() as f64
                / 1e6;
            Closed {
                bytes_in: field(l, "bytes_in="),
                opened: closed - field(l, "elapsed_ms=") as f64 / 1e3,
                closed,
            }
        })
        .collect()
}

/// The bytes the joiner received: the sum of its connections' `bytes_in`.
pub fn received(joiner_log: &str) -> u64 {
    closed_connections(joiner_log)
        .iter()
        .map(|c| c.bytes_in)
        .sum()
}

/// `sst-tunnel joiner` into `datadir` on a free loopback port; returns it
/// and its `ready` address.
pub fn manual_joiner(dir: &Path, pki: &Pki, datadir: &Path, tag: &str) -> (Running, String) {
    let cnf = pki.cnf(&dir.join(format!("joiner-{tag}.cnf")), "joiner", "");
    let mut cmd = Command::new(TUNNEL);
    cmd.arg("joiner")
        .arg("--defaults-file")
        .arg(cnf)
        .args(["--address", "127.0.0.1:0", "--datadir"])
        .arg(datadir);
    let mut joiner = Running::spawn("joiner", cmd, dir.join(format!("joiner-{tag}.log")));
    let ready = joiner.line();
    let addr = ready
        .strip_prefix("ready ")
        .and_then(|a| a.strip_suffix("/rsync_tunnel_sst"))
        .unwrap_or_else(|| panic!("joiner printed {ready:?}, not its ready line"))
        .to_string();
    (joiner, addr)
}

/// One manual transfer of `source` into `dest`; returns the joiner's log
/// and how long the donor ran.
pub fn manual_transfer(
    dir: &Path,
    pki: &Pki,
    source: &Path,
    dest: &Path,
    tag: &str,
    donor_cnf_extra: &str,
    donor_args: &[&str],
) -> (String, Duration) {
    let (mut joiner, addr) = manual_joiner(dir, pki, dest, tag);
    let cnf = pki.cnf(
        &dir.join(format!("donor-{tag}.cnf")),
        "donor",
        donor_cnf_extra,
    );
    let mut cmd = Command::new(TUNNEL);
    cmd.arg("donor")
        .arg("--defaults-file")
        .arg(cnf)
        .args(["--address", &addr, "--datadir"])
        .arg(source)
        .args(donor_args);
    let started = Instant::now();
    let mut donor = Running::spawn("donor", cmd, dir.join(format!("donor-{tag}.log")));
    donor.succeeds(TRANSFER);
    let took = started.elapsed();
    joiner.succeeds(STEP);
    (joiner.log(), took)
}
