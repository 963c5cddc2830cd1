//! Real handshakes over loopback between our acceptor and connector, and
//! against raw OpenSSL peers, with certificates generated per test.
//! `names`: whose name a certificate must carry; `certs`: key types,
//! versions and chains. `identity`: anonymous, certificate-less and NULL-cipher peers, wildcards
//! and IP addresses (issue 9); `allow_list`: the joiner's donor allow-list;
//! `suites`: which cipher suite each pairing negotiates, `transport`: what
//! one write through our TLS stream does (issue 12).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod allow_list;
mod certs;
mod identity;
mod names;
mod suites;
mod transport;

use std::time::Duration;

use openssl::ssl::SslVersion;
use sst_tunnel::exit::ExitCode;
use sst_tunnel::pki::{Eku, LeafSpec};
use sst_tunnel::tls::{TlsClient, TlsError, TlsServer};
use testkit::pki::{self_signed, Pki};
use testkit::poll::within;
use testkit::tls::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

fn code(r: &Result<impl std::fmt::Debug, TlsError>) -> ExitCode {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.exit_code(),
    }
}

#[tokio::test]
async fn good_pair_moves_bytes_both_ways_and_fills_peer_info() {
    let pki = Pki::new();
    let s = pki.node("server");
    let c = pki.leaf("client", &LeafSpec::new("donor1").dns("donor1.test"));
    let (_guard, logs) = capture_logs();
    let (srv, cli) = run_pair(
        settings(&s, &pki.ca_file, ""),
        settings(&c, &pki.ca_file, ""),
        "localhost",
    )
    .await;
    let sinfo = srv.result.unwrap();
    let cinfo = cli.result.unwrap();
    assert_eq!(srv.received, b"hello");
    assert_eq!(cli.received, [SECRET, b"got:hello"].concat());
    assert!(sinfo.subject.contains("CN=donor1"), "{sinfo:?}");
    assert_eq!(sinfo.names, vec!["DNS:donor1.test", "CN=donor1"]);
    assert_eq!(sinfo.protocol, "TLSv1.3");
    assert!(!sinfo.cipher.is_empty());
    assert!(cinfo.subject.contains("CN=localhost"), "{cinfo:?}");
    assert!(cinfo.names.contains(&"IP:127.0.0.1".to_string()));
    assert_eq!(cinfo.protocol, "TLSv1.3");
    // The TLS 1.3 acceptance wait ended on the session ticket, not on its cap.
    let logs = logs.text();
    assert!(logs.contains("tls connected"), "{logs}");
    assert!(!logs.contains("no tls 1.3 session ticket"), "{logs}");
}

#[tokio::test]
async fn server_rejects_a_client_from_another_ca_and_the_client_is_told() {
    let pki = Pki::new();
    let s = pki.node("server");
    let c = pki.rogue_leaf("client", &LeafSpec::new("donor1"));
    // The client trusts both CAs, so only the server's check fails.
    let both = pki.path().join("both-cas.pem");
    sst_tunnel::pki::write_bundle(&both, &[&pki.ca.cert, &pki.rogue.cert]).unwrap();
    let (srv, cli) = run_pair(
        settings(&s, &pki.ca_file, ""),
        settings(&c, &both, ""),
        "localhost",
    )
    .await;
    // The client sends its rogue root along (OpenSSL builds the chain from
    // its trust store), so that is what OpenSSL names.
    let text = err_text(&srv.result);
    assert!(
        text.contains("self-signed certificate in certificate chain"),
        "{text}"
    );
    assert!(text.contains("CN=rogue ca"), "{text}");
    assert_eq!(code(&srv.result), ExitCode::AuthFailed);
    // TLS 1.3: the client learns it at connect time thanks to the acceptance wait.
    let text = err_text(&cli.result);
    assert!(text.contains("rejected our certificate"), "{text}");
    assert!(matches!(cli.result, Err(TlsError::RejectedByPeer { .. })));
    assert_eq!(code(&cli.result), ExitCode::AuthFailed);
    assert!(cli.received.is_empty());
}

