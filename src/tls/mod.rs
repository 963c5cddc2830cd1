//! TLS for both roles: the joiner's acceptor ([`TlsServer`]) and the donor's
//! connector ([`TlsClient`]), built on OpenSSL so that socat peers, `cipher=`
//! strings, `capath` directories and CN-only certificates behave as they did
//! under socat (tls-compat.md §0, §3, §7).
//!
//! - `server` / `client`: the two roles.
//! - [`sockopt`]: socat's option grammar for `[sst] sockopt`.
//! - [`policy`]: socat's peer-name rules and the joiner's donor allow-list,
//!   run inside the handshake by `verify`, which also re-checks after it.
//! - [`cipher`]: the TLS 1.2 suites we allow (never anonymous or NULL) and
//!   our TLS 1.3 order.
//! - [`mod@preflight`]: start-up checks of every configured file.
//! - [`files`], `trust`, `context`: loading files (and the key each came
//!   from, [`FileKeys`]), the trust store, the SSL contexts.
//! - `error`: [`TlsError`] and the mapping of OpenSSL failures to causes.
//!
//! Both constructors run [`preflight::preflight`]'s checks themselves and
//! log its warnings (`verify=0`, system store, …) once; the report is kept
//! for the caller's start-up line ([`TlsServer::preflight`]).

pub mod cipher;
mod client;
mod context;
mod error;
pub mod files;
pub mod policy;
pub mod preflight;
mod server;
pub mod sockopt;
pub mod transport;
mod trust;
mod verify;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use openssl::ssl::{Ssl, SslContext, SslRef};
use tokio::net::TcpStream;

pub use client::TlsClient;
pub use error::{TlsError, Unverified};
pub use files::{CnfKey, FileKeys, SslOption, TlsRole};
pub use policy::{AllowList, AllowedMatch, NameMatch, NotAllowed, PeerPolicy};
pub use preflight::{preflight, Preflight};
pub use server::TlsServer;
pub use sockopt::{SockOpts, SockoptError};
pub use transport::{CloseNotify, Coalesce, EofWatch};
pub use trust::TrustSource;

/// An established TLS connection whose end of file counts only with
/// `close_notify` (a peer that drops TCP mid-stream is an error, never a
/// clean end).
pub type TlsStream = CloseNotify<Transport>;

/// What TLS runs over: TCP with writes gathered into large sends and reads
/// served from large receives.
pub type Transport = Coalesce<TcpStream>;

use policy::{subject_line, CertNames};

/// The TLS part of the configuration, after option files and flags were merged.
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// `[sst] tca`: CA bundle file (a directory here is used as a CA path).
    pub ca_file: Option<PathBuf>,
    /// `[sst] tcapath`: directory of hashed CA certificates.
    pub ca_path: Option<PathBuf>,
    /// `[sst] tcert`: our certificate chain (may also hold the key).
    pub cert: PathBuf,
    /// `[sst] tkey`: our private key; `None` means "in the tcert file".
    pub key: Option<PathBuf>,
    /// `[sst] sockopt`, parsed.
    pub opts: SockOpts,
    /// The joiner's donor allow-list: names a donor certificate must carry
    /// (any one suffices, socat's matching rules); empty = off. Only the
    /// acceptor ([`TlsServer`]) uses it, inside the handshake.
    pub allowed_donors: Vec<String>,
}

impl TlsSettings {
    /// Moves `cafile=`/`capath=` from `sockopt` into [`Self::ca_file`] /
    /// [`Self::ca_path`]. They are allowed only when neither `[sst] tca` nor
    /// `tcapath` is configured; otherwise this is an error naming the item and
    /// the key (socat aborts on a repeated `cafile` too). Calling it is
    /// optional: [`TlsServer::new`], [`TlsClient::new`] and [`preflight()`]
    /// apply the same rule to unmerged settings (with messages naming the
    /// sockopt item as the source of the path).
    pub fn merge_sockopt_ca(&mut self) -> Result<(), SockoptError> {
        trust::check_sockopt_ca(self, &FileKeys::default())?;
        if let Some(f) = self.opts.cafile.take() {
            self.ca_file = Some(f);
        }
        if let Some(p) = self.opts.capath.take() {
            self.ca_path = Some(p);
        }
        Ok(())
    }
}

