//! Start-up rules of issue 9: a `cipher=` value that leaves no authenticated
//! suite is a configuration error naming the item.

use sst_tunnel::exit::ExitCode;
use sst_tunnel::tls::{TlsClient, TlsError, TlsServer};

use super::tls_common::*;

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
