//! Child processes a test runs (socat, rsync, sst-tunnel, openssl): each runs in
//! its own process group, its stdout lines and stderr are collected by threads,
//! and dropping the guard kills the whole group and reaps it, so a failing test
//! leaves no socat or rsync daemon behind.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

use crate::procs::{signal_all, Signal};

/// How long a dropped guard waits for its group to exit after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// A running child process, killed with its process group when dropped.
pub struct Proc {
    name: String,
    pid: i32,
    exit: Receiver<ExitStatus>,
    status: Option<ExitStatus>,
    stdout: Receiver<String>,
    stderr_lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// Disconnected once the stderr reader has read the pipe to its end.
    stderr_done: Receiver<()>,
}

impl Proc {
    /// Starts `cmd` in a new process group with piped stdout/stderr.
    ///
    /// Panics with an install hint when the program is missing.
    pub fn spawn(name: &str, mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let program = cmd.get_program().to_string_lossy().into_owned();
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("{name}: {program} not found: {}", install_hint(&program))
            }
            Err(e) => panic!("{name}: cannot start {program}: {e}"),
        };
        let pid = i32::try_from(child.id()).expect("pid fits in i32");
        let (stdout, _) = spawn_line_reader(child.stdout.take().expect("stdout is piped"), None);
        let stderr = Arc::new(Mutex::new(String::new()));
        let (stderr_lines, stderr_done) = spawn_line_reader(
            child.stderr.take().expect("stderr is piped"),
            Some(Arc::clone(&stderr)),
        );
        let exit = spawn_waiter(child);
        Proc {
            name: name.to_owned(),
            pid,
            exit,
            status: None,
            stdout,
            stderr_lines,
            stderr,
            stderr_done,
        }
    }

    /// The name the test gave the process.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The next line the process writes to stdout, or a panic naming the
    /// process and its stderr when none arrives in time.
    pub fn stdout_line(&mut self, timeout: Duration) -> String {
        match self.stdout.recv_timeout(timeout) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!(
                "{}: no stdout line within {timeout:?}; stderr:\n{}",
                self.name,
                self.stderr()
            ),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.status_soon();
                panic!(
                    "{}: stdout closed without a line (exit {status:?}); stderr:\n{}",
                    self.name,
                    self.stderr()
                )
            }
        }
    }

    /// All further stdout lines until the pipe closes (call after the process exited).
    pub fn remaining_stdout(&mut self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => return lines,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: stdout still open {timeout:?} after exit; got {lines:?}",
                    self.name
                ),
            }
        }
    }

    /// Waits until the stderr pipe is closed and fully collected (after
    /// exit); false if a leftover child still holds it open after `timeout`.
    pub fn wait_stderr_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(_) => {}
                Err(RecvTimeoutError::Disconnected) => return true,
                Err(RecvTimeoutError::Timeout) => return false,
            }
        }
    }

    /// Waits for a stderr line matching `pred` and returns it, or panics with
    /// the stderr so far when none comes in time or the process ends first.
    pub fn stderr_line_matching(
        &mut self,
        pred: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: expected stderr line not seen within {timeout:?}; stderr:\n{}",
                    self.name,
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.status_soon();
                    panic!(
                        "{}: exited ({status:?}) before the expected stderr line; stderr:\n{}",
                        self.name,
                        self.stderr()
                    )
                }
            }
        }
    }

    /// Waits for the process to exit, or panics (the guard then kills it).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        match self.exit.recv_timeout(timeout) {
            Ok(status) => {
                self.status = Some(status);
                // What the process wrote before it exited may still be in
                // the pipe: let the reader reach its end (bounded, as a
                // grandchild could hold the pipe open).
                let _ = self.stderr_done.recv_timeout(Duration::from_secs(5));
                status
            }
            Err(_) => panic!(
                "{}: still running after {timeout:?}; stderr:\n{}",
                self.name,
                self.stderr()
            ),
        }
    }

    /// The exit status once a closed pipe says the process is ending.
    fn status_soon(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.exit.recv_timeout(Duration::from_secs(2)).ok();
        }
        self.status
    }

    /// The exit status if the process has ended.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.exit.try_recv().ok();
        }
        self.status
    }

    /// Sends `signal` to the process itself (not its group).
    pub fn signal(&self, signal: Signal) {
        // An error means the process already exited, which callers then see.
        signal_all(&[self.pid], signal);
    }

    /// Waits for the exit and asserts its code, showing stderr on a mismatch.
    pub fn assert_exit_code(&mut self, code: i32, timeout: Duration) {
        let status = self.wait(timeout);
        if status.code() != Some(code) {
            let _complete = self.wait_stderr_closed(Duration::from_secs(2));
        }
        assert_eq!(
            status.code(),
            Some(code),
            "{}: exit status {status:?}, expected code {code}; stderr:\n{}",
            self.name,
            self.stderr()
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.try_status().is_some() {
            // The leader is gone; its group may still hold forked children.
            signal_all(&[-self.pid], Signal::KILL);
            return;
        }
        signal_all(&[-self.pid], Signal::TERM);
        if self.exit.recv_timeout(TERM_GRACE).is_err() {
            signal_all(&[-self.pid], Signal::KILL);
            let _reaped = self.exit.recv_timeout(TERM_GRACE);
        }
        signal_all(&[-self.pid], Signal::KILL);
    }
}

/// Runs `cmd` to completion under a deadline; returns its status, stdout and stderr.
pub fn run(name: &str, cmd: Command, timeout: Duration) -> (ExitStatus, String, String) {
    let mut proc = Proc::spawn(name, cmd);
    let status = proc.wait(timeout);
    let stdout = proc.remaining_stdout(Duration::from_secs(10)).join("\n");
    let _complete = proc.wait_stderr_closed(Duration::from_secs(10));
    (status, stdout, proc.stderr())
}

/// Runs `cmd` and asserts it exits 0, returning its stdout.
pub fn run_ok(name: &str, cmd: Command, timeout: Duration) -> String {
    let (status, stdout, stderr) = run(name, cmd, timeout);
    assert!(
        status.success(),
        "{name}: exit status {status:?}; stderr:\n{stderr}"
    );
    stdout
}

fn install_hint(program: &str) -> String {
    let base = program.rsplit('/').next().unwrap_or(program);
    match base {
        "socat" => "apt-get install socat".to_owned(),
        "rsync" => "apt-get install rsync".to_owned(),
        "stunnel" | "stunnel4" => "apt-get install stunnel4".to_owned(),
        "openssl" => "apt-get install openssl".to_owned(),
        "bash" => "apt-get install bash".to_owned(),
        other => format!("is {other} built and on PATH?"),
    }
}

/// Reads `pipe` line by line into the returned channel (and `keep`); the
/// second receiver disconnects when the pipe has been read to its end.
fn spawn_line_reader(
    pipe: impl Read + Send + 'static,
    keep: Option<Arc<Mutex<String>>>,
) -> (Receiver<String>, Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        let _done = done_tx;
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches(['\n', '\r']).to_owned();
            if let Some(keep) = &keep {
                if let Ok(mut all) = keep.lock() {
                    all.push_str(&line);
                    all.push('\n');
                }
            }
            // The receiver may be gone (test finished); keep draining the pipe.
            let _ignored = tx.send(line);
        }
    });
    (rx, done_rx)
}

fn spawn_waiter(mut child: Child) -> Receiver<ExitStatus> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        if let Ok(status) = child.wait() {
            let _ignored = tx.send(status);
        }
    });
    rx
}
