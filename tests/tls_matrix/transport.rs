//! What one write through our TLS stream does (issue 12): the joiner's
//! stream (OpenSSL partial-write mode, one record per `SSL_write`) still
//! takes a whole relay chunk in one call, so its records leave together;
//! the bytes arrive intact.

use super::*;
use std::future::poll_fn;
use std::pin::Pin;
use tokio::io::{AsyncReadExt, AsyncWrite};

#[tokio::test]
async fn one_write_of_a_relay_chunk_takes_all_its_records() {
    let pki = Pki::new();
    let s = pki.node("server");
    let c = pki.node("client");
    let server = TlsServer::new(&settings(&s, &pki.ca_file, "")).unwrap();
    let client = TlsClient::new(&settings(&c, &pki.ca_file, ""), "localhost").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let chunk: Vec<u8> = (0..256 * 1024u32).map(|i| (i % 253) as u8).collect();
    let sent = chunk.clone();
    let srv = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (mut s, _) = server.accept(tcp, HANDSHAKE).await.unwrap();
        let n = poll_fn(|cx| Pin::new(&mut s).poll_write(cx, &sent))
            .await
            .unwrap();
        s.write_all(&sent[n..]).await.unwrap();
        s.shutdown().await.unwrap();
        n
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut cs, _) = within(STEP, client.connect(tcp, HANDSHAKE)).await.unwrap();
    let mut got = Vec::new();
    within(STEP, cs.read_to_end(&mut got)).await.unwrap();
    let n = within(STEP, srv).await.unwrap();
    assert_eq!(got, chunk);
    assert_eq!(
        n,
        chunk.len(),
        "one write took {n} of {} bytes",
        chunk.len()
    );
}
