//! Why and when a run stops early: signals and a dead parent become one
//! [`CancellationToken`] plus the [`StopReason`] that decides the exit code.
//!
//! Everything that waits (accept loops, pumps, rsync supervision) selects on
//! the token; whoever cancels first records the reason, later reasons are
//! ignored.
//!
//! mariadbd reads the method's stdout until end of file, so a stdout pipe
//! whose reader is gone means mariadbd is gone: [`Shutdown::watch_stdout_reader`]
//! turns that into a stop. It is the donor's only way to notice a dead
//! server mid-transfer (mariadbd passes no `--parent` to the donor, and the
//! donor writes nothing to stdout while rsync runs).

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::{pidfd_open, Pid, PidfdFlags};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::exit::ExitCode;

/// Why a run was stopped from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT, SIGTERM or SIGQUIT (the number is kept for the log).
    Interrupted(i32),
    /// SIGHUP or SIGPIPE.
    HangUp(i32),
    /// The watched parent process (mariadbd) is gone.
    ParentDied(u32),
    /// Nobody reads our stdout any more: mariadbd is gone.
    StdoutClosed,
}

impl StopReason {
    /// The exit code for this reason (3 for INT/TERM/QUIT, 32 otherwise).
    pub fn exit_code(self) -> ExitCode {
        match self {
            StopReason::Interrupted(_) => ExitCode::Interrupted,
            StopReason::HangUp(_) | StopReason::ParentDied(_) | StopReason::StdoutClosed => {
                ExitCode::BrokenPipe
            }
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Interrupted(n) | StopReason::HangUp(n) => {
                write!(f, "interrupted by {}", signal_name(*n))
            }
            StopReason::ParentDied(pid) => {
                write!(
                    f,
                    "parent mysqld process (PID: {pid}) terminated unexpectedly"
                )
            }
            StopReason::StdoutClosed => write!(
                f,
                "the reader of stdout (mysqld) is gone: the server terminated unexpectedly"
            ),
        }
    }
}

fn signal_name(n: i32) -> &'static str {
    match n {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGPIPE => "SIGPIPE",
        _ => "a signal",
    }
}

/// The shared stop switch of one run.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
}

impl Shutdown {
    /// A switch that nothing has flipped yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The token every task watches.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Stops the run for `reason` (the first reason given wins).
    pub fn stop(&self, reason: StopReason) {
        let _first = self.reason.set(reason);
        self.token.cancel();
    }

    /// Why the run was stopped, if it was stopped from outside.
    pub fn reason(&self) -> Option<StopReason> {
        self.reason.get().copied()
    }

    /// Routes SIGINT/SIGTERM/SIGQUIT/SIGHUP/SIGPIPE into this switch.
    /// Must be called inside a tokio runtime.
    pub fn listen_for_signals(&self) -> std::io::Result<()> {
        let kinds = [
            (SignalKind::interrupt(), libc::SIGINT),
            (SignalKind::terminate(), libc::SIGTERM),
            (SignalKind::quit(), libc::SIGQUIT),
            (SignalKind::hangup(), libc::SIGHUP),
            (SignalKind::pipe(), libc::SIGPIPE),
        ];
        for (kind, number) in kinds {
            let mut stream = signal(kind)?;
            let this = self.clone();
            tokio::spawn(async move {
                if stream.recv().await.is_some() {
                    let reason = if number == libc::SIGHUP || number == libc::SIGPIPE {
                        StopReason::HangUp(number)
                    } else {
                        StopReason::Interrupted(number)
                    };
                    tracing::warn!(signal = signal_name(number), "stopping");
                    this.stop(reason);
                }
            });
        }
        Ok(())
    }

