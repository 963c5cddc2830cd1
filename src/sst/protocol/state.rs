//! The cluster position that travels in the protocol (sst-protocol.md §3):
//! `<uuid>:<seqno> <domain>` in `tables_flushed`, the marker, `done` and the
//! joiner's final line. [`State`] parses and checks it, and prints it back
//! in exactly that form.

use std::fmt;
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const UUID: &str = "dfb80123-e655-11f1-b862-272c1aae4adb";

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
