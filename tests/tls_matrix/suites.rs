//! Which suite is negotiated (issue 12): AES-128-GCM under TLS 1.3 between
//! our two ends, the client's own first choice when the client is not ours,
//! and a donor's `cipher=` order under TLS 1.2.

use super::*;

#[tokio::test]
async fn our_two_ends_negotiate_aes_128_gcm_under_tls13() {
    let pki = Pki::new();
    let s = pki.node("server");
    let c = pki.node("client");
    let (srv, cli) = run_pair(
        settings(&s, &pki.ca_file, ""),
        settings(&c, &pki.ca_file, ""),
        "localhost",
    )
    .await;
    let (sinfo, cinfo) = (srv.result.unwrap(), cli.result.unwrap());
    assert_eq!(cli.received, [SECRET, b"got:hello"].concat());
    for info in [&sinfo, &cinfo] {
        assert_eq!(info.protocol, "TLSv1.3");
        assert_eq!(info.cipher, "TLS_AES_128_GCM_SHA256");
    }
}

#[tokio::test]
async fn a_client_with_openssl_default_order_keeps_its_choice_at_our_acceptor() {
    let pki = Pki::new();
    let s = pki.node("server");
    let c = pki.node("client");
    // OpenSSL's default TLS 1.3 order (AES-256-GCM first), as socat offers it.
    let server = TlsServer::new(&settings(&s, &pki.ca_file, "")).unwrap();
    let (srv, (hs, received)) = raw_vs_server(server, &raw_connector(Some(&c), |_| {})).await;
    assert_eq!(hs.unwrap(), "TLSv1.3");
    assert_eq!(received, [SECRET, b"got:hello"].concat());
    assert_eq!(srv.result.unwrap().cipher, "TLS_AES_256_GCM_SHA384");
}

#[tokio::test]
async fn a_donor_cipher_list_decides_the_tls12_suite() {
    let pki = Pki::new();
    let s = pki.node("server");
    let c = pki.node("client");
    // The joiner's default list puts AES-128 first; the donor's order wins
    // (the test certificates carry ECDSA keys).
    let want = "ECDHE-ECDSA-AES256-GCM-SHA384";
    let (srv, cli) = run_pair(
        settings(&s, &pki.ca_file, ""),
        settings(
            &c,
            &pki.ca_file,
            &format!("max-version=TLS1.2,cipher={want}:ECDHE-ECDSA-AES128-GCM-SHA256"),
        ),
        "localhost",
    )
    .await;
    let (sinfo, cinfo) = (srv.result.unwrap(), cli.result.unwrap());
    assert_eq!(cli.received, [SECRET, b"got:hello"].concat());
    for info in [&sinfo, &cinfo] {
        assert_eq!(info.protocol, "TLSv1.2");
        assert_eq!(info.cipher, want);
    }
    // Without `cipher=`, TLS 1.2 between our ends takes the default list's first.
    let (srv, cli) = run_pair(
        settings(&s, &pki.ca_file, ""),
        settings(&c, &pki.ca_file, "max-version=TLS1.2"),
        "localhost",
    )
    .await;
    assert_eq!(srv.result.unwrap().cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
    assert_eq!(cli.result.unwrap().cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
}
