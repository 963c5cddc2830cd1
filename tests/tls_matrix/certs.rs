//! Certificates and protocol versions of every shape users have: P-256
//! keys, TLS 1.2-only peers, an intermediate in the certificate file,
//! README-style self-signed certificates, and a server-only EKU refused as
//! a client certificate.

use super::*;

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