    /// Stops the run ([`StopReason::StdoutClosed`]) when stdout is a pipe
    /// or socket whose reading end is closed. The kernel reports that as an
    /// error (or hang-up) condition on our writing end, so a thread waits in
    /// poll(2) for it without writing anything. Stdout that cannot report it
    /// (a regular file, `/dev/null`, a terminal) is not watched. Must be
    /// called inside a tokio runtime.
    pub fn watch_stdout_reader(&self) {
        let fd = match std::io::stdout().as_fd().try_clone_to_owned() {
            Ok(fd) => fd,
            Err(e) => {
                tracing::debug!(error = %e, "cannot duplicate stdout, not watching its reader");
                return;
            }
        };
        if !reports_a_closed_reader(&fd) {
            tracing::debug!("stdout is not a pipe or socket, not watching its reader");
            return;
        }
        let closed = match PollWait::spawn(fd, PollFlags::empty()) {
            Ok((wait, _thread)) => wait,
            Err(e) => {
                tracing::debug!(error = %e, "cannot watch stdout's reader");
                return;
            }
        };
        let this = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = this.token.cancelled() => return,
                // With no event asked for, poll returns only for an error
                // or hang-up; a failure to poll means we cannot tell.
                polled = closed.wait() => if polled.is_err() {
                    return;
                },
            }
            tracing::error!("{}", StopReason::StdoutClosed);
            this.stop(StopReason::StdoutClosed);
        });
    }
}

/// Whether `fd` can report that its reader went away: a pipe (error once
/// no reader is left) or a socket (hang-up, error).
fn reports_a_closed_reader(fd: &OwnedFd) -> bool {
    let Ok(clone) = fd.try_clone() else {
        return false;
    };
    std::fs::File::from(clone)
        .metadata()
        .is_ok_and(|m| m.file_type().is_fifo() || m.file_type().is_socket())
}

