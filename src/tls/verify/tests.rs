//! The post-handshake check ([`Recorder::admit`]) on its own, against
//! handshakes completed by raw OpenSSL contexts that bypass our cipher
//! lists: it must hold even if that first line is ever bypassed.

use std::os::unix::net::UnixStream;
use std::thread;

use openssl::ssl::{
    HandshakeError, Ssl, SslContext, SslContextBuilder, SslMethod, SslStream, SslVerifyMode,
    SslVersion,
};

use super::*;
use crate::pki::{Ca, LeafSpec};

fn peer() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 4444))
}

fn builder(cipher: &str) -> SslContextBuilder {
    let mut b = SslContext::builder(SslMethod::tls()).unwrap();
    b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
    b.set_cipher_list(cipher).unwrap();
    b.set_verify(SslVerifyMode::NONE);
    b
}

/// Completes a handshake between `server` and `client` over a socket pair
/// and returns the client's end.
fn handshake(server: SslContext, client: SslContext) -> SslStream<UnixStream> {
    let (a, b) = UnixStream::pair().unwrap();
    let srv = thread::spawn(move || {
        let s = Ssl::new(&server).unwrap().accept(a);
        // Keep the server end open until the client has finished.
        s.map(|_| ()).map_err(|e| format!("{e:?}"))
    });
    let c = match Ssl::new(&client).unwrap().connect(b) {
        Ok(c) => c,
        Err(HandshakeError::Failure(m)) => panic!("client handshake: {:?}", m.error()),
        Err(e) => panic!("client handshake: {e:?}"),
    };
    srv.join().unwrap().unwrap();
    c
}

fn recorder() -> Recorder {
    Recorder::new(X509VerifyResult::APPLICATION_VERIFICATION)
}

#[test]
fn an_anonymous_suite_is_refused_when_verification_is_on() {
    let anon = "aNULL:@SECLEVEL=0";
    let c = handshake(builder(anon).build(), builder(anon).build());
    let suite = c.ssl().current_cipher().unwrap().name();
    assert!(
        suite.starts_with("ADH-") || suite.starts_with("AECDH-"),
        "{suite}"
    );
    let e = recorder().admit(c.ssl(), peer(), true).unwrap_err();
    assert!(
        matches!(
            &e,
            TlsError::Unauthenticated {
                why: Unverified::NoCertificate,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.exit_code(), crate::exit::ExitCode::AuthFailed);
    let text = e.to_string();
    assert!(
        text.contains("192.0.2.1:4444") && text.contains("no certificate"),
        "{text}"
    );
    // With verify=0 an anonymous suite still encrypts, so only the cipher
    // rule applies (the cipher lists keep such suites out anyway).
    recorder().admit(c.ssl(), peer(), false).unwrap();
}

#[test]
fn a_null_suite_is_refused_with_or_without_verification() {
    let ca = Ca::new("admit ca").unwrap();
    let leaf = ca.issue(&LeafSpec::new("server")).unwrap();
    // Our test certificates are ECDSA, so the NULL suite is ECDHE-ECDSA-NULL-SHA.
    let null = "eNULL:@SECLEVEL=0";
    let mut server = builder(null);
    server.set_certificate(&leaf.cert).unwrap();
    server.set_private_key(&leaf.key).unwrap();
    let c = handshake(server.build(), builder(null).build());
    assert_eq!(
        c.ssl().current_cipher().unwrap().name(),
        "ECDHE-ECDSA-NULL-SHA"
    );
    let e = recorder().admit(c.ssl(), peer(), false).unwrap_err();
    assert!(
        matches!(&e, TlsError::NullCipher { cipher, .. } if cipher == "ECDHE-ECDSA-NULL-SHA"),
        "{e:?}"
    );
    assert!(e.to_string().contains("does not encrypt"), "{e}");
    // With verification on, the certificate was never approved by our
    // callback (none was installed): refused before the cipher is looked at.
    let e = recorder().admit(c.ssl(), peer(), true).unwrap_err();
    assert!(matches!(e, TlsError::Unauthenticated { .. }), "{e:?}");
}

#[test]
fn a_certificate_the_callback_never_approved_is_refused() {
    let ca = Ca::new("admit ca").unwrap();
    let leaf = ca.issue(&LeafSpec::new("server")).unwrap();
    let mut server = builder("HIGH");
    server.set_certificate(&leaf.cert).unwrap();
    server.set_private_key(&leaf.key).unwrap();
    let mut client = builder("HIGH");
    let mut store = openssl::x509::store::X509StoreBuilder::new().unwrap();
    store.add_cert(ca.cert.clone()).unwrap();
    client.set_cert_store(store.build());
    let c = handshake(server.build(), client.build());
    // OpenSSL verified the chain (the store trusts the CA) …
    assert_eq!(c.ssl().verify_result(), X509VerifyResult::OK);
    // … but no callback of ours approved the name: refused.
    let e = recorder().admit(c.ssl(), peer(), true).unwrap_err();
    assert!(
        matches!(
            &e,
            TlsError::Unauthenticated {
                why: Unverified::NotChecked,
                ..
            }
        ),
        "{e:?}"
    );
    // The same connection once the callback has approved the leaf.
    let rec = recorder();
    rec.lock().leaf_approved = true;
    rec.admit(c.ssl(), peer(), true).unwrap();
}
