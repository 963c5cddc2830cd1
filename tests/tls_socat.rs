//! Interoperability with real socat 1.7.4 peers (rolling upgrades): a socat
//! `openssl-listen` joiner accepting our connector, and a socat `openssl`
//! donor connecting to our acceptor. socat offers and accepts only P-256.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use sst_tunnel::pki::LeafSpec;
use sst_tunnel::tls::{TlsClient, TlsError, TlsServer};
use testkit::net::{free_port, listening};
use testkit::pki::Pki;
use testkit::poll::within;
use testkit::tls::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

fn socat() -> Command {
    let found = std::process::Command::new("socat")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "socat is required for these tests: apt-get install socat"
    );
    let mut c = Command::new("socat");
    c.kill_on_drop(true);
    c
}

async fn wait_listening(port: u16, child: &mut Child) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !listening(port) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("socat exited early with {status}");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "socat did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts `socat openssl-listen:PORT,...  EXEC:cat` (an echo server).
async fn socat_listener(opts: &str) -> (Child, u16) {
    let port = free_port();
    let mut child = socat()
        .arg("-d")
        .arg("-d")
        .arg(format!(
            "openssl-listen:{port},bind=127.0.0.1,reuseaddr,{opts}"
        ))
        .arg("EXEC:cat")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_listening(port, &mut child).await;
    (child, port)
}

/// socat's stderr once it has exited: without `fork` it serves one
/// connection and exits by itself (the connection is already closed here).
async fn stderr_of(mut child: Child) -> String {
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        within(STEP, e.read_to_string(&mut err)).await.unwrap();
    }
    within(STEP, child.wait()).await.unwrap();
    err
}

#[tokio::test]
async fn our_connector_talks_to_a_socat_listener() {
    let pki = Pki::new();
    let joiner = pki.node("joiner");
    let donor = pki.leaf("donor", &LeafSpec::new("donor1"));
    let (child, port) = socat_listener(&format!(
        "cert={},key={},cafile={}",
        joiner.cert.display(),
        joiner.key.display(),
        pki.ca_file.display()
    ))
    .await;
    let client = TlsClient::new(&settings(&donor, &pki.ca_file, ""), "127.0.0.1").unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut s, info) = within(STEP, client.connect(tcp, HANDSHAKE)).await.unwrap();
    assert_eq!(info.protocol, "TLSv1.3");
    // A socat listener sets no server preference: our order decides.
    assert_eq!(info.cipher, "TLS_AES_128_GCM_SHA256");
    assert!(info.subject.contains("CN=localhost"));
    s.write_all(b"ping through socat\n").await.unwrap();
    let mut buf = vec![0u8; 19];
    within(STEP, s.read_exact(&mut buf)).await.unwrap();
    assert_eq!(buf, b"ping through socat\n");
    s.shutdown().await.ok();
    drop(s);
    stderr_of(child).await;
}

#[tokio::test]
async fn our_connector_talks_to_a_tls12_socat_listener() {
    let pki = Pki::new();
    let joiner = pki.node("joiner");
    let donor = pki.node("donor");
    let (child, port) = socat_listener(&format!(
        "cert={},key={},cafile={},max-version=TLS1.2",
        joiner.cert.display(),
        joiner.key.display(),
        pki.ca_file.display()
    ))
    .await;
    let client = TlsClient::new(&settings(&donor, &pki.ca_file, ""), "localhost").unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut s, info) = within(STEP, client.connect(tcp, HANDSHAKE)).await.unwrap();
    assert_eq!(info.protocol, "TLSv1.2");
    assert!(info.cipher.starts_with("ECDHE-"), "{}", info.cipher);
    s.write_all(b"hi").await.unwrap();
    let mut buf = [0u8; 2];
    within(STEP, s.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"hi");
    drop(s);
    stderr_of(child).await;
}

#[tokio::test]
async fn socat_listener_rejecting_our_certificate_is_reported_at_connect() {
    let pki = Pki::new();
    let joiner = pki.node("joiner");
    let rogue = pki.rogue_leaf("rogue-donor", &LeafSpec::new("donor1"));
    let both = pki.path().join("both-cas.pem");
    sst_tunnel::pki::write_bundle(&both, &[&pki.ca.cert, &pki.rogue.cert]).unwrap();
    let (child, port) = socat_listener(&format!(
        "cert={},key={},cafile={}",
        joiner.cert.display(),
        joiner.key.display(),
        pki.ca_file.display()
    ))
    .await;
    let client = TlsClient::new(&settings(&rogue, &both, ""), "localhost").unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let r = within(STEP, client.connect(tcp, HANDSHAKE)).await;
    assert!(
        matches!(r, Err(TlsError::RejectedByPeer { .. })),
        "{:?}",
        r.as_ref().err()
    );
    let err = stderr_of(child).await;
    assert!(
        err.contains("certificate verify failed") || err.contains("self-signed"),
        "{err}"
    );
}

#[tokio::test]
async fn socat_listener_with_the_wrong_name_is_refused() {
    let pki = Pki::new();
    let joiner = pki.leaf(
        "joiner",
        &LeafSpec::new("other-node").dns("other-node.test"),
    );
    let donor = pki.node("donor");
    let (child, port) = socat_listener(&format!(
        "cert={},key={},cafile={}",
        joiner.cert.display(),
        joiner.key.display(),
        pki.ca_file.display()
    ))
    .await;
    let client = TlsClient::new(&settings(&donor, &pki.ca_file, ""), "127.0.0.1").unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let e = within(STEP, client.connect(tcp, HANDSHAKE))
        .await
        .err()
        .unwrap();
    let text = e.to_string();
    assert!(
        text.contains("`127.0.0.1`") && text.contains("DNS:other-node.test"),
        "{text}"
    );
    stderr_of(child).await;
}

