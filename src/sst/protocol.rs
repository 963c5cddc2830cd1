//! The stdout side of the contract (sst-protocol.md §3): the one writer of
//! protocol lines. The `<uuid>:<seqno> <domain>` [`State`] those lines carry
//! (and that `tables_flushed` and the marker hold) has its own module,
//! `protocol/state.rs`.
//!
//! mariadbd reads stdout with `fgets` and matches keywords, so every line is
//! written whole and flushed at once; nothing else may ever reach stdout.

use std::io::Write;

use crate::exit::ExitCode;

mod state;
pub use state::{State, StateError};

/// Writing a protocol line failed: mariadbd is gone (its end of the pipe closed).
#[derive(Debug, thiserror::Error)]
#[error("cannot write '{line}' to mariadbd on stdout")]
pub struct ProtocolError {
    /// The line that was being written.
    pub line: String,
    /// The write failure.
    #[source]
    pub source: std::io::Error,
}

impl ProtocolError {
    /// EPIPE, as the original's SIGPIPE trap.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::BrokenPipe
    }
}

/// The only writer of stdout: one whole line per call, flushed immediately.
#[derive(Debug)]
pub struct ProtocolWriter<W: Write> {
    out: W,
    progress: bool,
}

impl ProtocolWriter<std::io::Stdout> {
    /// Writes to the process's stdout.
    pub fn stdout(progress: bool) -> Self {
        ProtocolWriter::new(std::io::stdout(), progress)
    }
}

impl<W: Write> ProtocolWriter<W> {
    /// Wraps `out`; `progress` enables `total`/`complete` lines (`--progress 1`).
    pub fn new(out: W, progress: bool) -> Self {
        ProtocolWriter { out, progress }
    }

    /// Whether progress lines are emitted.
    pub fn progress_enabled(&self) -> bool {
        self.progress
    }

    /// Gives back the underlying writer (tests read what was written).
    pub fn into_inner(self) -> W {
        self.out
    }

    fn line(&mut self, line: String) -> Result<(), ProtocolError> {
        debug_assert!(!line.contains('\n'), "protocol line with a newline");
        let mut bytes = line.clone().into_bytes();
        bytes.push(b'\n');
        self.out
            .write_all(&bytes)
            .and_then(|()| self.out.flush())
            .map_err(|source| ProtocolError { line, source })
    }

    /// Joiner, first line: `ready <address>` (build it with
    /// [`crate::sst::address::SstAddress::ready_address`]).
    pub fn ready(&mut self, address: &str) -> Result<(), ProtocolError> {
        self.line(format!("ready {address}"))
    }

    /// Donor: ask the server for FLUSH TABLES WITH READ LOCK.
    pub fn flush_tables(&mut self) -> Result<(), ProtocolError> {
        self.line("flush tables".to_owned())
    }

    /// Donor: release the lock (harmless without a prior flush).
    pub fn continue_(&mut self) -> Result<(), ProtocolError> {
        self.line("continue".to_owned())
    }

    /// Donor, last line: `done <state>`.
    pub fn done(&mut self, state: &State) -> Result<(), ProtocolError> {
        self.line(format!("done {state}"))
    }

    /// Joiner, last line: the received `<uuid>:<seqno> <domain>`.
    pub fn state(&mut self, state: &State) -> Result<(), ProtocolError> {
        self.line(state.to_string())
    }

    /// Progress: a stage of `bytes` starts (only with `--progress 1`).
    pub fn total(&mut self, bytes: u64) -> Result<(), ProtocolError> {
        if !self.progress {
            return Ok(());
        }
        self.line(format!("total {bytes}"))
    }

    /// Progress: `bytes` done in the current stage (only with `--progress 1`).
    pub fn complete(&mut self, bytes: u64) -> Result<(), ProtocolError> {
        if !self.progress {
            return Ok(());
        }
        self.line(format!("complete {bytes}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
