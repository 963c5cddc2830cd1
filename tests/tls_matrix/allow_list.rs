//! The joiner's donor allow-list (`TlsSettings::allowed_donors`) in real
//! handshakes: a listed donor is accepted by SAN DNS, SAN IP or CN; any
//! other donor of the same CA is refused inside the handshake, with the
//! allowed and the presented names in the error and no byte served.

use sst_tunnel::exit::ExitCode;
use sst_tunnel::pki::LeafSpec;
use sst_tunnel::tls::{TlsClient, TlsError, TlsServer, TlsSettings};

use testkit::pki::Pki;
use testkit::tls::*;

use super::code;

fn joiner_settings(pki: &Pki, sockopt: &str, allowed: &[&str]) -> TlsSettings {
    let s = pki.node("joiner");
    TlsSettings {
        allowed_donors: allowed.iter().map(|a| a.to_string()).collect(),
        ..settings(&s, &pki.ca_file, sockopt)
    }
}

#[tokio::test]
async fn a_listed_donor_is_accepted_by_san_dns_san_ip_or_cn() {
    let pki = Pki::new();
    let allowed = ["db1.test", "10.0.0.2", "db3.test"];
    for (stem, spec, entry, rule) in [
        (
            "by-dns",
            LeafSpec::new("nomatch").dns("db1.test"),
            "db1.test",
            "san dns",
        ),
        (
            "by-ip",
            LeafSpec::new("nomatch").ip("10.0.0.2"),
            "10.0.0.2",
            "san ip",
        ),
        ("by-cn", LeafSpec::new("db3.test"), "db3.test", "subject cn"),
    ] {
        let donor = pki.leaf(stem, &spec);
        let server = TlsServer::new(&joiner_settings(&pki, "", &allowed)).unwrap();
        assert_eq!(server.allowed_donors().names(), allowed);
        let client = TlsClient::new(&settings(&donor, &pki.ca_file, ""), "localhost").unwrap();
        let (srv, cli) = run_with(server, &client, "127.0.0.1:0").await;
        let info = srv.result.unwrap_or_else(|e| panic!("{stem}: {e}"));
        let m = info
            .allowed
            .unwrap_or_else(|| panic!("{stem}: no allow-list match"));
        assert_eq!(m.allowed, entry, "{stem}");
        assert!(
            m.matched.rule.to_string().starts_with(rule),
            "{stem}: {}",
            m.matched.rule
        );
        assert_eq!(cli.received, [SECRET, b"got:hello"].concat(), "{stem}");
    }
}

#[tokio::test]
async fn another_donor_of_the_same_ca_is_refused_naming_both_lists() {
    let pki = Pki::new();
    let rogue = pki.leaf(
        "other-node",
        &LeafSpec::new("other.test").dns("other.test").ip("10.9.9.9"),
    );
    let server = TlsServer::new(&joiner_settings(&pki, "", &["db1.test", "10.0.0.2"])).unwrap();
    let client = TlsClient::new(&settings(&rogue, &pki.ca_file, ""), "localhost").unwrap();
    let (srv, cli) = run_with(server, &client, "127.0.0.1:0").await;
    assert!(
        matches!(srv.result, Err(TlsError::DonorNotAllowed { .. })),
        "{srv:?}"
    );
    let text = err_text(&srv.result);
    for needle in [
        "db1.test",
        "10.0.0.2",
        "DNS:other.test",
        "IP:10.9.9.9",
        "CN=other.test",
        "allowed donor names",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    assert_eq!(code(&srv.result), ExitCode::AuthFailed);
    assert!(srv.received.is_empty());
    // The donor is told its certificate was refused, and got no byte.
    assert!(
        matches!(cli.result, Err(TlsError::RejectedByPeer { .. })),
        "{cli:?}"
    );
    assert_eq!(code(&cli.result), ExitCode::AuthFailed);
    assert!(cli.received.is_empty());
}

#[tokio::test]
async fn the_allow_list_applies_on_top_of_commonname() {
    let pki = Pki::new();
    let both = pki.leaf(
        "both",
        &LeafSpec::new("svc.test").dns("svc.test").dns("db1.test"),
    );
    let svc_only = pki.leaf("svc-only", &LeafSpec::new("svc.test").dns("svc.test"));
    let run = |donor| {
        let server = TlsServer::new(&joiner_settings(&pki, "cn=svc.test", &["db1.test"])).unwrap();
        let client = TlsClient::new(&settings(donor, &pki.ca_file, ""), "localhost").unwrap();
        async move { run_with(server, &client, "127.0.0.1:0").await }
    };
    let (srv, _) = run(&both).await;
    let info = srv.result.unwrap();
    assert_eq!(info.name_match.unwrap().name, "svc.test");
    assert_eq!(info.allowed.unwrap().allowed, "db1.test");
    let (srv, _) = run(&svc_only).await;
    let text = err_text(&srv.result);
    assert!(
        text.contains("db1.test") && text.contains("DNS:svc.test"),
        "{text}"
    );
}

#[test]
fn an_allow_list_with_verify_0_is_a_configuration_error() {
    let pki = Pki::new();
    let e = TlsServer::new(&joiner_settings(&pki, "verify=0", &["db1.test"]))
        .err()
        .unwrap();
    assert!(
        matches!(e, TlsError::AllowListWithoutVerify { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("db1.test") && e.to_string().contains("verify=0"));
    assert_eq!(e.exit_code(), ExitCode::Invalid);
    // Empty means off: verify=0 alone still starts.
    TlsServer::new(&joiner_settings(&pki, "verify=0", &[])).unwrap();
}
