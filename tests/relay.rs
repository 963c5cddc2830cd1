//! `relay::pump` over in-memory duplex pipes, loopback TCP and loopback TLS:
//! bytes arrive intact both ways, half-close is preserved in both
//! directions, a peer that never closes hits the close timeout, cancellation
//! ends the pump, and a TLS peer that drops TCP without `close_notify` is
//! reported as a truncation.
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use sst_tunnel::meter::Meter;
use sst_tunnel::relay::{pump, Direction, RelayError, RelayOpts, Transfer};
use sst_tunnel::tls::{CloseNotify, EofWatch};
use testkit::bytes::pattern;
use testkit::poll::within;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Bound of every await here.
const STEP: Duration = Duration::from_secs(20);

/// FNV-1a, to report a mismatch compactly.
fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn opts() -> RelayOpts {
    RelayOpts {
        buffer_size: 64 * 1024,
        close_timeout: Duration::from_secs(5),
        meter: None,
        pace: None,
    }
}

/// Sends `data` into `w` then shuts its write half down; reads `r` to end.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(s: S, data: Vec<u8>) -> Vec<u8> {
    let (mut r, mut w) = tokio::io::split(s);
    let writer = async move {
        w.write_all(&data).await.expect("write");
        w.shutdown().await.expect("shutdown");
    };
    let reader = async move {
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.expect("read");
        got
    };
    let ((), got) = tokio::join!(writer, reader);
    got
}

async fn both_ways<X, A, B, Y>(x: X, a: A, b: B, y: Y)
where
    X: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    A: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    B: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    Y: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let meter = Arc::new(Meter::new());
    let o = RelayOpts {
        meter: Some(meter.clone()),
        ..opts()
    };
    let pump = tokio::spawn(async move { pump(a, b, &o, &CancellationToken::new()).await });
    let down = pattern(3 * 1024 * 1024 + 17, 1);
    let up = pattern(2 * 1024 * 1024 + 5, 2);
    let (got_at_y, got_at_x) = within(STEP, async {
        tokio::join!(exchange(y, up.clone()), exchange(x, down.clone()))
    })
    .await;
    assert_eq!(got_at_y.len(), down.len());
    assert_eq!(checksum(&got_at_y), checksum(&down), "x to y corrupted");
    assert_eq!(got_at_x.len(), up.len());
    assert_eq!(checksum(&got_at_x), checksum(&up), "y to x corrupted");
    let t: Transfer = within(STEP, pump).await.expect("join").expect("pump");
    assert_eq!(t.a_to_b, down.len() as u64);
    assert_eq!(t.b_to_a, up.len() as u64);
    assert_eq!(meter.outbound(), down.len() as u64);
    assert_eq!(meter.inbound(), up.len() as u64);
}

