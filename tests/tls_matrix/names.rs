//! Whose name a certificate must carry: mismatches name both sides, SAN
//! IPs and DNS names, wildcards, case, the CN fallback as socat does it, an
//! empty `commonname`, and the listener's check of the client's name.

use super::*;

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

pub(crate) async fn name_check(
    server_spec: LeafSpec,
    target: &str,
    sockopt: &str,
) -> Result<(), String> {
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
