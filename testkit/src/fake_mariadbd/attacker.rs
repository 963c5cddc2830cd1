//! A hostile donor: a peer holding a valid certificate from the cluster CA
//! under another name, which tunnels raw rsync commands of its choosing into
//! a joiner. The product itself is its tunnel: `sst-tunnel donor
//! --relay-only` verifies the joiner, prints `relay ADDR` and carries every
//! connection to that address inside TLS, presenting the attacker's
//! certificate; [`Tunnel::rsync`] then runs the real rsync client against
//! `rsync://ADDR/...`.
//!
//! [`Hostile`] puts the pieces together: the real SST method started as
//! joiner by the fake mariadbd ([`pair::start_joiner`]), and an attacker
//! tunnelled into it.
//!
//! Where rsync's own messages go: the joiner's daemon runs as a server
//! over pipes, so rsync 3.2.3 and later send its errors to its stderr,
//! which the joiner copies into its error log, on the line that closes the
//! connection and names the peer's certificate; older daemons send them to
//! the client. [`Attacker::assert_refused`] accepts either.
//!
//! ```ignore
//! let attacker = Attacker::new(&pair.world, "attacker");
//! let tunnel = attacker.tunnel(port);
//! let run = tunnel.rsync([&tunnel.url("rsync_tunnel_sst/grastate.dat"), "down/"]);
//! attacker.assert_refused(&run, "sender", &pair.joiner.log);
//! ```

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::pair::{self, Pair, Plan};
use super::private_dir::private_tmp;
use super::run::Sst;
use super::world::{names, World};
use super::STEP;
use crate::project::binary;
use sst_tunnel::pki::LeafFiles;

/// rsync's exit status for an option the daemon refuses ("requested action
/// not supported", RERR_UNSUPPORTED).
pub const REFUSED: i32 = 4;

/// A peer with a certificate from the world's trusted CA, and a scratch
/// directory for its payloads and downloads.
pub struct Attacker {
    /// The certificate's CN.
    pub name: String,
    /// Its certificate and key (SAN localhost and 127.0.0.1).
    pub cert: LeafFiles,
    /// The CA it trusts (the cluster's).
    pub ca: PathBuf,
    /// `<world>/<name>`: payloads, downloads and the relay's log.
    pub dir: PathBuf,
}

impl Attacker {
    /// A new attacker named `name` in `world`.
    pub fn new(world: &World, name: &str) -> Attacker {
        let dir = world.root.join(name);
        fs::create_dir_all(&dir).unwrap();
        Attacker {
            name: name.to_string(),
            cert: world.ca.issue_loopback(name),
            ca: world.ca.file.clone(),
            dir,
        }
    }

    /// Panics unless `run` failed with rsync's exit 4 because the daemon
    /// refuses `--option`: rsync's message in the client's stderr, or in a
    /// line of the joiner's error log `log` naming this attacker's
    /// certificate (polled: the joiner writes it once the daemon is reaped).
    pub fn assert_refused(&self, run: &RsyncRun, option: &str, log: &Path) {
        let message = format!("The server is configured to refuse --{option}");
        let cn = format!("CN={}", self.name);
        let mut text = String::new();
        let found = run.stderr.contains(&message)
            || crate::poll::until(STEP, || {
                text = fs::read_to_string(log).unwrap_or_default();
                text.lines()
                    .any(|l| l.contains(&message) && l.contains(&cn))
            });
        assert!(
            run.code == REFUSED && found,
            "rsync {} was not refused --{option}: exit {}, stderr {:?}; joiner log:\n{text}",
            run.args.join(" "),
            run.code,
            run.stderr
        );
    }

    /// Polls the joiner's error log `log` until a line naming this
    /// attacker's certificate contains `needle`; panics with the log if none
    /// does within [`STEP`].
    pub fn assert_logged(&self, needle: &str, log: &Path) {
        let cn = format!("CN={}", self.name);
        let mut text = String::new();
        let found = crate::poll::until(STEP, || {
            text = fs::read_to_string(log).unwrap_or_default();
            text.lines().any(|l| l.contains(needle) && l.contains(&cn))
        });
        assert!(
            found,
            "no line with {needle:?} and {cn} in the joiner log:\n{text}"
        );
    }

