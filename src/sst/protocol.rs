//! The stdout side of the contract (sst-protocol.md §3): the one writer of
//! protocol lines, and the `<uuid>:<seqno> <domain>` [`State`] that travels in
//! `tables_flushed`, the marker, `done` and the joiner's final line.
//!
//! mariadbd reads stdout with `fgets` and matches keywords, so every line is
//! written whole and flushed at once; nothing else may ever reach stdout.

use std::fmt;
use std::io::Write;
use std::str::FromStr;

use crate::exit::ExitCode;

/// A cluster position: `<uuid>:<seqno>` plus the optional gtid domain id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// The cluster state uuid, as written by the server (lowercase hex with dashes).
    pub uuid: String,
    /// The sequence number (never negative: mariadbd rejects negative ones).
    pub seqno: i64,
    /// `wsrep_gtid_domain_id`, when given.
    pub domain: Option<u32>,
}

/// Why a state string could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// No `:` between uuid and seqno.
    #[error("state '{text}' is not <uuid>:<seqno>")]
    Shape {
        /// The text given.
        text: String,
    },
    /// The uuid part is not 8-4-4-4-12 hex digits.
    #[error("state '{text}' has a malformed uuid")]
    Uuid {
        /// The text given.
        text: String,
    },
    /// The seqno part is not a decimal number.
    #[error("state '{text}' has a malformed seqno")]
    Seqno {
        /// The text given.
        text: String,
        /// The parse failure.
        #[source]
        source: std::num::ParseIntError,
    },
    /// The seqno is negative (undefined position), which mariadbd refuses.
    #[error("state '{text}' has a negative seqno")]
    NegativeSeqno {
        /// The text given.
        text: String,
    },
    /// The domain id is not an unsigned 32-bit number.
    #[error("state '{text}' has a malformed domain id")]
    Domain {
        /// The text given.
        text: String,
        /// The parse failure.
        #[source]
        source: std::num::ParseIntError,
    },
}

impl StateError {
    /// A state we cannot use is EINVAL unless the caller knows better.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::Invalid
    }
}

fn valid_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl State {
    /// Parses `--gtid` (`uuid:seqno`) with `--gtid-domain-id`.
    pub fn from_gtid(gtid: &str, domain: Option<u32>) -> Result<State, StateError> {
        let mut state: State = gtid.parse()?;
        if domain.is_some() {
            state.domain = domain;
        }
        Ok(state)
    }

    /// Parses the first line of a marker file or of `tables_flushed`.
    pub fn from_first_line(content: &str) -> Result<State, StateError> {
        content.lines().next().unwrap_or("").parse()
    }

    /// `uuid:seqno` without the domain (what `done` needs at minimum).
    pub fn gtid(&self) -> String {
        format!("{}:{}", self.uuid, self.seqno)
    }
}

impl FromStr for State {
    type Err = StateError;

    /// `<uuid>:<seqno>[ <domain>]`, surrounding whitespace ignored.
    fn from_str(text: &str) -> Result<State, StateError> {
        let trimmed = text.trim();
        let (gtid, domain) = match trimmed.split_once(char::is_whitespace) {
            Some((g, d)) => (g, Some(d.trim())),
            None => (trimmed, None),
        };
        let (uuid, seqno) = gtid.split_once(':').ok_or_else(|| StateError::Shape {
            text: text.to_owned(),
        })?;
        if !valid_uuid(uuid) {
            return Err(StateError::Uuid {
                text: text.to_owned(),
            });
        }
        let seqno: i64 = seqno.parse().map_err(|source| StateError::Seqno {
            text: text.to_owned(),
            source,
        })?;
        if seqno < 0 {
            return Err(StateError::NegativeSeqno {
                text: text.to_owned(),
            });
        }
        let domain = domain
            .map(|d| {
                d.parse::<u32>().map_err(|source| StateError::Domain {
                    text: text.to_owned(),
                    source,
                })
            })
            .transpose()?;
        Ok(State {
            uuid: uuid.to_owned(),
            seqno,
            domain,
        })
    }
}

impl fmt::Display for State {
    /// Exactly the protocol form: `uuid:seqno` or `uuid:seqno domain`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.uuid, self.seqno)?;
        if let Some(domain) = self.domain {
            write!(f, " {domain}")?;
        }
        Ok(())
    }
}

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
mod tests {
    use super::*;

    const UUID: &str = "dfb80123-e655-11f1-b862-272c1aae4adb";

