//! What a relay connection met, kept for the donor's final error: the first
//! failure's text and the exit code it deserves (a rejected certificate is
//! 13, a joiner that went away mid-transfer 255).

use std::sync::{Arc, Mutex};

use crate::exit::ExitCode;
use crate::relay::RelayError;

/// The first failure a relay connection met (text and the exit code it
/// deserves), kept so that the donor can report it instead of rsync's "did
/// not see server greeting" or "write error: Broken pipe".
#[derive(Clone, Debug, Default)]
pub(super) struct FirstFailure(Arc<Mutex<Option<(String, ExitCode)>>>);

impl FirstFailure {
    pub(super) fn record(&self, text: String, code: ExitCode) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert((text, code));
        }
    }

    /// The recorded failure, if any.
    pub(super) fn get(&self) -> Option<(String, ExitCode)> {
        self.0.lock().ok().and_then(|s| s.clone())
    }
}

/// True when a relay connection ended because the joiner's side went away
/// (TCP closed without `close_notify`, reset, broken pipe), as opposed to a
/// TLS alert the joiner sent.
pub(super) fn broke_mid_transfer(e: &RelayError) -> bool {
    use std::io::ErrorKind;
    match e {
        RelayError::Truncated { .. } => true,
        RelayError::Read { source, .. } | RelayError::Write { source, .. } => {
            matches!(
                source.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
            )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::Direction;
    use std::io::{Error, ErrorKind};

    #[test]
    fn a_cut_connection_is_not_an_authentication_failure() {
        let cut = RelayError::Truncated {
            direction: Direction::BToA,
            source: Error::from(ErrorKind::UnexpectedEof),
        };
        assert!(broke_mid_transfer(&cut));
        let reset = RelayError::Read {
            direction: Direction::BToA,
            source: Error::from(ErrorKind::ConnectionReset),
        };
        assert!(broke_mid_transfer(&reset));
        let alert = RelayError::Read {
            direction: Direction::BToA,
            source: Error::other("tlsv13 alert certificate required"),
        };
        assert!(!broke_mid_transfer(&alert));
    }

    #[test]
    fn the_first_failure_is_kept() {
        let f = FirstFailure::default();
        assert!(f.get().is_none());
        f.record("cut".into(), ExitCode::TransferFailed);
        f.record("later".into(), ExitCode::AuthFailed);
        assert_eq!(f.get(), Some(("cut".to_string(), ExitCode::TransferFailed)));
    }
}