    /// Starts the relay to the joiner on `127.0.0.1:port` and returns once
    /// it relays (its TLS preflight to the joiner succeeded).
    pub fn tunnel(&self, port: u16) -> Tunnel {
        let log = self.dir.join(format!("relay-{port}.log"));
        let mut child = Command::new(binary())
            .args(["donor", "--relay-only", "--no-defaults", "--address"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--tca")
            .arg(&self.ca)
            .arg("--tcert")
            .arg(&self.cert.cert)
            .arg("--tkey")
            .arg(&self.cert.key)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("cannot start sst-tunnel donor --relay-only");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(STEP).unwrap_or_default();
        let addr = line
            .trim()
            .strip_prefix("relay ")
            .and_then(|a| a.parse::<SocketAddr>().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the attacker's relay printed {line:?}, not `relay ADDR`; its log:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Tunnel { child, addr, log }
    }
}

/// A running relay into the joiner; killed on drop.
pub struct Tunnel {
    child: Child,
    /// The loopback address rsync clients connect to.
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Tunnel {
    /// `rsync://ADDR/<path>` (`path` starts with a module name, or is empty
    /// for the module list).
    pub fn url(&self, path: &str) -> String {
        format!("rsync://{}/{path}", self.addr)
    }

    /// The relay's stderr so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs `rsync ARGS` (bounded I/O and connect waits added) in `cwd` and
    /// returns its outcome; panics if it does not end within [`STEP`].
    pub fn rsync_in<I, S>(&self, cwd: &Path, args: I) -> RsyncRun
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<String> = args
            .into_iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        let mut child = Command::new("rsync")
            .args(["--contimeout=20", "--timeout=30"])
            .args(&args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rsync not runnable (apt-get install rsync)");
        let drain = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = r.read_to_string(&mut s);
                s
            })
        };
        let out = drain(Box::new(child.stdout.take().unwrap()));
        let err = drain(Box::new(child.stderr.take().unwrap()));
        let deadline = Instant::now() + STEP;
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("rsync {} did not end within {STEP:?}", args.join(" "));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        RsyncRun {
            args,
            code: status.code().unwrap_or(-1),
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        }
    }

    /// [`Tunnel::rsync_in`] in the current directory.
    pub fn rsync<I, S>(&self, args: I) -> RsyncRun
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.rsync_in(Path::new("."), args)
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One finished rsync client run.
#[derive(Debug)]
pub struct RsyncRun {
    /// Its arguments (without the bounds added).
    pub args: Vec<String>,
    /// Its exit code (-1 when killed by a signal).
    pub code: i32,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl RsyncRun {
    /// Panics unless rsync exited 0.
    pub fn assert_ok(&self) {
        assert_eq!(
            self.code,
            0,
            "rsync {} failed:\n{}",
            self.args.join(" "),
            self.stderr
        );
    }
}

/// A joiner waiting for its donor, and an attacker tunnelled into it.
pub struct Hostile {
    /// The two nodes (the donor stays idle).
    pub pair: Pair,
    /// The joiner, past `ready`.
    pub joiner: Sst,
    /// Its port.
    pub port: u16,
    /// The attacker.
    pub attacker: Attacker,
    /// Its relay into the joiner (taken when the joiner is ended).
    pub tunnel: Option<Tunnel>,
    /// The joiner's own `TMPDIR`.
    pub tmp: PathBuf,
}

impl Hostile {
    /// A fresh pair, its joiner started by the fake mariadbd, an attacker
    /// named `attacker` tunnelled into it.
    pub fn start() -> Hostile {
        Hostile::start_with(|_| {})
    }

    /// [`Hostile::start`] after `prepare` changed the pair.
    pub fn start_with(prepare: impl FnOnce(&mut Pair)) -> Hostile {
        let mut pair = Pair::new();
        let tmp = private_tmp(&mut pair);
        prepare(&mut pair);
        let (joiner, port, _) = pair::start_joiner(&pair, &Plan::default());
        let attacker = Attacker::new(&pair.world, "attacker");
        let tunnel = attacker.tunnel(port);
        Hostile {
            pair,
            joiner,
            port,
            attacker,
            tunnel: Some(tunnel),
            tmp,
        }
    }

    /// The attacker's relay.
    pub fn tunnel(&self) -> &Tunnel {
        self.tunnel.as_ref().unwrap()
    }

    /// `rsync://RELAY/<path>`.
    pub fn url(&self, path: &str) -> String {
        self.tunnel().url(path)
    }

    /// The joiner's datadir (the data module).
    pub fn datadir(&self) -> PathBuf {
        self.pair.joiner.datadir.clone()
    }

    /// A directory of the attacker's, created empty.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let d = self.attacker.dir.join(name);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// Ends the joiner as Galera does after a failed donor (mariadbd
    /// aborts): exit 32, the contract files and the private directory gone.
    pub fn end(mut self) {
        drop(self.tunnel.take());
        pair::end_joiner_by_parent_death(&mut self.pair, &mut self.joiner, self.port);
        assert_eq!(names(&self.tmp), Vec::<String>::new(), "left in TMPDIR");
    }
}