/// Runs `socat STDIO openssl:127.0.0.1:PORT,opts` with `input` on stdin.
async fn socat_client(
    port: u16,
    opts: &str,
    input: &[u8],
) -> (std::process::ExitStatus, Vec<u8>, String) {
    let mut child = socat()
        .arg("-d")
        .arg("-d")
        .arg("-t")
        .arg("5")
        .arg("STDIO")
        .arg(format!("openssl:127.0.0.1:{port},{opts}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).await.unwrap();
    drop(stdin);
    let out = within(STEP, child.wait_with_output()).await.unwrap();
    (
        out.status,
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn socat_connector_talks_to_our_acceptor() {
    let pki = Pki::new();
    let joiner = pki.node("joiner");
    let donor = pki.leaf("donor", &LeafSpec::new("socat-donor"));
    let server = TlsServer::new(&settings(&joiner, &pki.ca_file, "")).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let srv = tokio::spawn(serve_once(listener, server));
    let (status, out, err) = socat_client(
        port,
        &format!(
            "cert={},key={},cafile={}",
            donor.cert.display(),
            donor.key.display(),
            pki.ca_file.display()
        ),
        b"hello",
    )
    .await;
    let srv = within(STEP, srv).await.unwrap();
    let info = srv.result.unwrap();
    assert!(info.subject.contains("CN=socat-donor"));
    assert_eq!(info.protocol, "TLSv1.3");
    // A socat donor keeps its own first choice (OpenSSL's default order):
    // our acceptor does not impose AES-128.
    assert_eq!(info.cipher, "TLS_AES_256_GCM_SHA384");
    assert_eq!(srv.received, b"hello");
    assert_eq!(out, [SECRET, b"got:hello"].concat(), "{err}");
    assert!(status.success(), "{err}");
}

#[tokio::test]
async fn socat_connector_with_an_untrusted_certificate_gets_no_byte() {
    let pki = Pki::new();
    let joiner = pki.node("joiner");
    let rogue = pki.rogue_leaf("rogue-donor", &LeafSpec::new("socat-donor"));
    let server = TlsServer::new(&settings(&joiner, &pki.ca_file, "")).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let srv = tokio::spawn(serve_once(listener, server));
    let (_status, out, _err) = socat_client(
        port,
        &format!(
            "cert={},key={},cafile={}",
            rogue.cert.display(),
            rogue.key.display(),
            pki.ca_file.display()
        ),
        b"hello",
    )
    .await;
    let srv = within(STEP, srv).await.unwrap();
    assert!(
        matches!(srv.result, Err(TlsError::PeerCertRejected { .. })),
        "{srv:?}"
    );
    assert!(out.is_empty(), "{out:?}");
}

/// TripleO's `sockopt` cipher string (puppet-tripleo), which must keep
/// working now that anonymous and NULL suites are always refused.
const TRIPLEO_CIPHERS: &str = "!SSLv2:kEECDH:kRSA:kEDH:kPSK:+3DES:!aNULL:!eNULL:!MD5:!EXP:!RC4:!SEED:!IDEA:!DES:!SSLv3:!TLSv1";

#[tokio::test]
async fn tripleo_cipher_string_interoperates_with_socat_both_ways_at_tls12() {
    let pki = Pki::new();
    let joiner = pki.node("joiner");
    let donor = pki.leaf("donor", &LeafSpec::new("socat-donor"));
    let sockopt = format!("cipher={TRIPLEO_CIPHERS},max-version=TLS1.2");
    let files = |f: &sst_tunnel::pki::LeafFiles| {
        format!(
            "cert={},key={},cafile={},{sockopt}",
            f.cert.display(),
            f.key.display(),
            pki.ca_file.display()
        )
    };

    // A socat joiner, our donor.
    let (child, port) = socat_listener(&files(&joiner)).await;
    let client = TlsClient::new(&settings(&donor, &pki.ca_file, &sockopt), "localhost").unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut s, info) = within(STEP, client.connect(tcp, HANDSHAKE)).await.unwrap();
    assert_eq!(info.protocol, "TLSv1.2");
    assert!(info.cipher.starts_with("ECDHE-ECDSA-"), "{}", info.cipher);
    assert!(info.authenticated && info.subject.contains("CN=localhost"));
    s.write_all(b"tripleo").await.unwrap();
    let mut buf = [0u8; 7];
    within(STEP, s.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"tripleo");
    drop(s);
    stderr_of(child).await;

    // A socat donor, our joiner.
    let server = TlsServer::new(&settings(&joiner, &pki.ca_file, &sockopt)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let srv = tokio::spawn(serve_once(listener, server));
    let (status, out, err) = socat_client(port, &files(&donor), b"hello").await;
    let srv = within(STEP, srv).await.unwrap();
    let info = srv.result.unwrap();
    assert_eq!(info.protocol, "TLSv1.2");
    assert!(info.authenticated && info.subject.contains("CN=socat-donor"));
    assert_eq!(out, [SECRET, b"got:hello"].concat(), "{err}");
    assert!(status.success(), "{err}");
}
