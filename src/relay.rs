//! The byte pump between two streams: both directions at once, half-close
//! preserved, a close timeout after the first direction ends, byte counts.
//!
//! One task drives two copy state machines from a single `poll_fn`, so each
//! direction goes on by itself after the other one ended: when `a` reaches
//! end of file, the write half of `b` is shut down (for a TLS stream that is
//! a `close_notify` followed by a TCP `FIN`) and `b → a` keeps flowing. This
//! is why the pump is not a `select!` over two copies, which would drop the
//! second direction the moment the first one finished.
//!
//! A TLS peer that closes TCP without `close_notify` is a truncation, not an
//! end of stream: it surfaces as [`RelayError::Truncated`], which callers can
//! tell apart from other I/O errors to log it precisely. With rust-openssl
//! this needs the TLS stream built over an [`EofWatch`](crate::tls::EofWatch)
//! and wrapped in a [`CloseNotify`](crate::tls::CloseNotify) (see
//! [`crate::tls::transport`] for why).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

use crate::meter::Meter;

mod half;
pub mod log;
pub mod pace;

use half::Half;

/// Default buffer per direction: large enough that one read from a fast
/// socket fills many 16 KiB TLS records and one write hands them all over.
pub const DEFAULT_BUFFER: usize = 256 * 1024;
/// Smallest buffer the pump accepts; smaller requests are rounded up (a TLS
/// record carries up to 16 KiB of payload, so less would split records).
pub const MIN_BUFFER: usize = 16 * 1024;
/// Default time the second direction may go on after the first one ended.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// How a pump behaves.
#[derive(Clone, Debug)]
pub struct RelayOpts {
    /// Buffer size per direction (64 KiB or more).
    pub buffer_size: usize,
    /// How long the other direction may go on after one direction ended.
    pub close_timeout: Duration,
    /// Shared counters; `a → b` is counted as outbound, `b → a` as inbound.
    pub meter: Option<Arc<Meter>>,
    /// A bandwidth cap on `a → b`, shared with every pump that holds it.
    pub pace: Option<Arc<pace::Pacer>>,
}

impl Default for RelayOpts {
    fn default() -> Self {
        RelayOpts {
            buffer_size: DEFAULT_BUFFER,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            meter: None,
            pace: None,
        }
    }
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

/// One direction of the pump.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Reading `a`, writing `b` (outbound in the meter).
    AToB,
    /// Reading `b`, writing `a` (inbound in the meter).
    BToA,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::AToB => "a to b",
            Direction::BToA => "b to a",
        })
    }
}

