//! Supervision of child processes (rsync): own process group, parent-death
//! signal, no inherited stdout or stray descriptors, stderr drained into a
//! bounded tail, the whole group killed and reaped at teardown.
//!
//! Every child runs in its own process group (`process_group(0)`, so its
//! pgid is its pid) because rsync forks helpers: killing only the pid would
//! leave them behind, holding files and pipes. Teardown `killpg`s the group.
//!
//! Between `fork` and `exec` the child sets `PR_SET_PDEATHSIG` to `SIGKILL`
//! and marks every descriptor above 2 close-on-exec: mariadbd leaks
//! descriptors (its stdout pipe's siblings, `grastate.dat`, sockets) into
//! the SST script, and rsync must not hold them. The parent-death signal is
//! tied to the *thread* that forked, not the process: spawn children only
//! from runtime worker threads, never from `spawn_blocking`, whose threads
//! exit when idle and would kill the child with them.

use std::ffi::OsStr;
use std::io;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::io::Errno;
use rustix::process::{kill_process_group, Pid, Signal};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::task::JoinHandle;

mod path;
mod sandbox;
mod stderr;

pub use path::{find_in_path, is_executable};

use stderr::{drain_stderr, lock, Tail};

/// Lines of stderr kept for error messages.
pub const TAIL_LINES: usize = 20;
/// Pipe buffer asked for on a child's stdin/stdout (the kernel's default
/// maximum for unprivileged processes, `/proc/sys/fs/pipe-max-size`).
pub const PIPE_SIZE: usize = 1 << 20;
/// Longest stderr line kept (longer lines are cut).
pub const MAX_LINE: usize = 1024;
/// How long a child may take to exit after `SIGTERM` before `SIGKILL`.
pub const TERM_GRACE: Duration = Duration::from_millis(500);
/// How long to wait for stderr to reach end of file once the child exited.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// Where a child's stdout goes. Never inherited: our stdout is mariadbd's
/// protocol pipe.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// A pipe the caller reads ([`Supervised::take_stdout`]).
    Piped,
    /// Our stderr (the child's chatter lands in the log).
    Stderr,
    /// `/dev/null`.
    Null,
}

