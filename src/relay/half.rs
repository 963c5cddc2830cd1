//! One direction of the pump: a copy state machine over a fixed buffer,
//! and the rule that tells a truncated TLS stream from a clean end.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::pace::{Paced, Pacer};
use super::{Direction, RelayError};

/// OpenSSL 3's reason code for `SSL_R_UNEXPECTED_EOF_WHILE_READING`.
const SSL_R_UNEXPECTED_EOF_WHILE_READING: i32 = 294;

/// Whether a read error means "the peer closed without a clean shutdown".
pub(super) fn is_truncation(err: &io::Error) -> bool {
    if err.kind() == io::ErrorKind::UnexpectedEof {
        return true;
    }
    let Some(inner) = err.get_ref() else {
        return false;
    };
    let Some(ssl) = inner.downcast_ref::<openssl::ssl::Error>() else {
        return false;
    };
    ssl.ssl_error().is_some_and(|stack| {
        stack.errors().iter().any(|e| {
            e.reason_code() == SSL_R_UNEXPECTED_EOF_WHILE_READING
                || e.reason().is_some_and(|r| r.contains("unexpected eof"))
        })
    })
}

/// One direction's copy state machine: a fixed buffer, read greedily until
/// full or pending, written out in as few calls as possible.
pub(super) struct Half {
    direction: Direction,
    buf: Box<[u8]>,
    /// Start of the bytes not yet written.
    pos: usize,
    /// End of the bytes read so far.
    cap: usize,
    /// Bytes written so far.
    pub(super) amt: u64,
    read_done: bool,
    need_flush: bool,
    done: bool,
    /// The shared cap this direction's writes draw from, if any.
    pace: Option<Paced>,
}

impl Half {
    pub(super) fn new(direction: Direction, size: usize) -> Half {
        Half {
            direction,
            buf: vec![0u8; size].into_boxed_slice(),
            pos: 0,
            cap: 0,
            amt: 0,
            read_done: false,
            need_flush: false,
            done: false,
            pace: None,
        }
    }

    /// This direction's writes draw from `pacer` (a cap shared with other
    /// connections).
    pub(super) fn paced(mut self, pacer: Option<std::sync::Arc<Pacer>>) -> Half {
        self.pace = pacer.map(Paced::new);
        self
    }

    pub(super) fn read_error(&self, source: io::Error) -> RelayError {
        let direction = self.direction;
        if is_truncation(&source) {
            RelayError::Truncated { direction, source }
        } else {
            RelayError::Read { direction, source }
        }
    }

    /// Drives the copy; `Ready(Ok)` once the source ended and the
    /// destination's write half is shut down.
    pub(super) fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        reader: &mut R,
        writer: &mut W,
        count: &dyn Fn(u64),
    ) -> Poll<Result<(), RelayError>>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let direction = self.direction;
        loop {
            if self.done {
                return Poll::Ready(Ok(()));
            }
            // Fill the buffer as far as the source has data right now, so
            // writes are large (full TLS records, few syscalls).
            let mut read_pending = false;
            while !self.read_done && self.cap < self.buf.len() {
                let mut rb = ReadBuf::new(&mut self.buf[self.cap..]);
                match Pin::new(&mut *reader).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        if n == 0 {
                            self.read_done = true;
                        } else {
                            self.cap += n;
                        }
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(self.read_error(e))),
                    Poll::Pending => {
                        read_pending = true;
                        break;
                    }
                }
            }

            if self.pos < self.cap {
                let allowed = match self.pace.as_mut() {
                    None => self.cap - self.pos,
                    Some(pace) => match pace.poll_take(cx, self.cap - self.pos) {
                        Poll::Ready(n) => n,
                        // The source was polled above; the pacer's timer wakes us.
                        Poll::Pending => return Poll::Pending,
                    },
                };
                let written =
                    Pin::new(&mut *writer).poll_write(cx, &self.buf[self.pos..self.pos + allowed]);
                if let Some(pace) = &self.pace {
                    let taken = match &written {
                        Poll::Ready(Ok(n)) => *n,
                        _ => 0,
                    };
                    pace.refund(allowed - taken);
                }
                match written {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(RelayError::Write {
                            direction,
                            source: io::Error::new(
                                io::ErrorKind::WriteZero,
                                "destination accepted no bytes",
                            ),
                        }))
                    }
                    Poll::Ready(Ok(n)) => {
                        self.pos += n;
                        self.amt += n as u64;
                        self.need_flush = true;
                        count(n as u64);
                        if self.pos == self.cap {
                            self.pos = 0;
                            self.cap = 0;
                        }
                        continue;
                    }
                    Poll::Ready(Err(source)) => {
                        return Poll::Ready(Err(RelayError::Write { direction, source }))
                    }
                    // The source was polled above (or is done or the buffer
                    // is full), so both wake-ups are registered.
                    Poll::Pending => return Poll::Pending,
                }
            }

            // Nothing buffered: flush what was written before waiting.
            if self.need_flush {
                match Pin::new(&mut *writer).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.need_flush = false,
                    Poll::Ready(Err(source)) => {
                        return Poll::Ready(Err(RelayError::Write { direction, source }))
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }

            if self.read_done {
                return match Pin::new(&mut *writer).poll_shutdown(cx) {
                    Poll::Ready(Ok(())) => {
                        self.done = true;
                        Poll::Ready(Ok(()))
                    }
                    Poll::Ready(Err(source)) => {
                        Poll::Ready(Err(RelayError::Shutdown { direction, source }))
                    }
                    Poll::Pending => Poll::Pending,
                };
            }
            if read_pending {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexpected_eof_kind_is_a_truncation() {
        let e = io::Error::new(io::ErrorKind::UnexpectedEof, "eof");
        assert!(is_truncation(&e));
        assert!(!is_truncation(&io::Error::other("x")));
        let h = Half::new(Direction::BToA, 1024);
        let err = h.read_error(e);
        assert!(err.is_truncation());
        assert_eq!(err.direction(), Some(Direction::BToA));
        assert!(err.to_string().contains("b to a"), "{err}");
    }
}
