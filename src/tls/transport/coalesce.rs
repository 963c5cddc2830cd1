//! Write coalescing under the TLS layer.
//!
//! OpenSSL hands its transport one TLS record (at most 16 KiB) per write, so
//! a 256 KiB relay chunk costs sixteen `sendto` calls. [`Coalesce`] sits
//! between the TLS stream and TCP and gathers records until its buffer is
//! full or somebody flushes: the relay flushes before it waits for more
//! input, and OpenSSL flushes after every handshake flight and alert, so
//! nothing lingers in the buffer while the other side waits for it.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes gathered before they are written out: the records of one
/// 256 KiB relay chunk (16 full records of 16 KiB plus at most 29 bytes of
/// header, nonce and tag each) leave in one send.
pub const COALESCE_BUFFER: usize = 256 * 1024 + 4 * 1024;

/// A transport that gathers small writes into one (see the module docs).
#[derive(Debug)]
pub struct Coalesce<S> {
    inner: S,
    buf: Vec<u8>,
    /// Bytes of `buf` already written to `inner`.
    written: usize,
}

impl<S> Coalesce<S> {
    /// Wraps a transport.
    pub fn new(inner: S) -> Self {
        Coalesce {
            inner,
            buf: Vec::with_capacity(COALESCE_BUFFER),
            written: 0,
        }
    }

    /// The wrapped transport.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncWrite + Unpin> Coalesce<S> {
    /// Writes out everything gathered so far.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.buf.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Coalesce<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalesce<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.buf.len() + data.len() > COALESCE_BUFFER {
            ready!(this.poll_drain(cx))?;
        }
        if data.len() >= COALESCE_BUFFER {
            return Pin::new(&mut this.inner).poll_write(cx, data);
        }
        this.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn gathers_until_flush_and_loses_nothing() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let mut w = Coalesce::new(a);
        for i in 0..100u8 {
            w.write_all(&[i; 1000]).await.unwrap();
        }
        // Nothing reached the other side before the flush.
        let mut probe = [0u8; 1];
        let pending = std::future::poll_fn(|cx| {
            let mut rb = ReadBuf::new(&mut probe);
            Poll::Ready(Pin::new(&mut b).poll_read(cx, &mut rb).is_pending())
        })
        .await;
        assert!(pending, "bytes left before a flush");
        w.write_all(&vec![7u8; COALESCE_BUFFER + 5]).await.unwrap();
        w.shutdown().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), 100_000 + COALESCE_BUFFER + 5);
        assert!(got[..1000].iter().all(|&x| x == 0));
        assert!(got[99_000..100_000].iter().all(|&x| x == 99));
        assert!(got[100_000..].iter().all(|&x| x == 7));
    }
}
