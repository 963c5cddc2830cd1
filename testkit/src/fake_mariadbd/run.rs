//! One SST method process, started as mariadbd starts it (sst-protocol.md
//! §1.1): `sh -c "<command string>"` with the bin dir first on PATH,
//! `WSREP_SST_OPT_AUTH` set (empty), stdin `/dev/null` (or a pipe nobody
//! writes), stdout a pipe read line by line, stderr appended to the node's
//! error log, cwd = the datadir, and leaked descriptors: fd 3 = `grastate.dat`
//! read-write, fd 5 = a second copy of the stdout pipe, fd 6 = the error log.
//!
//! A [`Watcher`] samples the process's descendants while it runs, so tests
//! can check that no child (rsync) held a leaked descriptor.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::watcher::{Seen, Watcher};
use super::world::{Node, World};
use crate::procs;
use crate::project::binary;

/// What stdin the method gets.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stdin {
    /// `/dev/null`, as observed under mariadbd.
    DevNull,
    /// A pipe the test holds open and never writes: a read would block forever.
    SilentPipe,
}

/// One stdout line.
#[derive(Clone, Debug)]
pub struct Line {
    /// When the test read it.
    pub at: Instant,
    /// Its text without the `\n`.
    pub text: String,
    /// False for a last line that had no `\n`.
    pub terminated: bool,
}

enum Event {
    Line(Line),
    Eof(Instant),
}

/// A running (or finished) SST method process.
pub struct Sst {
    /// `joiner` / `donor`, for messages.
    pub role: String,
    /// The command string handed to `sh -c`.
    pub command: String,
    /// The error log (stderr).
    pub log: PathBuf,
    /// The file leaked on fd 3.
    pub leaked: PathBuf,
    /// `pipe:[inode]` of the stdout pipe.
    pub stdout_pipe: String,
    /// Every stdout line read so far.
    pub lines: Vec<Line>,
    /// When stdout reached EOF.
    pub eof: Option<Instant>,
    /// When the process was seen exited.
    pub exited: Option<Instant>,
    status: Option<ExitStatus>,
    child: Child,
    rx: Receiver<Event>,
    stdin: Option<ChildStdin>,
    watcher: Watcher,
    started: Instant,
}

/// The script `sh -c` runs first: opens the leaked descriptors, then execs
/// the very `sh -c "<command>"` mariadbd would run.
const LEAK_AND_EXEC: &str = r#"exec 3<>"$1" 5>&1 6>>"$2"; exec sh -c "$0""#;

/// Like [`LEAK_AND_EXEC`], but the `sh` stays as a killable stand-in for
/// mariadbd: the method runs in a subshell whose stdout is a pipe read by
/// `cat` (the stand-in's reader, copying to the test). Killing the `sh` and
/// its `cat` ([`Sst::kill_fake_parent`]) is what the method sees when
/// mariadbd dies: its parent is gone and nobody reads its stdout. Once the
/// method ended, the stand-in lives on (as `sleep`) like mariadbd would.
const UNDER_FAKE_PARENT: &str =
    r#"exec 3<>"$1" 6>>"$2"; (exec 5>&1; exec sh -c "$0") | cat; exec sleep 600"#;

/// Who the method's parent is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Parentage {
    /// The test process itself (the `sh` execs the method).
    Test,
    /// A killable `sh` reading stdout through `cat` (`UNDER_FAKE_PARENT`).
    FakeParent,
}

impl Sst {
    /// Starts `command` for `node` as mariadbd would.
    pub fn spawn(world: &World, node: &Node, role: &str, command: String, stdin: Stdin) -> Sst {
        Sst::spawn_with(world, node, role, command, stdin, Parentage::Test, &[])
    }

    /// [`Sst::spawn`] with the chosen parentage.
    pub fn spawn_as(
        world: &World,
        node: &Node,
        role: &str,
        command: String,
        stdin: Stdin,
        parentage: Parentage,
    ) -> Sst {
        Sst::spawn_with(world, node, role, command, stdin, parentage, &[])
    }