    fn written(f: impl FnOnce(&mut ProtocolWriter<Vec<u8>>), progress: bool) -> String {
        let mut w = ProtocolWriter::new(Vec::new(), progress);
        f(&mut w);
        String::from_utf8(w.into_inner()).unwrap()
    }

    #[test]
    fn donor_sst_transcript() {
        let state: State = format!("{UUID}:6 0").parse().unwrap();
        let out = written(
            |w| {
                w.flush_tables().unwrap();
                w.total(100).unwrap();
                w.continue_().unwrap();
                w.done(&state).unwrap();
            },
            false,
        );
        assert_eq!(out, format!("flush tables\ncontinue\ndone {UUID}:6 0\n"));
    }

    #[test]
    fn joiner_transcript_with_progress() {
        let state: State = format!("{UUID}:6 0").parse().unwrap();
        let out = written(
            |w| {
                w.ready("127.0.0.1:4444/rsync_tunnel_sst").unwrap();
                w.total(2048).unwrap();
                w.complete(1024).unwrap();
                w.state(&state).unwrap();
            },
            true,
        );
        assert_eq!(
            out,
            format!(
                "ready 127.0.0.1:4444/rsync_tunnel_sst\ntotal 2048\ncomplete 1024\n{UUID}:6 0\n"
            )
        );
    }

    /// A writer that counts flushes, to prove each line is flushed on its own.
    struct Flushes {
        data: Vec<u8>,
        lines_at_flush: Vec<usize>,
    }

    impl Write for Flushes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.data.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.lines_at_flush
                .push(self.data.iter().filter(|&&b| b == b'\n').count());
            Ok(())
        }
    }

    #[test]
    fn every_line_is_flushed() {
        let mut w = ProtocolWriter::new(
            Flushes {
                data: Vec::new(),
                lines_at_flush: Vec::new(),
            },
            false,
        );
        w.flush_tables().unwrap();
        w.continue_().unwrap();
        assert_eq!(w.into_inner().lines_at_flush, vec![1, 2]);
    }

    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_is_epipe_naming_the_line() {
        let e = ProtocolWriter::new(Closed, false).continue_().unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::BrokenPipe);
        assert_eq!(
            e.to_string(),
            "cannot write 'continue' to mariadbd on stdout"
        );
    }

    #[test]
    fn state_round_trips_in_protocol_form() {
        for text in [
            format!("{UUID}:6 0"),
            format!("{UUID}:123456789"),
            format!("{UUID}:0 4294967295"),
        ] {
            assert_eq!(text.parse::<State>().unwrap().to_string(), text);
        }
        let s: State = format!("  {UUID}:6   7 \n").parse().unwrap();
        assert_eq!((s.seqno, s.domain), (6, Some(7)));
        assert_eq!(s.gtid(), format!("{UUID}:6"));
    }

    #[test]
    fn state_from_tables_flushed_and_marker_first_line() {
        let s = State::from_first_line(&format!("{UUID}:9 1\nsecret abc\nbypass\n")).unwrap();
        assert_eq!(s.to_string(), format!("{UUID}:9 1"));
    }

    #[test]
    fn state_from_gtid_args() {
        let s = State::from_gtid(&format!("{UUID}:6"), Some(0)).unwrap();
        assert_eq!(s.to_string(), format!("{UUID}:6 0"));
        let s = State::from_gtid(&format!("{UUID}:6"), None).unwrap();
        assert_eq!(s.to_string(), format!("{UUID}:6"));
    }

    #[test]
    fn unparsable_states_are_errors() {
        let cases = [
            ("", "is not <uuid>:<seqno>"),
            ("garbage", "is not <uuid>:<seqno>"),
            ("dfb80123:6 0", "malformed uuid"),
            ("zfb80123-e655-11f1-b862-272c1aae4adb:6", "malformed uuid"),
            ("dfb80123-e655-11f1-b862-272c1aae4adb:x", "malformed seqno"),
            ("dfb80123-e655-11f1-b862-272c1aae4adb:-1", "negative seqno"),
            (
                "dfb80123-e655-11f1-b862-272c1aae4adb:6 -1",
                "malformed domain id",
            ),
            (
                "dfb80123-e655-11f1-b862-272c1aae4adb:6 0 9",
                "malformed domain id",
            ),
        ];
        for (text, want) in cases {
            let e = text.parse::<State>().unwrap_err();
            assert!(e.to_string().contains(want), "{text:?}: {e}");
            assert_eq!(e.exit_code(), ExitCode::Invalid);
        }
    }
}
