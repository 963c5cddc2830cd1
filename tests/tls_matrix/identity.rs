//! Issue 9, TLS identity cannot be bypassed: a peer without a certificate
//! (anonymous suites), a NULL cipher, a wildcard standing for an IP address;
//! each refused in a real handshake whatever `cipher=` says, and the manual
//! donor ends with the TLS error's exit code.

use std::process::Command;
use std::time::Duration;

use sst_tunnel::exit::ExitCode;
use sst_tunnel::pki::LeafSpec;
use sst_tunnel::tls::{TlsClient, TlsError, TlsServer};
use testkit::child;
use testkit::pki::Pki;
use testkit::poll::within;
use testkit::project::binary;
use testkit::tls::*;
use tokio::net::TcpListener;

use super::code;
use super::names::name_check;

/// `cipher=` values that let anonymous suites in on today's OpenSSL, plus
/// the defaults: none may let a certificate-less peer through.
const PERMISSIVE: [&str; 4] = [
    "cipher=ALL:@SECLEVEL=0",
    "cipher=aNULL:ALL:@SECLEVEL=0",
    "cipher=HIGH:+aNULL:@STRENGTH:@SECLEVEL=0",
    "",
];

fn assert_no_common_suite(e: &TlsError, what: &str) {
    assert!(matches!(e, TlsError::Handshake { .. }), "{what}: {e:?}");
    let text = e.to_string();
    assert!(
        text.contains("127.0.0.1:") && text.contains("never negotiates anonymous"),
        "{what}: {text}"
    );
}

#[tokio::test]
async fn a_certificate_less_joiner_is_refused_whatever_the_cipher_string() {
    let pki = Pki::new();
    let c = pki.node("donor");
    for sockopt in PERMISSIVE {
        let client = TlsClient::new(&settings(&c, &pki.ca_file, sockopt), "localhost").unwrap();
        let (srv, cli) = client_vs_raw(anonymous_acceptor(), &client).await;
        let e = cli.result.as_ref().expect_err(&format!(
            "{sockopt:?}: a joiner without certificate was accepted"
        ));
        assert_no_common_suite(e, sockopt);
        assert_eq!(code(&cli.result), ExitCode::Invalid, "{sockopt:?}");
        assert!(cli.received.is_empty(), "{sockopt:?}: {:?}", cli.received);
        // The anonymous joiner found nothing it could negotiate.
        let raw = srv.expect_err(sockopt);
        assert!(format!("{raw:?}").contains("no shared cipher"), "{raw:?}");
    }
}

#[tokio::test]
async fn a_certificate_less_donor_is_refused_whatever_the_cipher_string() {
    let pki = Pki::new();
    let s = pki.node("joiner");
    for sockopt in PERMISSIVE {
        let server = TlsServer::new(&settings(&s, &pki.ca_file, sockopt)).unwrap();
        let (srv, (hs, received)) = raw_vs_server(server, &anonymous_connector()).await;
        let e = srv.result.as_ref().expect_err(&format!(
            "{sockopt:?}: a donor without certificate was accepted"
        ));
        assert_no_common_suite(e, sockopt);
        assert!(hs.is_err(), "{sockopt:?}: {hs:?}");
        assert!(received.is_empty(), "{sockopt:?}: {received:?}");
        assert!(srv.received.is_empty());
    }
}

#[tokio::test]
async fn a_null_cipher_is_refused_in_both_directions_even_with_verify_0() {
    let pki = Pki::new();
    let s = pki.node("joiner");
    let c = pki.node("donor");
    for sockopt in [
        "cipher=ALL:eNULL:@SECLEVEL=0",
        "cipher=eNULL:HIGH:@SECLEVEL=0",
        "verify=0,cipher=ALL:eNULL:@SECLEVEL=0",
        "",
    ] {
        // Our donor against a joiner offering only NULL suites (it has a
        // certificate from our CA and checks ours: only the cipher is wrong).
        let client = TlsClient::new(&settings(&c, &pki.ca_file, sockopt), "localhost").unwrap();
        let acceptor = raw_acceptor(&s, Some(&pki.ca_file), |b| tls12_with(b, NULL_SUITES));
        let (srv, cli) = client_vs_raw(acceptor, &client).await;
        let e = cli
            .result
            .as_ref()
            .expect_err(&format!("{sockopt:?}: our donor accepted a NULL cipher"));
        assert_no_common_suite(e, sockopt);
        assert!(cli.received.is_empty(), "{sockopt:?}");
        assert!(srv.is_err(), "{sockopt:?}: {srv:?}");

        // Our joiner against a donor offering only NULL suites.
        let server = TlsServer::new(&settings(&s, &pki.ca_file, sockopt)).unwrap();
        let connector = raw_connector(Some(&c), |b| tls12_with(b, NULL_SUITES));
        let (srv, (hs, received)) = raw_vs_server(server, &connector).await;
        let e = srv
            .result
            .as_ref()
            .expect_err(&format!("{sockopt:?}: our joiner accepted a NULL cipher"));
        assert_no_common_suite(e, sockopt);
        assert!(hs.is_err(), "{sockopt:?}: {hs:?}");
        assert!(!contains(&received, SECRET), "{sockopt:?}: {received:?}");
    }
}

