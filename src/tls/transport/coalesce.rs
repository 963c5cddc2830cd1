//! Write coalescing and read batching under the TLS layer.
//!
//! OpenSSL hands its transport one TLS record (at most 16 KiB) per write, so
//! a 256 KiB relay chunk costs sixteen `sendto` calls. [`Coalesce`] sits
//! between the TLS stream and TCP and gathers records until its buffer is
//! full or somebody flushes: the relay flushes before it waits for more
//! input, and OpenSSL flushes after every handshake flight and alert, so
//! nothing lingers in the buffer while the other side waits for it.
//!
//! Reading, OpenSSL (even with read-ahead) asks for about one record at a
//! time, which made one `recvfrom` per 16 KiB record. Once the handshake
//! has verified the peer ([`Coalesce::batch_reads`]), [`Coalesce`] receives
//! up to [`READ_BUFFER`] bytes at once and hands them out from there. Not
//! before: a connection still in its handshake is anybody's, and a flood
//! of them must not cost a receive buffer each (500 at once took the
//! joiner to 98 MiB when the buffer came with the connection).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes gathered before they are written out: the records of one
/// 256 KiB relay chunk (16 full records of 16 KiB plus at most 29 bytes of
/// header, nonce and tag each) leave in one send.
pub const COALESCE_BUFFER: usize = 256 * 1024 + 4 * 1024;

/// Bytes received at once and handed to OpenSSL from memory.
pub const READ_BUFFER: usize = 256 * 1024;

/// A transport that gathers small writes into one and serves small reads
/// from one large receive (see the module docs).
#[derive(Debug)]
pub struct Coalesce<S> {
    inner: S,
    buf: Vec<u8>,
    /// Bytes of `buf` already written to `inner`.
    written: usize,
    /// Received bytes; `rbuf[rpos..rcap]` are not handed out yet. Empty
    /// (reads go straight through) until [`Coalesce::batch_reads`].
    rbuf: Box<[u8]>,
    rpos: usize,
    rcap: usize,
}

impl<S> Coalesce<S> {
    /// Wraps a transport.
    pub fn new(inner: S) -> Self {
        Coalesce {
            inner,
            buf: Vec::with_capacity(COALESCE_BUFFER),
            written: 0,
            rbuf: Box::default(),
            rpos: 0,
            rcap: 0,
        }
    }

    /// The wrapped transport.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// From now on, small reads are served from one large receive: called
    /// once the handshake has verified the peer, so that only an
    /// authenticated connection (their number is capped) holds the buffer.
    pub fn batch_reads(&mut self) {
        if self.rbuf.is_empty() {
            self.rbuf = vec![0u8; READ_BUFFER].into_boxed_slice();
        }
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
        let this = &mut *self;
        if this.rpos == this.rcap {
            // Nothing held: before batching, or for a read as large as our
            // buffer, straight through; a smaller one refills the buffer.
            if this.rbuf.is_empty() || buf.remaining() >= this.rbuf.len() || buf.remaining() == 0 {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut rb = ReadBuf::new(&mut this.rbuf);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            this.rpos = 0;
            this.rcap = rb.filled().len();
        }
        // Zero bytes here (end of file) leave `buf` untouched, as the
        // transport below did.
        let n = buf.remaining().min(this.rcap - this.rpos);
        buf.put_slice(&this.rbuf[this.rpos..this.rpos + n]);
        this.rpos += n;
        Poll::Ready(Ok(()))
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

    /// A reader that counts the reads it is asked for.
    struct Counting<R> {
        inner: R,
        reads: usize,
    }

    impl<R: AsyncRead + Unpin> AsyncRead for Counting<R> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.reads += 1;
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    #[tokio::test]
    async fn small_reads_are_served_from_one_receive_and_end_of_file_stays() {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        a.write_all(&data).await.unwrap();
        a.shutdown().await.unwrap();
        let mut r = Coalesce::new(Counting { inner: b, reads: 0 });
        r.batch_reads();
        let mut got = Vec::new();
        // Record-sized reads, as OpenSSL makes them.
        let mut chunk = [0u8; 16_709];
        loop {
            let n = r.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(got, data);
        // 256 KiB, the rest, the end of file: not one read per chunk.
        assert_eq!(r.get_ref().reads, 3);
        // A read as large as the buffer bypasses it, and sees the end too.
        let mut big = vec![0u8; READ_BUFFER];
        assert_eq!(r.read(&mut big).await.unwrap(), 0);
    }
}
