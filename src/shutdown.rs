//! Why and when a run stops early: signals and a dead parent become one
//! [`CancellationToken`] plus the [`StopReason`] that decides the exit code.
//!
//! Everything that waits (accept loops, pumps, rsync supervision) selects on
//! the token; whoever cancels first records the reason, later reasons are
//! ignored.

use std::sync::{Arc, OnceLock};

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
}

impl StopReason {
    /// The exit code for this reason (3 for INT/TERM/QUIT, 32 otherwise).
    pub fn exit_code(self) -> ExitCode {
        match self {
            StopReason::Interrupted(_) => ExitCode::Interrupted,
            StopReason::HangUp(_) | StopReason::ParentDied(_) => ExitCode::BrokenPipe,
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
    }
}
