//! Start-up rules of issue 9: a `cipher=` value that leaves no authenticated
//! suite is a configuration error naming the item; an empty `commonname=`
//! draws the same loud start-up warning as `verify=0`.

use sst_tunnel::exit::ExitCode;
use sst_tunnel::tls::{preflight, TlsClient, TlsError, TlsServer};

use testkit::pki::Pki;
use testkit::tls::*;

#[test]
fn a_cipher_string_leaving_no_authenticated_suite_is_a_configuration_error() {
    let pki = Pki::new();
    let n = pki.node("node");
    for cipher in [
        "aNULL",
        "aNULL:@SECLEVEL=0",
        "ADH-AES256-GCM-SHA384:AECDH-AES256-SHA",
        "eNULL:@SECLEVEL=0",
        "NULL-SHA256",
        "PSK",
    ] {
        // With TLS 1.3 allowed (whose suites cipher= does not set) and with
        // verify=0 too: the string itself is the mistake.
        for extra in ["", ",verify=0", ",max-version=TLS1.2"] {
            let s = settings(&n, &pki.ca_file, &format!("cipher={cipher}{extra}"));
            let server = TlsServer::new(&s)
                .err()
                .expect("TlsServer::new should fail");
            let client = TlsClient::new(&s, "localhost")
                .err()
                .expect("TlsClient::new should fail");
            for e in [&server, &client] {
                assert!(matches!(e, TlsError::BadOption { .. }), "{cipher}: {e:?}");
                assert!(
                    e.to_string().starts_with(&format!(
                        "[sst] sockopt item `cipher={cipher}`: leaves no authenticated cipher \
                         suite"
                    )),
                    "{e}"
                );
                assert_eq!(e.exit_code(), ExitCode::Invalid);
            }
        }
    }
}

#[test]
fn an_empty_commonname_draws_a_loud_start_up_warning() {
    let pki = Pki::new();
    let n = pki.node("node");
    let warned = |sockopt: &str| -> Vec<String> {
        preflight(&settings(&n, &pki.ca_file, sockopt))
            .unwrap()
            .warnings
            .into_iter()
            .filter(|w| w.contains("commonname= (cn=) is empty"))
            .collect()
    };
    for sockopt in ["cn=", "commonname=", "verify=1,openssl-commonname="] {
        let w = warned(sockopt);
        assert_eq!(w.len(), 1, "{sockopt}: {w:?}");
        assert!(
            w[0].contains("checks NO name on the joiner's certificate")
                && w[0].contains("impersonate the joiner"),
            "{}",
            w[0]
        );
    }
    assert!(warned("").is_empty());
    assert!(warned("cn=svc.test").is_empty());
    // With verify=0 everything is off already, and that warning says so.
    assert!(warned("verify=0,cn=").is_empty());

    // Both roles log it at start, as every SST does, with WARN.
    let (_guard, logs) = capture_logs();
    let s = settings(&n, &pki.ca_file, "cn=");
    TlsServer::new(&s).unwrap();
    TlsClient::new(&s, "localhost").unwrap();
    let text = logs.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("commonname= (cn=) is empty"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("joiner") && lines[1].contains("donor"),
        "{lines:?}"
    );
}
