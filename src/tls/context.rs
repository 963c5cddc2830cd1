//! Building the OpenSSL contexts for both roles from the loaded material and
//! the `sockopt` settings: protocol range (TLS 1.2–1.3), Mozilla
//! "intermediate" ciphers unless `cipher=` overrides them (TLS 1.2), our
//! TLS 1.3 order (AES-128-GCM first, [`super::cipher`]), never an
//! anonymous or NULL suite ([`super::cipher`]), key-exchange
//! groups that include P-256 (the only group a socat peer offers), our
//! certificate chain and key, and a trust store holding only the configured
//! anchors.

use openssl::ssl::{
    SslAcceptor, SslContext, SslContextBuilder, SslMethod, SslOptions, SslSessionCacheMode,
    SslVerifyMode, SslVersion,
};

use super::cipher;
use super::preflight::Material;
use super::sockopt::{Compress, TlsVersion};
use super::{TlsError, TlsSettings};

/// Groups offered and accepted: X25519 first, P-256 for socat peers, P-384.
pub const GROUPS: &str = "X25519:P-256:P-384";

/// Session id context, required by OpenSSL for servers that verify clients.
const SESSION_ID_CONTEXT: &[u8] = b"sst-tunnel";

fn setup(what: &'static str) -> impl FnOnce(openssl::error::ErrorStack) -> TlsError {
    move |source| TlsError::Setup { what, source }
}

/// The verify mode for a role.
pub(crate) fn verify_mode(settings: &TlsSettings, server: bool) -> SslVerifyMode {
    match (settings.opts.verify, server) {
        (false, _) => SslVerifyMode::NONE,
        (true, true) => SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
        (true, false) => SslVerifyMode::PEER,
    }
}

/// The joiner's context.
pub(crate) fn server(settings: &TlsSettings, m: &Material) -> Result<SslContext, TlsError> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
        .map_err(setup("mozilla intermediate profile"))?;
    common(&mut b, settings, m)?;
    for ca in &m.trust.file_certs {
        b.add_client_ca(ca).map_err(setup("client CA list"))?;
    }
    b.set_session_id_context(SESSION_ID_CONTEXT)
        .map_err(setup("session id context"))?;
    b.set_verify(verify_mode(settings, true));
    Ok(b.build().into_context())
}

/// The donor's context. `on_ticket` runs when the joiner sends a TLS 1.3
/// session ticket, which it does only after accepting our certificate.
pub(crate) fn client<F>(
    settings: &TlsSettings,
    m: &Material,
    on_ticket: F,
) -> Result<SslContext, TlsError>
where
    F: Fn(&mut openssl::ssl::SslRef) + 'static + Sync + Send,
{
    let mut b = SslContextBuilder::new(SslMethod::tls_client()).map_err(setup("client context"))?;
    b.set_options(
        SslOptions::ALL
            | SslOptions::NO_COMPRESSION
            | SslOptions::NO_SSLV2
            | SslOptions::NO_SSLV3
            | SslOptions::NO_TLSV1
            | SslOptions::NO_TLSV1_1,
    );
    common(&mut b, settings, m)?;
    b.set_verify(verify_mode(settings, false));
    b.set_session_cache_mode(SslSessionCacheMode::CLIENT | SslSessionCacheMode::NO_INTERNAL);
    b.set_new_session_callback(move |ssl, _session| on_ticket(ssl));
    Ok(b.build())
}

fn version(v: TlsVersion) -> SslVersion {
    match v {
        TlsVersion::Tls12 => SslVersion::TLS1_2,
        TlsVersion::Tls13 => SslVersion::TLS1_3,
    }
}

fn common(b: &mut SslContextBuilder, settings: &TlsSettings, m: &Material) -> Result<(), TlsError> {
    let o = &settings.opts;
    b.set_min_proto_version(Some(version(o.min_version)))
        .map_err(setup("minimum protocol version"))?;
    b.set_max_proto_version(Some(version(o.max_version)))
        .map_err(setup("maximum protocol version"))?;
    b.set_groups_list(GROUPS)
        .map_err(setup("key exchange groups"))?;
    // Read whole socket buffers instead of a 5-byte header and then the
    // record body: halves the receive calls (docs/performance.md).
    b.set_read_ahead(true);
    // Both roles, default list or `cipher=`: never anonymous or NULL suites.
    cipher::apply(b, o.cipher.as_deref())?;
    // TLS 1.3: AES-128-GCM first, so that our donor asks for it.
    cipher::apply_tls13(b)?;
    if o.compress == Compress::None {
        b.set_options(SslOptions::NO_COMPRESSION);
    }
    if let Some(dh) = &m.dh {
        b.set_tmp_dh(dh).map_err(setup("DH parameters"))?;
    }
    let (leaf, rest) = m.chain.split_first().ok_or_else(|| TlsError::Setup {
        what: "empty certificate chain",
        source: openssl::error::ErrorStack::get(),
    })?;
    b.set_certificate(leaf).map_err(setup("certificate"))?;
    for c in rest {
        b.add_extra_chain_cert(c.clone())
            .map_err(setup("certificate chain"))?;
    }
    b.set_private_key(&m.key).map_err(setup("private key"))?;
    b.check_private_key().map_err(setup("private key check"))?;
    b.set_cert_store(m.trust.build_store()?);
    Ok(())
}
