//! Real handshakes over loopback between our acceptor and connector, and
//! against raw OpenSSL peers, with certificates generated per test.
//! `identity`: anonymous, certificate-less and NULL-cipher peers, wildcards
//! and IP addresses (issue 9); `allow_list`: the joiner's donor allow-list;
//! `suites`: which cipher suite each pairing negotiates, `transport`: what
//! one write through our TLS stream does (issue 12).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod allow_list;
mod identity;
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
async fn name_mismatch_names_expected_and_presented_names() {
    let pki = Pki::new();
    let s = pki.leaf(
        "server",
        &LeafSpec::new("nomatch").dns("other.test").ip("10.9.9.9"),
    );
    let c = pki.node("client");
    let (srv, cli) = run_pair(
        settings(&s, &pki.ca_file, ""),
        settings(&c, &pki.ca_file, ""),
        "joiner.test",
    )
    .await;
    let text = err_text(&cli.result);
    assert!(
        matches!(cli.result, Err(TlsError::NameMismatch { .. })),
        "{text}"
    );
    assert!(text.contains("`joiner.test`"), "{text}");
    assert!(text.contains("DNS:other.test"), "{text}");
    assert!(text.contains("IP:10.9.9.9"), "{text}");
    assert!(text.contains("CN=nomatch"), "{text}");
    assert_eq!(code(&cli.result), ExitCode::AuthFailed);
    // The joiner sees its certificate refused and never got application bytes.
    let text = err_text(&srv.result);
    assert!(text.contains("rejected our certificate"), "{text}");
    assert!(srv.received.is_empty());
}