#[tokio::test]
async fn bytes_match_both_ways_over_duplex() {
    let (x, a) = tokio::io::duplex(4096);
    let (b, y) = tokio::io::duplex(100_000);
    both_ways(x, a, b, y).await;
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let (c, s) = tokio::join!(TcpStream::connect(addr), l.accept());
    (c.expect("connect"), s.expect("accept").0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_match_both_ways_over_loopback_tcp() {
    let (x, a) = tcp_pair().await;
    let (b, y) = tcp_pair().await;
    both_ways(x, a, b, y).await;
}

/// `first` sends a request and shuts down its write half; it must still
/// receive the whole (large) answer that `second` sends afterwards.
async fn half_close<S1, S2>(mut first: S1, mut second: S2)
where
    S1: AsyncRead + AsyncWrite + Unpin,
    S2: AsyncRead + AsyncWrite + Unpin,
{
    first.write_all(b"request").await.expect("write request");
    first.shutdown().await.expect("shutdown first");
    let mut req = Vec::new();
    within(STEP, second.read_to_end(&mut req))
        .await
        .expect("read request");
    assert_eq!(req, b"request");
    let answer = pattern(1024 * 1024, 3);
    let send = async {
        second.write_all(&answer).await.expect("write answer");
        second.shutdown().await.expect("shutdown second");
    };
    let mut got = Vec::new();
    let recv = first.read_to_end(&mut got);
    let ((), n) = within(STEP, async { tokio::join!(send, recv) }).await;
    n.expect("read answer");
    assert_eq!(checksum(&got), checksum(&answer));
}

#[tokio::test]
async fn half_close_a_side_first() {
    let (x, a) = tokio::io::duplex(1024);
    let (b, y) = tokio::io::duplex(1024);
    let pump = tokio::spawn(async move { pump(a, b, &opts(), &CancellationToken::new()).await });
    half_close(x, y).await;
    let t = within(STEP, pump).await.expect("join").expect("pump");
    assert_eq!((t.a_to_b, t.b_to_a), (7, 1024 * 1024));
}

#[tokio::test]
async fn half_close_b_side_first() {
    let (x, a) = tokio::io::duplex(1024);
    let (b, y) = tokio::io::duplex(1024);
    let pump = tokio::spawn(async move { pump(a, b, &opts(), &CancellationToken::new()).await });
    half_close(y, x).await;
    let t = within(STEP, pump).await.expect("join").expect("pump");
    assert_eq!((t.a_to_b, t.b_to_a), (1024 * 1024, 7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_over_loopback_tcp() {
    let (x, a) = tcp_pair().await;
    let (b, y) = tcp_pair().await;
    let pump = tokio::spawn(async move { pump(a, b, &opts(), &CancellationToken::new()).await });
    half_close(x, y).await;
    within(STEP, pump).await.expect("join").expect("pump");
}

#[tokio::test(start_paused = true)]
async fn peer_that_never_closes_hits_the_close_timeout() {
    let (mut x, a) = tokio::io::duplex(1024);
    let (b, mut y) = tokio::io::duplex(1024);
    let o = RelayOpts {
        close_timeout: Duration::from_secs(7),
        ..opts()
    };
    let start = tokio::time::Instant::now();
    let pump = tokio::spawn(async move { pump(a, b, &o, &CancellationToken::new()).await });
    x.shutdown().await.expect("shutdown x");
    // y sees the half-close but never closes its own side.
    let mut got = Vec::new();
    y.read_to_end(&mut got).await.expect("read y");
    let err = pump.await.expect("join").expect_err("must time out");
    assert!(
        matches!(
            err,
            RelayError::CloseTimeout {
                direction: Direction::BToA,
                timeout
            } if timeout == Duration::from_secs(7)
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("b to a"), "{err}");
    assert!(start.elapsed() >= Duration::from_secs(7));
    assert!(start.elapsed() < Duration::from_secs(8));
    drop(y);
}

#[tokio::test(start_paused = true)]
async fn close_timeout_names_the_other_direction() {
    let (x, a) = tokio::io::duplex(1024);
    let (b, mut y) = tokio::io::duplex(1024);
    let pump = tokio::spawn(async move { pump(a, b, &opts(), &CancellationToken::new()).await });
    y.shutdown().await.expect("shutdown y");
    let err = pump.await.expect("join").expect_err("must time out");
    assert_eq!(err.direction(), Some(Direction::AToB), "{err:?}");
    drop(x);
}

#[tokio::test(start_paused = true)]
async fn cancellation_ends_the_pump_promptly() {
    let (x, a) = tokio::io::duplex(1024);
    let (b, y) = tokio::io::duplex(1024);
    let token = CancellationToken::new();
    let t2 = token.clone();
    let start = tokio::time::Instant::now();
    let pump = tokio::spawn(async move { pump(a, b, &opts(), &t2).await });
    tokio::task::yield_now().await;
    token.cancel();
    let err = pump.await.expect("join").expect_err("cancelled");
    assert!(matches!(err, RelayError::Cancelled), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(1));
    drop((x, y));
}

mod tls {
    use super::*;
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
    use std::pin::Pin;
    use testkit::pki::self_signed_acceptor;
    use tokio_openssl::SslStream;

    /// A TLS server stream (given to the pump) and the TLS client.
    async fn tls_pair() -> (CloseNotify<TcpStream>, SslStream<TcpStream>) {
        let (c, s) = tcp_pair().await;
        let acc = self_signed_acceptor("relay-test");
        let mut conn = SslConnector::builder(SslMethod::tls()).expect("connector");
        conn.set_verify(SslVerifyMode::NONE);
        let conn = conn.build();
        let ssl_c = conn
            .configure()
            .expect("configure")
            .into_ssl("relay-test")
            .expect("ssl");
        let ssl_s = openssl::ssl::Ssl::new(acc.context()).expect("ssl");
        let mut client = SslStream::new(ssl_c, c).expect("client");
        let mut server = SslStream::new(ssl_s, EofWatch::new(s)).expect("server");
        let (rc, rs) = tokio::join!(
            Pin::new(&mut client).connect(),
            Pin::new(&mut server).accept()
        );
        rc.expect("client handshake");
        rs.expect("server handshake");
        (CloseNotify::new(server), client)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bytes_match_both_ways_over_tls_with_close_notify() {
        let (b, y) = tls_pair().await;
        let (x, a) = tcp_pair().await;
        both_ways(x, a, b, y).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tls_peer_closing_without_close_notify_is_a_truncation() {
        let (b, mut y) = tls_pair().await;
        let (mut x, a) = tcp_pair().await;
        let pump =
            tokio::spawn(async move { pump(a, b, &opts(), &CancellationToken::new()).await });
        y.write_all(b"partial").await.expect("write");
        y.flush().await.expect("flush");
        let mut buf = [0u8; 7];
        within(STEP, x.read_exact(&mut buf)).await.expect("read");
        assert_eq!(&buf, b"partial");
        // Close TCP (FIN) under the TLS client: no close_notify is sent.
        y.get_mut().shutdown().await.expect("tcp shutdown");
        let err = within(STEP, pump)
            .await
            .expect("join")
            .expect_err("truncated");
        assert!(err.is_truncation(), "{err:?}");
        assert_eq!(err.direction(), Some(Direction::BToA));
        assert!(err.to_string().contains("truncated"), "{err}");
        drop(y);
    }
}