/// Resolves when process `pid` has exited, as the kernel reports it through
/// a pidfd (Linux 5.3+): no polling delay. `None` when no pidfd can be had
/// (an older kernel, or `pid` already gone); callers then poll `/proc`.
pub fn process_exit(pid: u32) -> Option<impl std::future::Future<Output = ()>> {
    let pid = Pid::from_raw(i32::try_from(pid).ok().filter(|&p| p > 0)?)?;
    let fd = pidfd_open(pid, PidfdFlags::empty()).ok()?;
    let exited = match PollWait::spawn(fd, PollFlags::IN) {
        Ok((wait, _thread)) => wait,
        Err(e) => {
            tracing::debug!(pid = pid.as_raw_pid(), error = %e, "cannot poll the pidfd");
            return None;
        }
    };
    Some(async move {
        // A pidfd becomes readable once the process exits; a failure to
        // poll means we cannot tell, which the caller's poll covers.
        if exited.wait().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}

/// One poll(2) on one descriptor, run on a thread of its own so that the
/// runtime's reactor never sees the descriptor. Registering a raw
/// descriptor with tokio is `unsafe` (`AsyncFd::register_with_interest`;
/// the safe constructors are deprecated as unsound since tokio 1.51.6 and
/// 1.53.3, <https://github.com/tokio-rs/tokio/pull/8587>), and tokio has no
/// pidfd of its own for a process that is not our child. A thread keeps the
/// crate's `unsafe` to the child's `pre_exec`, at the price of one parked
/// thread per watch (one per run: the parent's pidfd or stdout's reader).
///
/// Dropping the `PollWait` ends the thread: it also polls its end of a
/// socket pair whose other end the `PollWait` holds.
#[derive(Debug)]
struct PollWait {
    done: oneshot::Receiver<std::io::Result<PollFlags>>,
    _cancel: UnixStream,
}

impl PollWait {
    /// Starts polling `fd` for `events` (error and hang-up are always
    /// reported). Returns the wait and the thread, which ends once the
    /// descriptor reports an event or the wait is dropped.
    fn spawn(fd: OwnedFd, events: PollFlags) -> std::io::Result<(Self, JoinHandle<()>)> {
        let (cancel, cancelled) = UnixStream::pair()?;
        let (report, done) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("sst-poll".into())
            .spawn(move || {
                let polled = poll_until(&fd, events, &cancelled);
                if let Some(result) = polled {
                    // The waiter may be gone meanwhile: nothing to tell then.
                    let _unheard = report.send(result);
                }
            })?;
        let wait = PollWait {
            done,
            _cancel: cancel,
        };
        Ok((wait, thread))
    }

    /// The events `fd` reported.
    async fn wait(self) -> std::io::Result<PollFlags> {
        let PollWait { done, _cancel } = self;
        done.await
            .unwrap_or_else(|_| Err(std::io::Error::other("the poll thread ended")))
    }
}

/// Polls `fd` until it reports an event (`Some`) or `cancelled` is readable
/// or hung up (`None`).
fn poll_until(
    fd: &OwnedFd,
    events: PollFlags,
    cancelled: &UnixStream,
) -> Option<std::io::Result<PollFlags>> {
    loop {
        let mut fds = [
            PollFd::new(fd, events),
            PollFd::new(cancelled, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) => {}
            // A signal handler ran (tokio's): poll again.
            Err(Errno::INTR) => continue,
            Err(e) => return Some(Err(e.into())),
        }
        if !fds[1].revents().is_empty() {
            return None;
        }
        let got = fds[0].revents();
        if !got.is_empty() {
            return Some(Ok(got));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reason_wins_and_maps_to_exit_codes() {
        let s = Shutdown::new();
        assert!(s.reason().is_none());
        s.stop(StopReason::Interrupted(libc::SIGTERM));
        s.stop(StopReason::ParentDied(7));
        assert!(s.token().is_cancelled());
        assert_eq!(s.reason(), Some(StopReason::Interrupted(libc::SIGTERM)));
        assert_eq!(StopReason::Interrupted(2).exit_code().code(), 3);
        assert_eq!(StopReason::HangUp(1).exit_code().code(), 32);
        assert_eq!(StopReason::ParentDied(1).exit_code().code(), 32);
        assert_eq!(StopReason::StdoutClosed.exit_code().code(), 32);
    }

    #[tokio::test]
    async fn a_process_exit_is_seen_through_its_pidfd() -> std::io::Result<()> {
        let mut child = std::process::Command::new("sleep").arg("30").spawn()?;
        let exited = process_exit(child.id()).ok_or_else(|| std::io::Error::other("no pidfd"))?;
        tokio::pin!(exited);
        let early = tokio::time::timeout(std::time::Duration::from_millis(100), &mut exited).await;
        assert!(early.is_err(), "exit reported while the process lives");
        child.kill()?;
        tokio::time::timeout(std::time::Duration::from_secs(5), exited)
            .await
            .map_err(std::io::Error::other)?;
        child.wait()?;
        Ok(())
    }

    #[tokio::test]
    async fn a_closed_reader_is_noticed_only_on_its_pipe() -> std::io::Result<()> {
        // The watcher polls fd 1; test the same mechanism on a pipe of our own.
        let (writer, reader) = tokio::net::unix::pipe::pipe()?;
        let writer = writer.into_blocking_fd()?;
        assert!(reports_a_closed_reader(&writer));
        let (closed, thread) = PollWait::spawn(writer, PollFlags::empty())?;
        let closed = closed.wait();
        tokio::pin!(closed);
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(100), &mut closed).await;
        assert!(quiet.is_err(), "reported while the reader is open");
        drop(reader);
        let flags = tokio::time::timeout(std::time::Duration::from_secs(5), closed)
            .await
            .map_err(std::io::Error::other)??;
        assert!(flags.contains(PollFlags::ERR), "{flags:?}");
        assert!(thread.join().is_ok());
        Ok(())
    }

    /// Dropping a wait ends its thread, although the descriptor never
    /// reports anything: no thread outlives its watcher.
    #[tokio::test]
    async fn dropping_a_wait_ends_its_thread() -> std::io::Result<()> {
        let (writer, _reader) = tokio::net::unix::pipe::pipe()?;
        let (wait, thread) = PollWait::spawn(writer.into_blocking_fd()?, PollFlags::empty())?;
        drop(wait);
        let joined = tokio::task::spawn_blocking(move || thread.join().is_ok());
        let joined = tokio::time::timeout(std::time::Duration::from_secs(5), joined)
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)?;
        assert!(joined, "the poll thread panicked");
        Ok(())
    }

    #[test]
    fn only_pipes_and_sockets_are_watched() -> std::io::Result<()> {
        let file = OwnedFd::from(tempfile::tempfile()?);
        assert!(!reports_a_closed_reader(&file));
        let null = OwnedFd::from(std::fs::File::open("/dev/null")?);
        assert!(!reports_a_closed_reader(&null));
        let (socket, _peer) = UnixStream::pair()?;
        assert!(reports_a_closed_reader(&OwnedFd::from(socket)));
        Ok(())
    }
}