/// Errors of the pump.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading the source of `direction` failed.
    #[error("relay {direction}: read failed")]
    Read {
        /// The direction whose source failed.
        direction: Direction,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The source of `direction` ended without a clean close: a TLS peer
    /// closed TCP without sending `close_notify`, or the stream reported an
    /// unexpected end of file. Never a successful end.
    #[error("relay {direction}: peer closed the connection without a clean shutdown (truncated)")]
    Truncated {
        /// The direction whose source was truncated.
        direction: Direction,
        /// The I/O error as the stream reported it.
        #[source]
        source: io::Error,
    },
    /// Writing the destination of `direction` failed.
    #[error("relay {direction}: write failed")]
    Write {
        /// The direction whose destination failed.
        direction: Direction,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Shutting down the write half of the destination of `direction` failed.
    #[error("relay {direction}: shutdown of the write half failed")]
    Shutdown {
        /// The direction whose destination failed to shut down.
        direction: Direction,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// `direction` was still open `timeout` after the other direction ended.
    #[error("relay {direction}: still open {timeout:?} after the other direction ended")]
    CloseTimeout {
        /// The direction that did not finish.
        direction: Direction,
        /// The close timeout that elapsed.
        timeout: Duration,
    },
    /// The cancellation token fired.
    #[error("relay cancelled")]
    Cancelled,
}

impl RelayError {
    /// The direction the error happened in (`None` for cancellation).
    pub fn direction(&self) -> Option<Direction> {
        match self {
            RelayError::Read { direction, .. }
            | RelayError::Truncated { direction, .. }
            | RelayError::Write { direction, .. }
            | RelayError::Shutdown { direction, .. }
            | RelayError::CloseTimeout { direction, .. } => Some(*direction),
            RelayError::Cancelled => None,
        }
    }

    /// Whether this is a truncation (TLS peer closed without `close_notify`).
    pub fn is_truncation(&self) -> bool {
        matches!(self, RelayError::Truncated { .. })
    }
}

/// Copies `a → b` and `b → a` until both directions ended.
///
/// When a source reaches end of file, the other side's write half is shut
/// down and the remaining direction goes on; it then has
/// `opts.close_timeout` to finish. Cancellation ends the pump at once with
/// [`RelayError::Cancelled`]; dropping the streams closes them.
pub async fn pump<A, B>(
    mut a: A,
    mut b: B,
    opts: &RelayOpts,
    token: &CancellationToken,
) -> Result<Transfer, RelayError>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    let size = opts.buffer_size.max(MIN_BUFFER);
    let mut ab = Half::new(Direction::AToB, size).paced(opts.pace.clone());
    let mut ba = Half::new(Direction::BToA, size);
    let meter = opts.meter.as_deref();
    let count_out = |n: u64| {
        if let Some(m) = meter {
            m.add_outbound(n);
        }
    };
    let count_in = |n: u64| {
        if let Some(m) = meter {
            m.add_inbound(n);
        }
    };
    let cancelled = token.cancelled();
    tokio::pin!(cancelled);
    let mut close_timer: Option<Pin<Box<Sleep>>> = None;

    let result = std::future::poll_fn(|cx| {
        if cancelled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(RelayError::Cancelled));
        }
        let ab_done = match ab.poll_copy(cx, &mut a, &mut b, &count_out) {
            Poll::Ready(Ok(())) => true,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => false,
        };
        let ba_done = match ba.poll_copy(cx, &mut b, &mut a, &count_in) {
            Poll::Ready(Ok(())) => true,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => false,
        };
        let open = match (ab_done, ba_done) {
            (true, true) => return Poll::Ready(Ok(())),
            (false, false) => return Poll::Pending,
            (true, false) => Direction::BToA,
            (false, true) => Direction::AToB,
        };
        let timer =
            close_timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(opts.close_timeout)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(RelayError::CloseTimeout {
                direction: open,
                timeout: opts.close_timeout,
            })),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;

    let transfer = Transfer {
        a_to_b: ab.amt,
        b_to_a: ba.amt,
        elapsed: start.elapsed(),
    };
    match &result {
        Ok(()) => tracing::debug!(
            a_to_b = transfer.a_to_b,
            b_to_a = transfer.b_to_a,
            elapsed_ms = transfer.elapsed.as_millis() as u64,
            "relay finished"
        ),
        Err(e) => tracing::debug!(
            a_to_b = transfer.a_to_b,
            b_to_a = transfer.b_to_a,
            elapsed_ms = transfer.elapsed.as_millis() as u64,
            error = %e,
            "relay ended with an error"
        ),
    }
    result.map(|()| transfer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io;
    use std::pin::Pin;
    use std::task::Context;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};

    #[tokio::test]
    async fn small_buffers_are_rounded_up_and_bytes_flow() {
        let (mut x, a) = tokio::io::duplex(64);
        let (b, mut y) = tokio::io::duplex(64);
        let opts = RelayOpts {
            buffer_size: 1,
            ..RelayOpts::default()
        };
        let token = CancellationToken::new();
        let pump = tokio::spawn(async move { pump(a, b, &opts, &token).await });
        x.write_all(b"hello").await.unwrap();
        x.shutdown().await.unwrap();
        let mut got = Vec::new();
        y.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello");
        y.shutdown().await.unwrap();
        let mut rest = Vec::new();
        x.read_to_end(&mut rest).await.unwrap();
        let t = pump.await.unwrap().unwrap();
        assert_eq!((t.a_to_b, t.b_to_a), (5, 0));
    }

    #[tokio::test]
    async fn write_zero_is_an_error() {
        struct Zero;
        impl AsyncWrite for Zero {
            fn poll_write(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                _: &[u8],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(Ok(0))
            }
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }
        impl AsyncRead for Zero {
            fn poll_read(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                _: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                Poll::Pending
            }
        }
        let (mut x, a) = tokio::io::duplex(64);
        x.write_all(b"data").await.unwrap();
        let err = pump(a, Zero, &RelayOpts::default(), &CancellationToken::new())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                RelayError::Write {
                    direction: Direction::AToB,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