/// Errors starting or waiting for a child.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// The program could not be started.
    #[error("cannot start {program}")]
    Spawn {
        /// The program name.
        program: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Waiting for the program failed.
    #[error("waiting for {program} failed")]
    Wait {
        /// The program name.
        program: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// How a supervised child ended.
#[derive(Clone, Debug)]
pub struct Exit {
    /// The exit status.
    pub status: ExitStatus,
    /// The last [`TAIL_LINES`] lines of its stderr, newline-separated.
    pub stderr_tail: String,
}

/// A command to run supervised.
#[derive(Debug)]
pub struct ChildCommand {
    name: String,
    cmd: tokio::process::Command,
    stdin_piped: bool,
    stdout: Output,
}

impl ChildCommand {
    /// A command for `program`; `name` labels its log lines and errors.
    pub fn new(name: impl Into<String>, program: impl AsRef<OsStr>) -> Self {
        ChildCommand {
            name: name.into(),
            cmd: tokio::process::Command::new(program),
            stdin_piped: false,
            stdout: Output::Stderr,
        }
    }

    /// Adds one argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env(key, value);
        self
    }

    /// Gives the child a stdin pipe ([`Supervised::take_stdin`]) instead of
    /// `/dev/null`.
    pub fn stdin_piped(&mut self) -> &mut Self {
        self.stdin_piped = true;
        self
    }

    /// Chooses where stdout goes (default: our stderr).
    pub fn stdout(&mut self, out: Output) -> &mut Self {
        self.stdout = out;
        self
    }

    /// Starts the child. Call from an async task on a runtime worker, never
    /// from `spawn_blocking` (see the module notes on the parent-death signal).
    pub fn spawn(&mut self) -> Result<Supervised, ChildError> {
        let spawn_err = |source| ChildError::Spawn {
            program: self.name.clone(),
            source,
        };
        let stdout = match self.stdout {
            Output::Piped => Stdio::piped(),
            Output::Null => Stdio::null(),
            Output::Stderr => Stdio::from(
                io::stderr()
                    .as_fd()
                    .try_clone_to_owned()
                    .map_err(spawn_err)?,
            ),
        };
        let stdin = if self.stdin_piped {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        self.cmd
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        sandbox::install_pre_exec(&mut self.cmd);
        let mut child = self.cmd.spawn().map_err(spawn_err)?;
        let pgid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| spawn_err(io::Error::other("child has no pid")))?;
        let tail = Arc::new(Mutex::new(Tail::default()));
        let drain = child
            .stderr
            .take()
            .map(|err| tokio::spawn(drain_stderr(self.name.clone(), err, tail.clone())));
        tracing::debug!(program = %self.name, pid = pgid, "child started");
        Ok(Supervised {
            name: self.name.clone(),
            child,
            pgid,
            status: None,
            tail,
            drain,
        })
    }
}

/// A running child in its own process group. Dropping it without reaping
/// kills the whole group with `SIGKILL`.
#[derive(Debug)]
pub struct Supervised {
    name: String,
    child: Child,
    pgid: i32,
    status: Option<ExitStatus>,
    tail: Arc<Mutex<Tail>>,
    drain: Option<JoinHandle<()>>,
}

impl Supervised {
    /// The label given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's pid, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.pgid.unsigned_abs()
    }

    /// The stdin pipe, if [`ChildCommand::stdin_piped`] was set.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        let stdin = self.child.stdin.take()?;
        grow_pipe(&stdin, PIPE_SIZE);
        Some(stdin)
    }

    /// The stdout pipe, if [`Output::Piped`] was chosen.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        let stdout = self.child.stdout.take()?;
        grow_pipe(&stdout, PIPE_SIZE);
        Some(stdout)
    }

    /// The stderr tail collected so far.
    pub fn stderr_tail(&self) -> String {
        lock(&self.tail).joined()
    }

    /// Waits for the child to exit, then kills anything left in its group
    /// and collects the rest of its stderr. Cancel-safe.
    pub async fn wait(&mut self) -> Result<Exit, ChildError> {
        let status = match self.status {
            Some(s) => s,
            None => {
                let s = self.child.wait().await.map_err(|source| ChildError::Wait {
                    program: self.name.clone(),
                    source,
                })?;
                self.reaped(s)
            }
        };
        Ok(self.finish(status).await)
    }

    /// Stops the child: `SIGTERM` to the group, [`TERM_GRACE`] to exit,
    /// then `SIGKILL` to the group; reaps it and returns how it ended.
    pub async fn kill(&mut self) -> Result<Exit, ChildError> {
        if self.status.is_none() {
            signal_group(self.pgid, Signal::TERM);
            let waited = tokio::time::timeout(TERM_GRACE, self.child.wait()).await;
            let status = match waited {
                Ok(r) => r,
                Err(_elapsed) => {
                    tracing::debug!(program = %self.name, pid = self.pgid, "child ignored SIGTERM, sending SIGKILL");
                    signal_group(self.pgid, Signal::KILL);
                    self.child.wait().await
                }
            }
            .map_err(|source| ChildError::Wait {
                program: self.name.clone(),
                source,
            })?;
            self.reaped(status);
        }
        self.wait().await
    }

    /// Stops the child at once: `SIGKILL` to the group, no grace; reaps it.
    /// For a run that is over (mariadbd gone): rsync must not write one
    /// more byte into the data directory while it tidies up.
    pub async fn kill_now(&mut self) -> Result<Exit, ChildError> {
        if self.status.is_none() {
            signal_group(self.pgid, Signal::KILL);
            let status = self.child.wait().await.map_err(|source| ChildError::Wait {
                program: self.name.clone(),
                source,
            })?;
            self.reaped(status);
        }
        self.wait().await
    }

    /// Records the status; kills helpers the leader left in its group. The
    /// group id cannot be reused while any member lives, and the leader was
    /// reaped an instant ago, so this reaches only our own stragglers.
    fn reaped(&mut self, status: ExitStatus) -> ExitStatus {
        self.status = Some(status);
        signal_group(self.pgid, Signal::KILL);
        tracing::debug!(program = %self.name, pid = self.pgid, %status, "child exited");
        status
    }

    async fn finish(&mut self, status: ExitStatus) -> Exit {
        if let Some(drain) = self.drain.take() {
            if let Ok(Err(e)) = tokio::time::timeout(DRAIN_WAIT, drain).await {
                tracing::warn!(program = %self.name, error = %e, "stderr reader failed");
            }
        }
        Exit {
            status,
            stderr_tail: self.stderr_tail(),
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if self.status.is_none() {
            // The leader is not reaped, so its pid still names our group.
            signal_group(self.pgid, Signal::KILL);
        }
    }
}

/// Sends `sig` to process group `pgid`; a group already gone is fine.
fn signal_group(pgid: i32, sig: Signal) {
    // Never 0 (our own group), never 1 (`kill(-1)` reaches every process
    // we may signal): only a group we created.
    if pgid <= 1 {
        return;
    }
    let Some(group) = Pid::from_raw(pgid) else {
        return;
    };
    match kill_process_group(group, sig) {
        Ok(()) | Err(Errno::SRCH) => {}
        Err(e) => {
            tracing::warn!(pgid, sig = sig.as_raw(), error = %io::Error::from(e), "killpg failed")
        }
    }
}

/// Asks the kernel for a pipe buffer of `size` bytes on `pipe` (best
/// effort: the default 64 KiB pipe made the joiner's relay wake up every
/// 64 KiB).
fn grow_pipe(pipe: &impl AsFd, size: usize) {
    if let Err(e) = rustix::pipe::fcntl_setpipe_size(pipe, size) {
        tracing::debug!(error = %io::Error::from(e), "cannot enlarge a child pipe");
    }
}
