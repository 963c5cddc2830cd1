//! The one line every tunnelled connection gets when it opens and the one
//! it gets when it closes, on either side (ghostunnel's
//! `logConnectionMessage`): the peer certificate's subject, the protocol and
//! cipher, then the bytes each way or the cause, and the time it lasted.
//! Both sides pump with the TLS stream as `b`, so `b → a` is what came in
//! through TLS and `a → b` what went out.

use std::time::Duration;

use tracing::{info, warn};

use super::Transfer;
use crate::exit::chain;
use crate::tls::PeerInfo;

/// A verified connection starts carrying data.
pub fn opened(info: &PeerInfo) {
    info!(subject = %info.subject, protocol = %info.protocol, cipher = %info.cipher, "connection opened");
}

/// A connection that [`opened`] ended, after `elapsed`, with `outcome`.
pub fn closed<E>(info: &PeerInfo, elapsed: Duration, outcome: Result<&Transfer, &E>)
where
    E: std::error::Error + 'static,
{
    let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok(t) => info!(
            subject = %info.subject, protocol = %info.protocol, cipher = %info.cipher,
            bytes_in = t.b_to_a, bytes_out = t.a_to_b, elapsed_ms, "connection closed"
        ),
        Err(e) => warn!(
            subject = %info.subject, protocol = %info.protocol, cipher = %info.cipher,
            elapsed_ms, error = %chain(e), "connection failed"
        ),
    }
}
