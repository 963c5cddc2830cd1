//! Telling a TLS `close_notify` from a bare TCP close.
//!
//! rust-openssl's custom BIO does not answer OpenSSL's end-of-file query, so
//! when a TLS peer closes TCP without `close_notify`, OpenSSL 3 reports
//! `SSL_ERROR_SYSCALL` with an empty error stack and rust-openssl turns that
//! into `Ok(0)`: the same value a clean `close_notify` gives. A truncated
//! transfer would then look like a finished one. [`EofWatch`] sits under the
//! TLS layer and remembers whether TCP itself reached end of file;
//! [`CloseNotify`] sits over it and turns "TLS read 0 bytes because TCP
//! ended" into an [`io::ErrorKind::UnexpectedEof`] error, which
//! the relay's pump, one layer up, reports as a truncated transfer.
//!
//! A clean `close_notify` never makes OpenSSL read past the alert record, so
//! the flag is only set when the peer dropped TCP without it.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_openssl::SslStream;

/// A transport that remembers whether a read reached end of file. Put it
/// under the TLS stream: `SslStream::new(ssl, EofWatch::new(tcp))`.
#[derive(Debug)]
pub struct EofWatch<S> {
    inner: S,
    eof: bool,
}

impl<S> EofWatch<S> {
    /// Wraps a transport.
    pub fn new(inner: S) -> Self {
        EofWatch { inner, eof: false }
    }

    /// Whether a read with room in its buffer returned no bytes.
    pub fn saw_eof(&self) -> bool {
        self.eof
    }

    /// The wrapped transport.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped transport, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the transport.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for EofWatch<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let had_room = buf.remaining() > 0;
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if had_room && buf.filled().len() == before {
            self.eof = true;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for EofWatch<S> {
    /// Passes the write through without pushing it: OpenSSL hands its
    /// transport one record per write, and a push here would turn every
    /// 16 KiB record into its own `sendto` (the coalescing transport would
    /// gather nothing). OpenSSL flushes after each handshake flight and
    /// fatal alert, and [`CloseNotify`] pushes after each TLS write.
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Writes as much of `buf` to the TLS stream `inner` as it takes now, then
/// pushes it out: the records of this write may sit in a coalescing
/// transport ([`super::Coalesce`]), and a written byte must be a sent byte
/// for every caller. A TLS stream in partial-write mode (the joiner's, from
/// `mozilla_intermediate_v5`) takes one record per write, so the loop
/// hands it the rest of `buf` while it makes progress: one call's records
/// leave in one send either way. If the socket is full the bytes stay
/// buffered, the waker is registered, and the next write or flush sends
/// them; an error after some progress is reported by the next call.
fn write_and_push<W: AsyncWrite + Unpin>(
    mut inner: Pin<&mut W>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    let mut n = ready!(inner.as_mut().poll_write(cx, buf))?;
    while n > 0 && n < buf.len() {
        match inner.as_mut().poll_write(cx, &buf[n..]) {
            Poll::Ready(Ok(k)) if k > 0 => n += k,
            _ => break,
        }
    }
    if let Poll::Ready(Err(e)) = inner.poll_flush(cx) {
        return Poll::Ready(Err(e));
    }
    Poll::Ready(Ok(n))
}

/// A TLS stream whose end of file counts only with `close_notify`: a peer
/// that closed TCP without it makes the read fail with
/// [`io::ErrorKind::UnexpectedEof`]. Writes and shutdown pass through
/// (shutdown sends `close_notify`, then shuts the TCP write half).
#[derive(Debug)]
pub struct CloseNotify<S> {
    inner: SslStream<EofWatch<S>>,
}

impl<S> CloseNotify<S> {
    /// Wraps a TLS stream built over an [`EofWatch`].
    pub fn new(inner: SslStream<EofWatch<S>>) -> Self {
        CloseNotify { inner }
    }

    /// The TLS stream.
    pub fn get_ref(&self) -> &SslStream<EofWatch<S>> {
        &self.inner
    }

    /// The TLS stream, mutably.
    pub fn get_mut(&mut self) -> &mut SslStream<EofWatch<S>> {
        &mut self.inner
    }

    /// Unwraps the TLS stream.
    pub fn into_inner(self) -> SslStream<EofWatch<S>> {
        self.inner
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for CloseNotify<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let had_room = buf.remaining() > 0;
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if had_room && buf.filled().len() == before && self.inner.get_ref().saw_eof() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "tls peer closed tcp without close_notify",
            )));
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for CloseNotify<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        write_and_push(Pin::new(&mut self.inner), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::Coalesce;
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn eof_watch_leaves_records_to_the_coalescing_transport() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let mut w = EofWatch::new(Coalesce::new(a));
        // Two record-sized writes, as OpenSSL makes them under one TLS write.
        w.write_all(&[1u8; 16_406]).await.unwrap();
        w.write_all(&[2u8; 16_406]).await.unwrap();
        let mut probe = [0u8; 1];
        let pending = std::future::poll_fn(|cx| {
            let mut rb = ReadBuf::new(&mut probe);
            Poll::Ready(Pin::new(&mut b).poll_read(cx, &mut rb).is_pending())
        })
        .await;
        assert!(pending, "a record left before the flush");
        w.flush().await.unwrap();
        let mut got = vec![0u8; 2 * 16_406];
        b.read_exact(&mut got).await.unwrap();
        assert!(got[..16_406].iter().all(|&x| x == 1));
        assert!(got[16_406..].iter().all(|&x| x == 2));
    }
}
