//! The cipher suites both roles may negotiate: for TLS 1.2 our default list
//! or the user's `cipher=`, always minus the suites that authenticate nobody
//! or encrypt nothing; for TLS 1.3 our own order ([`TLS13_SUITES`]); and the
//! post-handshake test that the negotiated suite really encrypts.
//!
//! The rule, precisely:
//! - `cipher=` (like OpenSSL's `SSL_CTX_set_cipher_list`) governs TLS 1.2
//!   only; the TLS 1.3 suites are [`TLS13_SUITES`], all authenticated and
//!   encrypting, whatever `cipher=` says.
//! - The client's order decides: neither role sets
//!   `SSL_OP_CIPHER_SERVER_PREFERENCE`. Between our two ends that gives
//!   `TLS_AES_128_GCM_SHA256` under TLS 1.3 (the cheaper AES-GCM: 10 rounds
//!   against 14, docs/performance.md); a socat donor keeps its own first
//!   choice (`TLS_AES_256_GCM_SHA384`, OpenSSL's default order) at our
//!   joiner; and under TLS 1.2 a donor's `cipher=` order wins over the
//!   joiner's list.
//! - Every list we set ends with [`ALWAYS_REFUSED`] (`!aNULL:!eNULL:!PSK:!SRP`):
//!   anonymous suites (no certificate at all, so no identity to check),
//!   NULL suites (no encryption), and PSK/SRP suites (authenticated by a
//!   secret we never configure, and under which a TLS 1.2 server requests
//!   no client certificate). `!` removes them for good, so no `+`, `@STRENGTH`
//!   or `@SECLEVEL=0` earlier in the string brings them back. This holds with
//!   `verify=0` too: we always present a certificate, so an anonymous suite
//!   would add nothing, and a NULL suite would send the data in clear.
//! - A `cipher=` string OpenSSL matches no TLS 1.2 suite with is refused (as
//!   before). One that matches some, but none left after [`ALWAYS_REFUSED`]
//!   (`cipher=aNULL`, `cipher=NULL-SHA256`, `cipher=PSK`) is refused too,
//!   naming the item, whatever `max-version`: OpenSSL 3 itself fails
//!   `SSL_CTX_set_cipher_list` for a list without a TLS 1.2 suite even when
//!   TLS 1.3 suites remain (checked with OpenSSL 3.0.22), and such a string
//!   can only be a mistake. Both are configuration errors (exit 22) raised
//!   when the TLS context is built, before anything listens or connects.
//! - Suites that survive but that the security level later disables are
//!   left to OpenSSL, as socat does (the handshake then fails with no
//!   shared cipher).

use openssl::ssl::{SslCipherRef, SslContextBuilder};

use super::TlsError;

/// Mozilla "intermediate" v5 TLS 1.2 suites, our default list (the same
/// list `SslAcceptor::mozilla_intermediate_v5` sets).
pub const INTERMEDIATE: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
     ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:\
     ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";

/// The TLS 1.3 suites both roles offer and accept, in our order of
/// preference: OpenSSL's three default suites, AES-128-GCM first (the same
/// list `SslAcceptor::mozilla_intermediate_v5` sets for the joiner).
pub const TLS13_SUITES: &str =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

/// Appended to every cipher list we set: no anonymous, NULL, PSK or SRP suite.
pub const ALWAYS_REFUSED: &str = "!aNULL:!eNULL:!PSK:!SRP";

/// The list handed to OpenSSL for a `cipher=` value (or our default).
pub fn effective_list(cipher: Option<&str>) -> String {
    format!("{}:{ALWAYS_REFUSED}", cipher.unwrap_or(INTERMEDIATE))
}

/// Sets the TLS 1.2 cipher list of a context: see the module documentation.
pub(crate) fn apply(b: &mut SslContextBuilder, cipher: Option<&str>) -> Result<(), TlsError> {
    let Some(c) = cipher else {
        return b
            .set_cipher_list(&effective_list(None))
            .map_err(|source| TlsError::Setup {
                what: "cipher list",
                source,
            });
    };
    let bad = |reason: &str| {
        let item = format!("cipher={c}");
        let reason = reason.to_string();
        move |source| TlsError::BadOption {
            item,
            reason,
            source,
        }
    };
    b.set_cipher_list(c)
        .map_err(bad("OpenSSL matches no cipher with this string"))?;
    b.set_cipher_list(&effective_list(Some(c))).map_err(bad(
        "leaves no authenticated cipher suite: it selects only anonymous (aNULL), unencrypted \
         (eNULL), PSK or SRP suites for TLS 1.2, which sst-tunnel always refuses (cipher= does \
         not set the TLS 1.3 suites)",
    ))
}

/// Sets the TLS 1.3 suites of a context to [`TLS13_SUITES`].
pub(crate) fn apply_tls13(b: &mut SslContextBuilder) -> Result<(), TlsError> {
    b.set_ciphersuites(TLS13_SUITES)
        .map_err(|source| TlsError::Setup {
            what: "tls 1.3 cipher suites",
            source,
        })
}

/// True when the suite encrypts: it names a cipher (a NULL suite has none,
/// `SSL_CIPHER_get_cipher_nid` gives `NID_undef`) with secret bits.
pub fn encrypts(cipher: &SslCipherRef) -> bool {
    cipher.cipher_nid().is_some() && cipher.bits().secret > 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use openssl::ssl::{SslContext, SslMethod};

    fn apply_to_new(cipher: Option<&str>) -> Result<(), TlsError> {
        let mut b = SslContext::builder(SslMethod::tls()).unwrap();
        apply(&mut b, cipher)
    }

    fn reason(cipher: &str) -> String {
        match apply_to_new(Some(cipher)) {
            Err(TlsError::BadOption { item, reason, .. }) => {
                assert_eq!(item, format!("cipher={cipher}"));
                reason
            }
            other => panic!("{cipher}: expected a bad option, got {other:?}"),
        }
    }

    #[test]
    fn the_default_and_real_world_lists_are_accepted() {
        apply_to_new(None).unwrap();
        for c in [
            "HIGH:-NULL:-PSK:-aNULL",
            "!SSLv2:kEECDH:kRSA:kEDH:kPSK:+3DES:!aNULL:!eNULL:!MD5:!EXP:!RC4:!SEED:!IDEA:!DES:!SSLv3:!TLSv1",
            "ALL:@SECLEVEL=0",
            "DEFAULT",
            "ECDHE-RSA-AES256-GCM-SHA384",
        ] {
            apply_to_new(Some(c)).unwrap_or_else(|e| panic!("{c}: {e}"));
        }
    }

    #[test]
    fn a_list_of_only_refused_suites_is_a_configuration_error() {
        for c in [
            "aNULL",
            "aNULL:@SECLEVEL=0",
            "ADH-AES256-GCM-SHA384",
            "eNULL",
            "NULL-SHA256:@SECLEVEL=0",
            "PSK",
        ] {
            let r = reason(c);
            assert!(
                r.contains("leaves no authenticated cipher suite"),
                "{c}: {r}"
            );
        }
        let e = apply_to_new(Some("aNULL")).unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::ExitCode::Invalid);
        assert_eq!(
            e.to_string(),
            "[sst] sockopt item `cipher=aNULL`: leaves no authenticated cipher suite: it \
             selects only anonymous (aNULL), unencrypted (eNULL), PSK or SRP suites for TLS \
             1.2, which sst-tunnel always refuses (cipher= does not set the TLS 1.3 suites)"
        );
    }

    #[test]
    fn a_string_matching_nothing_keeps_its_own_message() {
        assert!(reason("NOSUCHCIPHER").contains("matches no cipher"));
    }
}
