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

use std::sync::{Arc, OnceLock};

use std::os::fd::{AsFd, OwnedFd};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::signal::unix::{signal, SignalKind};
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
    /// error condition on our writing end, so this waits on epoll for it
    /// without writing anything. Stdout that cannot be watched (a regular
    /// file, `/dev/null`) is not watched. Must be called inside a tokio
    /// runtime.
    pub fn watch_stdout_reader(&self) {
        let fd = match std::io::stdout().as_fd().try_clone_to_owned() {
            Ok(fd) => fd,
            Err(e) => {
                tracing::debug!(error = %e, "cannot duplicate stdout, not watching its reader");
                return;
            }
        };
        // epoll refuses regular files and /dev/null (EPERM): nothing to watch.
        let Ok(watched) = watch_errors(fd) else {
            tracing::debug!("stdout cannot be polled, not watching its reader");
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = this.token.cancelled() => return,
                    ready = watched.ready(Interest::ERROR) => match ready {
                        Ok(guard) if guard.ready().is_error() => break,
                        Ok(mut guard) => guard.clear_ready(),
                        Err(_) => return,
                    },
                }
            }
            tracing::error!("{}", StopReason::StdoutClosed);
            this.stop(StopReason::StdoutClosed);
        });
    }
}

/// Resolves when process `pid` has exited, as the kernel reports it through
/// a pidfd (Linux 5.3+): no polling delay. `None` when no pidfd can be had
/// (an older kernel, or `pid` already gone); callers then poll `/proc`.
/// Must be called inside a tokio runtime.
pub fn process_exit(pid: u32) -> Option<impl std::future::Future<Output = ()>> {
    let fd = pidfd_open(pid).ok()?;
    let watched = match register(fd, Interest::READABLE) {
        Ok(w) => w,
        Err(e) => {
            tracing::debug!(pid, error = %e, "cannot poll the pidfd");
            return None;
        }
    };
    Some(async move {
        // A pidfd becomes readable once the process exits; an error from
        // the reactor means we cannot tell, which the caller's poll covers.
        if watched.readable().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}

#[allow(unsafe_code)]
fn pidfd_open(pid: u32) -> std::io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    let pid = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
    // SAFETY: pidfd_open takes a pid and flags and touches no memory of ours.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, libc::PIDFD_NONBLOCK) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let raw = std::os::fd::RawFd::try_from(r).map_err(std::io::Error::other)?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Registers `fd` with the runtime's reactor for `interest`.
#[allow(unsafe_code)]
fn register(fd: OwnedFd, interest: Interest) -> std::io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the descriptor is owned and moved into the AsyncFd, so it is
    // neither closed nor replaced while registered (tokio's I/O-safety
    // requirement); it is deregistered and closed when the AsyncFd drops.
    let registered = unsafe { AsyncFd::register_with_interest(fd, interest) };
    registered.map_err(std::io::Error::from)
}

/// Registers `fd` with the runtime's reactor for error readiness only.
fn watch_errors(fd: OwnedFd) -> std::io::Result<AsyncFd<OwnedFd>> {
    register(fd, Interest::ERROR)
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
        // The watcher reads fd 1; test the same mechanism on a pipe of our own.
        let (writer, reader) = tokio::net::unix::pipe::pipe()?;
        let watched = watch_errors(writer.into_blocking_fd()?)?;
        let quiet = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            watched.ready(Interest::ERROR),
        )
        .await;
        assert!(quiet.is_err(), "error reported while the reader is open");
        drop(reader);
        let guard = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            watched.ready(Interest::ERROR),
        )
        .await
        .map_err(std::io::Error::other)??;
        assert!(guard.ready().is_error());
        Ok(())
    }
}