async fn name_check(server_spec: LeafSpec, target: &str, sockopt: &str) -> Result<(), String> {
    let pki = Pki::new();
    let s = pki.leaf("server", &server_spec);
    let c = pki.node("client");
    let (_srv, cli) = run_pair(
        settings(&s, &pki.ca_file, ""),
        settings(&c, &pki.ca_file, sockopt),
        target,
    )
    .await;
    match cli.result {
        Ok(_) => {
            assert_eq!(cli.received, [SECRET, b"got:hello"].concat());
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test]
async fn cn_only_certificate_is_accepted_by_name() {
    name_check(LeafSpec::new("localhost"), "localhost", "")
        .await
        .unwrap();
    let e = name_check(LeafSpec::new("localhost"), "127.0.0.1", "")
        .await
        .unwrap_err();
    assert!(e.contains("`127.0.0.1`"), "{e}");
}

#[tokio::test]
async fn san_ip_matches_an_ip_target() {
    name_check(LeafSpec::new("nomatch").ip("127.0.0.1"), "127.0.0.1", "")
        .await
        .unwrap();
    name_check(LeafSpec::new("127.0.0.1"), "127.0.0.1", "")
        .await
        .unwrap();
}

#[tokio::test]
async fn san_ipv6_matches_loopback_v6() {
    let pki = Pki::new();
    let s = pki.leaf("server", &LeafSpec::new("nomatch").ip("::1"));
    let c = pki.node("client");
    for target in ["::1", "[::1]", "0:0:0:0:0:0:0:1"] {
        let server = TlsServer::new(&settings(&s, &pki.ca_file, "")).unwrap();
        let client = TlsClient::new(&settings(&c, &pki.ca_file, ""), target).unwrap();
        assert_eq!(client.sni(), None, "no SNI for IP literals");
        let (srv, cli) = run_with(server, &client, "[::1]:0").await;
        cli.result.unwrap_or_else(|e| panic!("{target}: {e}"));
        srv.result.unwrap();
    }
}

#[tokio::test]
async fn wildcards_cover_one_label_and_the_base_domain_only() {
    let spec = || LeafSpec::new("nomatch").dns("*.example.test");
    name_check(spec(), "127.0.0.1", "cn=host.example.test")
        .await
        .unwrap();
    name_check(spec(), "127.0.0.1", "cn=example.test")
        .await
        .unwrap();
    let e = name_check(spec(), "127.0.0.1", "cn=a.b.example.test")
        .await
        .unwrap_err();
    assert!(
        e.contains("`a.b.example.test`") && e.contains("DNS:*.example.test"),
        "{e}"
    );
}

#[tokio::test]
async fn names_differing_only_in_case_match() {
    name_check(LeafSpec::new("LOCALHOST"), "localhost", "")
        .await
        .unwrap();
    name_check(
        LeafSpec::new("x").dns("Node1.Example.Test"),
        "node1.example.TEST",
        "",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn cn_fallback_despite_sans_is_accepted_as_socat_does() {
    name_check(
        LeafSpec::new("localhost").dns("something.else"),
        "localhost",
        "",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn empty_commonname_checks_the_chain_but_no_name() {
    name_check(LeafSpec::new("whatever"), "127.0.0.1", "cn=")
        .await
        .unwrap();
    let pki = Pki::new();
    let s = pki.rogue_leaf("server", &LeafSpec::new("whatever"));
    let c = pki.node("client");
    let (_srv, cli) = run_pair(
        settings(&s, &pki.rogue_file, ""),
        settings(&c, &pki.ca_file, "cn="),
        "127.0.0.1",
    )
    .await;
    assert!(err_text(&cli.result).contains("self-signed certificate in certificate chain"));
}

#[tokio::test]
async fn listener_commonname_checks_the_client_name() {
    let pki = Pki::new();
    let s = pki.node("server");
    let c = pki.leaf("client", &LeafSpec::new("client1"));
    let (srv, cli) = run_pair(
        settings(&s, &pki.ca_file, "cn=client1"),
        settings(&c, &pki.ca_file, "cn=localhost"),
        "127.0.0.1",
    )
    .await;
    srv.result.unwrap();
    cli.result.unwrap();
    let (srv, cli) = run_pair(
        settings(&s, &pki.ca_file, "cn=client2"),
        settings(&c, &pki.ca_file, "cn=localhost"),
        "127.0.0.1",
    )
    .await;
    let text = err_text(&srv.result);
    assert!(
        text.contains("`client2`") && text.contains("CN=client1"),
        "{text}"
    );
    assert!(err_text(&cli.result).contains("rejected our certificate"));
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
async fn p256_only_peers_interoperate_both_ways() {
    let pki = Pki::new();
    let s = pki.node("server");
    let c = pki.node("client");
    let server = TlsServer::new(&settings(&s, &pki.ca_file, "")).unwrap();
    let connector = raw_connector(Some(&c), |b| b.set_groups_list("P-256").unwrap());
    let (srv, (hs, received)) = raw_vs_server(server, &connector).await;
    srv.result.unwrap();
    assert_eq!(hs.unwrap(), "TLSv1.3");
    assert_eq!(received, [SECRET, b"got:hello"].concat());

    let client = TlsClient::new(&settings(&c, &pki.ca_file, ""), "localhost").unwrap();
    let acceptor = raw_acceptor(&s, Some(&pki.ca_file), |b| {
        b.set_groups_list("P-256").unwrap()
    });
    let (srv, cli) = client_vs_raw(acceptor, &client).await;
    assert_eq!(srv.unwrap(), "TLSv1.3");
    assert_eq!(cli.received, [SECRET, b"got:hello"].concat());
}

#[tokio::test]
async fn tls12_only_peers_work_both_ways() {
    let pki = Pki::new();
    let s = pki.node("server");
    let c = pki.node("client");
    let server = TlsServer::new(&settings(&s, &pki.ca_file, "")).unwrap();
    let connector = raw_connector(Some(&c), |b| {
        b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap()
    });
    let (srv, (hs, _)) = raw_vs_server(server, &connector).await;
    assert_eq!(srv.result.unwrap().protocol, "TLSv1.2");
    assert_eq!(hs.unwrap(), "TLSv1.2");

    let client = TlsClient::new(&settings(&c, &pki.ca_file, ""), "localhost").unwrap();
    let acceptor = raw_acceptor(&s, Some(&pki.ca_file), |b| {
        b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap()
    });
    let (srv, cli) = client_vs_raw(acceptor, &client).await;
    assert_eq!(srv.unwrap(), "TLSv1.2");
    assert_eq!(cli.result.unwrap().protocol, "TLSv1.2");

    // Our own pair capped by sockopt, and a rejection under TLS 1.2.
    let (srv, cli) = run_pair(
        settings(&s, &pki.ca_file, "max-version=TLS1.2"),
        settings(&c, &pki.ca_file, "method=TLS1.2"),
        "localhost",
    )
    .await;
    assert_eq!(srv.result.unwrap().protocol, "TLSv1.2");
    assert_eq!(cli.result.unwrap().protocol, "TLSv1.2");
    let rogue = pki.rogue_leaf("rogue-node", &LeafSpec::new("donor"));
    let both = pki.path().join("both-cas.pem");
    sst_tunnel::pki::write_bundle(&both, &[&pki.ca.cert, &pki.rogue.cert]).unwrap();
    let (srv, cli) = run_pair(
        settings(&s, &pki.ca_file, "max-version=TLS1.2"),
        settings(&rogue, &both, ""),
        "localhost",
    )
    .await;
    assert!(err_text(&srv.result).contains("self-signed certificate in certificate chain"));
    assert!(
        matches!(cli.result, Err(TlsError::RejectedByPeer { .. })),
        "{cli:?}"
    );
}

#[tokio::test]
async fn intermediate_in_the_cert_file_completes_the_chain() {
    let pki = Pki::new();
    let inter = pki.ca.intermediate("test intermediate").unwrap();
    let s = inter
        .issue(&LeafSpec::new("localhost"))
        .unwrap()
        .write(pki.path(), "server")
        .unwrap();
    let c = inter
        .issue(&LeafSpec::new("donor"))
        .unwrap()
        .write(pki.path(), "client")
        .unwrap();
    let (srv, cli) = run_pair(
        settings(&s, &pki.ca_file, ""),
        settings(&c, &pki.ca_file, ""),
        "localhost",
    )
    .await;
    srv.result.unwrap();
    cli.result.unwrap();
}

#[tokio::test]
async fn readme_style_self_signed_certificates_trust_each_other() {
    let pki = Pki::new();
    let a = self_signed(pki.path(), "a", &LeafSpec::new("localhost"));
    let b = self_signed(pki.path(), "b", &LeafSpec::new("node-b"));
    let bundle = pki.path().join("both.pem");
    let mut pem = std::fs::read(&a.cert).unwrap();
    pem.extend(std::fs::read(&b.cert).unwrap());
    std::fs::write(&bundle, pem).unwrap();
    let (srv, cli) = run_pair(
        settings(&a, &bundle, ""),
        settings(&b, &bundle, ""),
        "localhost",
    )
    .await;
    assert!(srv.result.unwrap().subject.contains("node-b"));
    cli.result.unwrap();
}

#[tokio::test]
async fn server_only_eku_is_refused_as_a_client_certificate() {
    let pki = Pki::new();
    let s = pki.node("server");
    let c = pki.leaf("client", &LeafSpec::new("donor").eku(Eku::ServerOnly));
    let (srv, _cli) = run_pair(
        settings(&s, &pki.ca_file, ""),
        settings(&c, &pki.ca_file, ""),
        "localhost",
    )
    .await;
    let text = err_text(&srv.result);
    assert!(text.contains("unsuitable certificate purpose"), "{text}");
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