    /// [`Sst::spawn`] behind a wrapper that execs its last argument
    /// (`ip netns exec NS`), so the pid and the parent stay the same.
    pub fn spawn_wrapped(
        world: &World,
        node: &Node,
        role: &str,
        command: String,
        stdin: Stdin,
        wrapper: &[String],
    ) -> Sst {
        Sst::spawn_with(world, node, role, command, stdin, Parentage::Test, wrapper)
    }

    fn spawn_with(
        world: &World,
        node: &Node,
        role: &str,
        command: String,
        stdin: Stdin,
        parentage: Parentage,
        wrapper: &[String],
    ) -> Sst {
        let leaked = node.datadir.join("grastate.dat");
        let log_file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .unwrap();
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg("sh");
                c
            }
            None => Command::new("sh"),
        };
        cmd.arg("-c")
            .arg(match parentage {
                Parentage::Test => LEAK_AND_EXEC,
                Parentage::FakeParent => UNDER_FAKE_PARENT,
            })
            .arg(&command)
            .arg(&leaked)
            .arg(&node.log)
            .current_dir(&node.datadir)
            .env("PATH", world.path_env())
            .env("WSREP_SST_OPT_AUTH", "")
            .envs(node.env.iter().map(|(k, v)| (k, v)))
            .env_remove("SST_TUNNEL_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        cmd.stdin(match stdin {
            Stdin::DevNull => Stdio::null(),
            Stdin::SilentPipe => Stdio::piped(),
        });
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stdout_pipe = procs::own_fd_target(stdout.as_raw_fd());
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut buf = Vec::new();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(Event::Eof(Instant::now()));
                        return;
                    }
                    Ok(_) => {
                        let terminated = buf.last() == Some(&b'\n');
                        if terminated {
                            buf.pop();
                        }
                        let line = Line {
                            at: Instant::now(),
                            text: String::from_utf8_lossy(&buf).into_owned(),
                            terminated,
                        };
                        if tx.send(Event::Line(line)).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let watcher = Watcher::start(child.id());
        Sst {
            role: role.to_string(),
            command,
            log: node.log.clone(),
            leaked,
            stdout_pipe,
            lines: Vec::new(),
            eof: None,
            exited: None,
            status: None,
            child,
            rx,
            stdin,
            watcher,
            started: Instant::now(),
        }
    }

    /// The pid of the `sh` mariadbd spawned.
    pub fn sh_pid(&self) -> u32 {
        self.child.id()
    }

    /// The pid running the binary: the `sh` itself if it exec'd, else its
    /// child (mariadbd's tree is `mariadbd → sh → method`).
    pub fn method_pid(&self) -> u32 {
        let bin = binary();
        let sh = self.sh_pid();
        let mut found = None;
        let ok = crate::poll::until(super::STEP, || {
            if procs::exe(sh).as_deref() == Some(bin) {
                found = Some(sh);
            } else {
                found = procs::descendants(sh)
                    .into_iter()
                    .find(|&p| procs::exe(p).as_deref() == Some(bin));
            }
            found.is_some()
        });
        assert!(ok, "{}: the binary never started under sh {sh}", self.role);
        found.unwrap()
    }

    /// With [`Parentage::FakeParent`]: SIGKILLs the stand-in `sh` and its
    /// `cat` (mariadbd's death as the method sees it) and reaps the `sh`.
    /// Returns the method's pid if it was still running under the stand-in.
    pub fn kill_fake_parent(&mut self) -> Option<u32> {
        let sh = self.sh_pid();
        let bin = binary();
        let method = procs::descendants(sh)
            .into_iter()
            .find(|&p| procs::exe(p).as_deref() == Some(bin));
        let cats: Vec<u32> = procs::descendants(sh)
            .into_iter()
            .filter(|&p| procs::argv(p).first().is_some_and(|a| a.ends_with("cat")))
            .collect();
        let _ = self.child.kill();
        procs::kill_all(&cats);
        let _ = self.try_wait_reap();
        method
    }

    fn try_wait_reap(&mut self) -> Option<i32> {
        if self.status.is_none() {
            let st = self.child.wait().unwrap();
            self.status = Some(st);
            self.exited = Some(Instant::now());
        }
        self.status.map(code_of)
    }

    /// The next stdout line, `None` at EOF; panics after `within`.
    pub fn next_line(&mut self, within: Duration) -> Option<String> {
        if self.eof.is_some() {
            return None;
        }
        match self.rx.recv_timeout(within) {
            Ok(Event::Line(l)) => {
                let t = l.text.clone();
                self.lines.push(l);
                Some(t)
            }
            Ok(Event::Eof(at)) => {
                self.eof = Some(at);
                None
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "{}: no stdout line within {within:?}\n{}",
                    self.role,
                    self.diagnostics()
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.eof = Some(Instant::now());
                None
            }
        }
    }

    /// Reads stdout to EOF (panics if EOF does not come within `within`).
    pub fn read_to_eof(&mut self, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left.max(Duration::from_millis(1))) {
                Some(l) => out.push(l),
                None => return out,
            }
        }
    }

    /// Whether the process has exited (non-blocking).
    pub fn try_status(&mut self) -> Option<i32> {
        if self.status.is_none() {
            if let Some(st) = self.child.try_wait().unwrap() {
                self.status = Some(st);
                self.exited = Some(Instant::now());
            }
        }
        self.status.map(code_of)
    }

    /// Waits for the exit code (128+N for death by signal N); panics after `within`.
    pub fn wait(&mut self, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        loop {
            if let Some(c) = self.try_status() {
                return c;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: still running after {within:?}\n{}",
                    self.role,
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// After exit: stdout must reach EOF promptly, i.e. no child kept the
    /// stdout pipe (mariadbd's read would block otherwise).
    pub fn assert_stdout_closed(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.eof.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "{}: stdout still open {within:?} after exit; holders: {:?}",
                    self.role,
                    procs::holders(&self.stdout_pipe)
                );
            }
            match self.rx.recv_timeout(left) {
                Ok(Event::Line(l)) => self.lines.push(l),
                Ok(Event::Eof(at)) => self.eof = Some(at),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.eof = Some(Instant::now()),
            }
        }
    }

    /// Every stdout line's text.
    pub fn texts(&self) -> Vec<String> {
        self.lines.iter().map(|l| l.text.clone()).collect()
    }

    /// The error log so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What the watcher saw so far: descendants other than the binary and `sh`.
    pub fn seen_children(&self) -> Vec<Seen> {
        self.watcher.seen()
    }

    /// Stops the descendant watcher and returns what it saw.
    pub fn stop_watching(&mut self) -> Vec<Seen> {
        self.watcher.stop();
        self.seen_children()
    }

    /// Asserts that no descendant the watcher saw held the stdout pipe (any
    /// fd) or a leaked descriptor (fd ≥ 3 on grastate.dat or the error log).
    pub fn assert_children_clean(&self) {
        let log = self.log.to_string_lossy().into_owned();
        let leaked = self.leaked.to_string_lossy().into_owned();
        for s in self.seen_children() {
            for (fd, t) in &s.fds {
                assert!(
                    *t != self.stdout_pipe,
                    "{}: child {} {:?} holds mariadbd's stdout pipe on fd {fd}",
                    self.role,
                    s.pid,
                    s.argv
                );
                assert!(
                    !(*fd >= 3 && (*t == log || *t == leaked)),
                    "{}: child {} {:?} inherited the leaked fd {fd} -> {t}",
                    self.role,
                    s.pid,
                    s.argv
                );
            }
        }
    }

    /// Diagnostics for a failure message: command, stdout so far, log.
    pub fn diagnostics(&self) -> String {
        format!(
            "command: sh -c \"{}\"\nelapsed: {:?}\nstdout so far: {:?}\n--- {} ---\n{}",
            self.command,
            self.started.elapsed(),
            self.texts(),
            self.log.display(),
            self.log_text()
        )
    }

    /// Keeps the stdin pipe open (it is closed on drop).
    pub fn has_stdin_pipe(&self) -> bool {
        self.stdin.is_some()
    }
}

impl Drop for Sst {
    fn drop(&mut self) {
        self.watcher.stop();
        if self.status.is_none() && self.child.try_wait().ok().flatten().is_none() {
            let mut victims = procs::descendants(self.child.id());
            victims.push(self.child.id());
            procs::kill_all(&victims);
            let _ = self.child.wait();
        }
    }
}

/// 128+N for a death by signal N, like a shell.
pub fn code_of(st: ExitStatus) -> i32 {
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}