#[tokio::test]
async fn client_rejects_a_server_from_another_ca() {
    let pki = Pki::new();
    let s = pki.rogue_leaf("server", &LeafSpec::new("localhost"));
    let c = pki.node("client");
    let (srv, cli) = run_pair(
        settings(&s, &pki.rogue_file, ""),
        settings(&c, &pki.ca_file, ""),
        "localhost",
    )
    .await;
    // The rogue server sends its root along, so OpenSSL names that.
    let text = err_text(&cli.result);
    assert!(
        text.contains("self-signed certificate in certificate chain"),
        "{text}"
    );
    assert!(text.contains("CN=rogue ca"), "{text}");
    assert_eq!(code(&cli.result), ExitCode::AuthFailed);
    let text = err_text(&srv.result);
    assert!(text.contains("rejected our certificate"), "{text}");
    assert_eq!(code(&srv.result), ExitCode::AuthFailed);
}

#[tokio::test]
async fn client_without_certificate_is_refused_and_gets_no_byte() {
    let pki = Pki::new();
    let s = pki.node("server");
    let server = TlsServer::new(&settings(&s, &pki.ca_file, "")).unwrap();
    let (srv, (hs, received)) = raw_vs_server(server, &raw_connector(None, |_| {})).await;
    assert!(
        matches!(srv.result, Err(TlsError::NoPeerCert { .. })),
        "{srv:?}"
    );
    assert!(err_text(&srv.result).contains("no certificate"));
    assert_eq!(code(&srv.result), ExitCode::AuthFailed);
    assert!(!contains(&received, SECRET), "{hs:?} {received:?}");
    assert!(received.is_empty());
}

#[tokio::test]
async fn rogue_ca_client_gets_no_byte() {
    let pki = Pki::new();
    let s = pki.node("server");
    let rogue = pki.rogue_leaf("rogue-node", &LeafSpec::new("localhost"));
    let server = TlsServer::new(&settings(&s, &pki.ca_file, "")).unwrap();
    let (srv, (_hs, received)) = raw_vs_server(server, &raw_connector(Some(&rogue), |_| {})).await;
    assert!(
        matches!(srv.result, Err(TlsError::PeerCertRejected { .. })),
        "{srv:?}"
    );
    assert!(received.is_empty(), "{received:?}");
}

#[tokio::test]
async fn expired_server_certificate_is_rejected_by_the_client() {
    let pki = Pki::new();
    let s = pki.leaf("server", &LeafSpec::new("localhost").expired());
    let c = pki.node("client");
    let client = TlsClient::new(&settings(&c, &pki.ca_file, ""), "localhost").unwrap();
    let acceptor = raw_acceptor(&s, Some(&pki.ca_file), |_| {});
    let (srv, cli) = client_vs_raw(acceptor, &client).await;
    let text = err_text(&cli.result);
    assert!(text.contains("certificate has expired"), "{text}");
    assert!(text.contains("depth 0"), "{text}");
    assert_eq!(code(&cli.result), ExitCode::AuthFailed);
    let e = srv.unwrap_err();
    assert!(format!("{e:?}").contains("certificate expired"), "{e:?}");
}

#[tokio::test]
async fn expired_client_certificate_is_rejected_by_the_server() {
    let pki = Pki::new();
    let s = pki.node("server");
    let c = pki.leaf("client", &LeafSpec::new("donor").expired());
    let server = TlsServer::new(&settings(&s, &pki.ca_file, "")).unwrap();
    let (srv, (_hs, received)) = raw_vs_server(server, &raw_connector(Some(&c), |_| {})).await;
    let text = err_text(&srv.result);
    assert!(text.contains("certificate has expired"), "{text}");
    assert!(text.contains("CN=donor"), "{text}");
    assert!(received.is_empty());
}