/// What we learned about the peer of one established TLS connection.
#[derive(Clone, Debug, Default)]
pub struct PeerInfo {
    /// The peer certificate's subject, one line (`CN=…, O=…`), empty when none was presented.
    pub subject: String,
    /// The names the certificate carries: SAN DNS, SAN IP, then CN.
    pub names: Vec<String>,
    /// The peer certificate's issuer, one line.
    pub issuer: String,
    /// The peer certificate's notBefore, as OpenSSL prints it.
    pub not_before: String,
    /// The peer certificate's notAfter, as OpenSSL prints it.
    pub not_after: String,
    /// The rule that accepted the peer's name, when a name was checked.
    pub name_match: Option<NameMatch>,
    /// The allow-list entry the donor's certificate matched, when the
    /// joiner's list is on.
    pub allowed: Option<AllowedMatch>,
    /// True when the peer presented a certificate that was verified and
    /// approved (false only with `verify=0`).
    pub authenticated: bool,
    /// Negotiated protocol (`TLSv1.3`).
    pub protocol: String,
    /// Negotiated cipher (`TLS_AES_128_GCM_SHA256`).
    pub cipher: String,
}

impl PeerInfo {
    fn of(ssl: &SslRef) -> PeerInfo {
        let (subject, names, issuer, not_before, not_after) = match ssl.peer_certificate() {
            Some(c) => (
                subject_line(c.subject_name()),
                CertNames::from_cert(&c).display_list(),
                subject_line(c.issuer_name()),
                c.not_before().to_string(),
                c.not_after().to_string(),
            ),
            None => Default::default(),
        };
        PeerInfo {
            subject,
            names,
            issuer,
            not_before,
            not_after,
            name_match: None,
            allowed: None,
            authenticated: false,
            protocol: ssl.version_str().to_string(),
            cipher: ssl
                .current_cipher()
                .map(|c| c.name().to_string())
                .unwrap_or_default(),
        }
    }
}

/// The start-up lines of one role: which file each key named (one line),
/// then the preflight's warnings. The files line is info when a MariaDB
/// `ssl-*` option is involved (used, or left aside for the legacy keys);
/// with the legacy `[sst]` keys alone it says nothing the configuration
/// does not, and stays at debug so that the log of those setups is as
/// before.
pub(crate) fn log_start(
    role: TlsRole,
    settings: &TlsSettings,
    keys: &FileKeys,
    report: &Preflight,
    policy: &PeerPolicy,
) {
    let role = role.name();
    if keys.involves_ssl_options() {
        tracing::info!(role, "tls files: {}", keys.describe(settings));
    } else {
        tracing::debug!(role, "tls files: {}", keys.describe(settings));
    }
    for w in &report.warnings {
        tracing::warn!(role, "{w}");
    }
    tracing::debug!(
        role,
        expected_name = policy.expected.as_deref().unwrap_or("(none)"),
        "tls ready: {report}"
    );
}

pub(crate) fn peer_of(tcp: &TcpStream) -> SocketAddr {
    tcp.peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// One connection's TLS stream over our transport (`EofWatch` over
/// `Coalesce` over TCP), with the verify callback of `rec` installed and
/// `extra` applied to the `Ssl` first (SNI, ex data).
pub(crate) fn new_stream(
    ctx: &SslContext,
    tcp: TcpStream,
    rec: &verify::Recorder,
    mode: openssl::ssl::SslVerifyMode,
    rules: &Arc<verify::Rules>,
    extra: impl FnOnce(&mut Ssl) -> Result<(), TlsError>,
) -> Result<tokio_openssl::SslStream<EofWatch<Transport>>, TlsError> {
    let setup = |source| TlsError::Setup {
        what: "new connection",
        source,
    };
    let mut ssl = Ssl::new(ctx).map_err(setup)?;
    extra(&mut ssl)?;
    rec.install(&mut ssl, mode, Arc::clone(rules));
    let transport = EofWatch::new(Coalesce::new(tcp));
    tokio_openssl::SslStream::new(ssl, transport).map_err(setup)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn opts(s: &str) -> SockOpts {
        SockOpts::parse(s).unwrap()
    }

    #[test]
    fn sockopt_ca_merges_only_without_tca() {
        let mut s = TlsSettings {
            opts: opts("cafile=/x/ca.pem"),
            ..Default::default()
        };
        s.merge_sockopt_ca().unwrap();
        assert_eq!(s.ca_file, Some(PathBuf::from("/x/ca.pem")));
        assert_eq!(s.opts.cafile, None);
        let mut s = TlsSettings {
            ca_file: Some("/etc/ca.pem".into()),
            opts: opts("cafile=/x/ca.pem"),
            ..Default::default()
        };
        let e = s.merge_sockopt_ca().unwrap_err();
        assert!(e.to_string().contains("[sst] tca"), "{e}");
        assert!(e.to_string().contains("cafile=/x/ca.pem"), "{e}");
    }
}
