//! The byte pump between two streams: both directions at once, half-close
//! preserved, a close timeout after the first direction ends, byte counts.
//!
//! STUB: the API below is the contract; the body is being written.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::meter::Meter;

/// How a pump behaves.
#[derive(Clone, Debug)]
pub struct RelayOpts {
    /// Buffer size per direction (64 KiB or more).
    pub buffer_size: usize,
    /// How long the other direction may go on after one direction ended.
    pub close_timeout: Duration,
    /// Shared counters; `a → b` is counted as outbound, `b → a` as inbound.
    pub meter: Option<Arc<Meter>>,
}

/// What one pump moved.
#[derive(Clone, Debug, Default)]
pub struct Transfer {
    /// Bytes copied from `a` to `b`.
    pub a_to_b: u64,
    /// Bytes copied from `b` to `a`.
    pub b_to_a: u64,
    /// Wall time of the pump.
    pub elapsed: Duration,
}

/// Errors of the pump.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Placeholder while the module is written.
    #[error("relay not implemented")]
    Unimplemented,
}

/// Copies `a → b` and `b → a` until both directions ended.
pub async fn pump<A, B>(
    _a: A,
    _b: B,
    _opts: &RelayOpts,
    _token: &CancellationToken,
) -> Result<Transfer, RelayError>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    Err(RelayError::Unimplemented)
}

/// Placeholder (integrator stub).
pub const DEFAULT_BUFFER: usize = 256 * 1024;