#[tokio::test]
async fn verify_zero_accepts_anyone_and_says_so() {
    let pki = Pki::new();
    let s = pki.node("server");
    let (_guard, logs) = capture_logs();
    let server = TlsServer::new(&settings(&s, &pki.ca_file, "verify=0")).unwrap();
    let text = logs.text();
    assert!(text.contains("WARN") && text.contains("verify=0"), "{text}");
    assert!(!server.preflight().verify);
    assert!(server
        .preflight()
        .warnings
        .iter()
        .any(|w| w.contains("verify=0")));
    // A client without any certificate is served.
    let (srv, (hs, received)) = raw_vs_server(server, &raw_connector(None, |_| {})).await;
    srv.result.unwrap();
    hs.unwrap();
    assert_eq!(received, [SECRET, b"got:hello"].concat());
    // Our client with verify=0 accepts a rogue, misnamed server.
    let rogue = pki.rogue_leaf("rogue-node", &LeafSpec::new("nomatch"));
    let c = pki.node("client");
    let (srv, cli) = run_pair(
        settings(&rogue, &pki.rogue_file, "verify=0"),
        settings(&c, &pki.ca_file, "verify=0"),
        "joiner.test",
    )
    .await;
    srv.result.unwrap();
    assert!(cli.result.unwrap().subject.contains("CN=nomatch"));
}

#[tokio::test]
async fn plaintext_client_gets_no_byte_and_a_clean_error() {
    let pki = Pki::new();
    let s = pki.node("server");
    let server = TlsServer::new(&settings(&s, &pki.ca_file, "")).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let srv = tokio::spawn(serve_once(listener, server));
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"@RSYNCD: 31.0\nrsync_tunnel_sst\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = within(
        STEP,
        tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut got),
    )
    .await;
    let srv = within(STEP, srv).await.unwrap();
    assert!(
        matches!(srv.result, Err(TlsError::NotTls { .. })),
        "{srv:?}"
    );
    assert!(err_text(&srv.result).contains("wrong version number"));
    assert!(!contains(&got, SECRET));
}

#[tokio::test]
async fn silent_client_times_out_and_vanishing_client_is_reported() {
    let pki = Pki::new();
    let s = pki.node("server");
    let server = TlsServer::new(&settings(&s, &pki.ca_file, "")).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _silent = TcpStream::connect(addr).await.unwrap();
    let (tcp, _) = listener.accept().await.unwrap();
    let r = within(STEP, server.accept(tcp, Duration::from_millis(200))).await;
    assert!(err_text(&r).contains("timed out"));
    assert_eq!(code(&r), ExitCode::TimedOut);

    let gone = TcpStream::connect(addr).await.unwrap();
    drop(gone);
    let (tcp, _) = listener.accept().await.unwrap();
    let r = within(STEP, server.accept(tcp, HANDSHAKE)).await;
    assert!(matches!(r, Err(TlsError::PeerClosed { .. })), "{r:?}");
    assert!(err_text(&r).contains("closed the connection during the handshake"));
}

#[tokio::test]
async fn key_inside_the_cert_file_works() {
    let pki = Pki::new();
    let s = pki.node("server");
    let c = pki.node("client");
    let mut ss = settings(&s, &pki.ca_file, "");
    ss.cert = s.combined.clone();
    ss.key = None;
    let (srv, cli) = run_pair(ss, settings(&c, &pki.ca_file, ""), "localhost").await;
    srv.result.unwrap();
    cli.result.unwrap();
}

#[tokio::test]
async fn any_sni_is_tolerated_by_the_acceptor() {
    let pki = Pki::new();
    let s = pki.node("server");
    let c = pki.node("client");
    let connector = raw_connector(Some(&c), |_| {});
    for sni in [
        Some("127.0.0.1"),
        Some("::1"),
        Some("unrelated.example"),
        None,
    ] {
        let server = TlsServer::new(&settings(&s, &pki.ca_file, "")).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let srv = tokio::spawn(serve_once(listener, server));
        let (hs, received) = within(STEP, raw_connect_sni(addr, &connector, sni)).await;
        hs.unwrap_or_else(|e| panic!("{sni:?}: {e}"));
        within(STEP, srv).await.unwrap().result.unwrap();
        assert_eq!(received, [SECRET, b"got:hello"].concat(), "{sni:?}");
    }
}

#[tokio::test]
async fn silent_server_times_out_the_client() {
    let pki = Pki::new();
    let c = pki.node("client");
    let client = TlsClient::new(&settings(&c, &pki.ca_file, ""), "localhost").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (_held, _) = listener.accept().await.unwrap();
    let r = within(STEP, client.connect(tcp, Duration::from_millis(200))).await;
    assert!(
        matches!(r, Err(TlsError::Timeout { .. })),
        "{:?}",
        r.as_ref().err()
    );
    assert_eq!(code(&r), ExitCode::TimedOut);
}