#[tokio::test]
async fn socat_and_tripleo_cipher_strings_still_authenticate_both_ways() {
    let pki = Pki::new();
    let s = pki.node("joiner");
    let c = pki.node("donor");
    for sockopt in [
        "cipher=HIGH:-NULL:-PSK:-aNULL,max-version=TLS1.2",
        "cipher=!SSLv2:kEECDH:kRSA:kEDH:kPSK:+3DES:!aNULL:!eNULL:!MD5:!EXP:!RC4:!SEED:!IDEA:!DES:!SSLv3:!TLSv1,max-version=TLS1.2",
        "cipher=ALL:@SECLEVEL=0,max-version=TLS1.2",
    ] {
        let (srv, cli) = run_pair(
            settings(&s, &pki.ca_file, sockopt),
            settings(&c, &pki.ca_file, sockopt),
            "localhost",
        )
        .await;
        let sinfo = srv.result.unwrap_or_else(|e| panic!("{sockopt}: {e}"));
        let cinfo = cli.result.unwrap_or_else(|e| panic!("{sockopt}: {e}"));
        assert_eq!(cli.received, [SECRET, b"got:hello"].concat(), "{sockopt}");
        assert_eq!(sinfo.protocol, "TLSv1.2", "{sockopt}");
        assert!(sinfo.authenticated && cinfo.authenticated, "{sockopt}");
        assert!(sinfo.subject.contains("CN=localhost"), "{sockopt}: {sinfo:?}");
        assert!(cinfo.cipher.starts_with("ECDHE-ECDSA-"), "{sockopt}: {cinfo:?}");
    }
}

#[tokio::test]
async fn a_wildcard_never_stands_for_an_ip_address() {
    for spec in [
        LeafSpec::new("nomatch").dns("*.0.0.1"),
        LeafSpec::new("*.0.0.1"),
    ] {
        let e = name_check(spec, "127.0.0.1", "").await.unwrap_err();
        assert!(e.contains("do not match expected name `127.0.0.1`"), "{e}");
        assert!(e.contains("*.0.0.1"), "{e}");
    }
    // Exact IP strings in a DNS SAN or the CN still match, as with socat.
    name_check(LeafSpec::new("nomatch").dns("127.0.0.1"), "127.0.0.1", "")
        .await
        .unwrap();
    name_check(LeafSpec::new("127.0.0.1"), "127.0.0.1", "")
        .await
        .unwrap();
}

/// The manual `sst-tunnel donor` against a certificate-less joiner, with a
/// sockopt that let anonymous suites in: it refuses the joiner before
/// starting rsync, with the TLS error on one line and its exit code.
#[tokio::test]
async fn the_manual_donor_refuses_a_certificate_less_joiner() {
    let pki = Pki::new();
    let c = pki.node("donor");
    let datadir = tempfile::tempdir().unwrap();
    std::fs::write(datadir.path().join("ibdata1"), b"data").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let joiner = tokio::spawn(raw_serve_once(listener, anonymous_acceptor()));
    let mut cmd = Command::new(binary());
    cmd.args(["donor", "--no-defaults", "--address", &addr.to_string()])
        .arg("--datadir")
        .arg(datadir.path())
        .arg("--tca")
        .arg(&pki.ca_file)
        .arg("--tcert")
        .arg(&c.cert)
        .arg("--tkey")
        .arg(&c.key)
        .arg("--sockopt=cipher=ALL:@SECLEVEL=0");
    let (status, _out, err) = within(
        STEP,
        tokio::task::spawn_blocking(move || child::run("donor", cmd, Duration::from_secs(30))),
    )
    .await
    .unwrap();
    assert_eq!(
        status.code(),
        Some(i32::from(ExitCode::Invalid.code())),
        "{err}"
    );
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    eprintln!("donor: {}", errors[0]);
    assert!(
        errors[0].contains(&addr.to_string()) && errors[0].contains("never negotiates anonymous"),
        "{}",
        errors[0]
    );
    assert!(!err.contains("rsync"), "rsync was started: {err}");
    let raw = within(STEP, joiner).await.unwrap().unwrap_err();
    assert!(format!("{raw:?}").contains("no shared cipher"), "{raw:?}");
}
