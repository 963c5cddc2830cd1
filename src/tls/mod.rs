//! TLS for both roles: the joiner's acceptor ([`TlsServer`]) and the donor's
//! connector ([`TlsClient`]), built on OpenSSL so that socat peers, `cipher=`
//! strings, `capath` directories and CN-only certificates behave as they did
//! under socat (tls-compat.md §0, §3, §7).
//!
//! - [`sockopt`]: socat's option grammar for `[sst] sockopt`.
//! - [`policy`]: socat's peer-name rules, run inside the handshake by `verify`.
//! - [`preflight`]: start-up checks of every configured file.
//! - `files`, `trust`, `context`: loading files, the trust store, the SSL contexts.
//! - `error`: [`TlsError`] and the mapping of OpenSSL failures to causes.
//!
//! Both constructors run [`preflight::preflight`]'s checks themselves and
//! log its warnings (`verify=0`, system store, …) once; the report is kept
//! for the caller's start-up line ([`TlsServer::preflight`]).

mod context;
mod error;
pub mod files;
pub mod policy;
pub mod preflight;
pub mod sockopt;
mod trust;
mod verify;

use std::future::poll_fn;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use openssl::ex_data::Index;
use openssl::ssl::{Ssl, SslContext, SslRef, SslVersion};
use openssl::x509::X509VerifyResult;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_openssl::SslStream;

pub use error::TlsError;
pub use files::CnfKey;
pub use policy::{NameMatch, PeerPolicy};
pub use preflight::{preflight, Preflight};
pub use sockopt::{SockOpts, SockoptError};
pub use trust::TrustSource;

use policy::{subject_line, CertNames};
use verify::Recorder;

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
        trust::check_sockopt_ca(self)?;
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
    /// Negotiated protocol (`TLSv1.3`).
    pub protocol: String,
    /// Negotiated cipher (`TLS_AES_256_GCM_SHA384`).
    pub cipher: String,
}

impl PeerInfo {
    fn of(ssl: &SslRef) -> PeerInfo {
        let (subject, names) = match ssl.peer_certificate() {
            Some(c) => (
                subject_line(c.subject_name()),
                CertNames::from_cert(&c).display_list(),
            ),
            None => (String::new(), Vec::new()),
        };
        PeerInfo {
            subject,
            names,
            protocol: ssl.version_str().to_string(),
            cipher: ssl
                .current_cipher()
                .map(|c| c.name().to_string())
                .unwrap_or_default(),
        }
    }
}

fn log_start(role: &str, report: &Preflight, policy: &PeerPolicy) {
    for w in &report.warnings {
        tracing::warn!(role, "{w}");
    }
    tracing::debug!(
        role,
        expected_name = policy.expected.as_deref().unwrap_or("(none)"),
        "tls ready: {report}"
    );
}

fn peer_of(tcp: &TcpStream) -> SocketAddr {
    tcp.peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

fn new_stream(ctx: &SslContext, tcp: TcpStream) -> Result<(Ssl, TcpStream), TlsError> {
    let ssl = Ssl::new(ctx).map_err(|source| TlsError::Setup {
        what: "new connection",
        source,
    })?;
    Ok((ssl, tcp))
}

/// The joiner's side: accepts TLS, demands and verifies a client certificate.
pub struct TlsServer {
    ctx: SslContext,
    policy: PeerPolicy,
    mode: openssl::ssl::SslVerifyMode,
    mismatch_code: X509VerifyResult,
    report: Preflight,
}

impl TlsServer {
    /// Builds the acceptor from the settings: runs the preflight checks (files
    /// loaded once, here), logs their warnings, and fixes the listener's name
    /// rule (none unless `commonname=` is set).
    pub fn new(settings: &TlsSettings) -> Result<Self, TlsError> {
        let (report, material) = preflight::load(settings)?;
        let ctx = context::server(settings, &material)?;
        let policy = PeerPolicy::for_listener(settings.opts.commonname.as_deref());
        log_start("joiner", &report, &policy);
        Ok(TlsServer {
            ctx,
            policy,
            mode: context::verify_mode(settings, true),
            mismatch_code: verify::mismatch_code(&material.chain[0]),
            report,
        })
    }

    /// The preflight report (our certificate, trust source, warnings).
    pub fn preflight(&self) -> &Preflight {
        &self.report
    }

    /// Runs the handshake on an accepted socket, under `timeout`. The
    /// certificate and name checks run inside the handshake, so on `Err`
    /// the peer has received no application byte.
    pub async fn accept(
        &self,
        tcp: TcpStream,
        timeout: Duration,
    ) -> Result<(SslStream<TcpStream>, PeerInfo), TlsError> {
        let peer = peer_of(&tcp);
        let deadline = Instant::now() + timeout;
        let (mut ssl, tcp) = new_stream(&self.ctx, tcp)?;
        let rec = Recorder::new(self.mismatch_code);
        rec.install(&mut ssl, self.mode, self.policy.clone());
        let mut stream = SslStream::new(ssl, tcp).map_err(|source| TlsError::Setup {
            what: "new connection",
            source,
        })?;
        match timeout_at(deadline, Pin::new(&mut stream).accept()).await {
            Err(_) => Err(TlsError::Timeout { peer, timeout }),
            Ok(Err(e)) => Err(rec
                .rejection(peer)
                .unwrap_or_else(|| error::classify(peer, e))),
            Ok(Ok(())) => {
                let info = PeerInfo::of(stream.ssl());
                tracing::debug!(%peer, subject = %info.subject, protocol = %info.protocol,
                    cipher = %info.cipher, rule = ?rec.matched().map(|m| m.rule), "tls accepted");
                Ok((stream, info))
            }
        }
    }
}

/// Longest wait for a TLS 1.3 joiner to confirm it accepted our certificate
/// (a session ticket or its first bytes) before we assume it did.
const CONFIRM_WAIT: Duration = Duration::from_secs(1);

/// The donor's side: connects with TLS and checks the joiner's chain and name.
pub struct TlsClient {
    ctx: SslContext,
    policy: PeerPolicy,
    mode: openssl::ssl::SslVerifyMode,
    mismatch_code: X509VerifyResult,
    sni: Option<String>,
    ticket: Index<Ssl, Arc<AtomicBool>>,
    report: Preflight,
}

impl TlsClient {
    /// Builds the connector; `target_host` is the joiner host from the SST
    /// address (brackets already removed), the name its certificate must carry
    /// unless `commonname=` overrides it. Runs the preflight checks and logs
    /// their warnings.
    pub fn new(settings: &TlsSettings, target_host: &str) -> Result<Self, TlsError> {
        let (report, material) = preflight::load(settings)?;
        let ticket = Ssl::new_ex_index::<Arc<AtomicBool>>().map_err(|source| TlsError::Setup {
            what: "ex data index",
            source,
        })?;
        let ctx = context::client(settings, &material, move |ssl| {
            if let Some(flag) = ssl.ex_data(ticket) {
                flag.store(true, Ordering::Release);
            }
        })?;
        let policy = PeerPolicy::for_connector(settings.opts.commonname.as_deref(), target_host);
        let sni = sni_for(&settings.opts, target_host);
        log_start("donor", &report, &policy);
        Ok(TlsClient {
            ctx,
            policy,
            mode: context::verify_mode(settings, false),
            mismatch_code: verify::mismatch_code(&material.chain[0]),
            sni,
            ticket,
            report,
        })
    }

    /// The preflight report (our certificate, trust source, warnings).
    pub fn preflight(&self) -> &Preflight {
        &self.report
    }

    /// The name the joiner's certificate must carry (`None`: chain only).
    pub fn expected_name(&self) -> Option<&str> {
        self.policy.expected.as_deref()
    }

    /// The SNI we send, if any.
    pub fn sni(&self) -> Option<&str> {
        self.sni.as_deref()
    }

    /// Runs the handshake (including the name check) on a connected socket,
    /// under `timeout`. With TLS 1.3 it also waits (at most 1 s, within the
    /// timeout) for the joiner to confirm it accepted our certificate, so a
    /// rejection is reported here rather than at the first read.
    pub async fn connect(
        &self,
        tcp: TcpStream,
        timeout: Duration,
    ) -> Result<(SslStream<TcpStream>, PeerInfo), TlsError> {
        let peer = peer_of(&tcp);
        let deadline = Instant::now() + timeout;
        let (mut ssl, tcp) = new_stream(&self.ctx, tcp)?;
        if let Some(sni) = &self.sni {
            ssl.set_hostname(sni).map_err(|source| TlsError::Setup {
                what: "server name indication",
                source,
            })?;
        }
        let flag = Arc::new(AtomicBool::new(false));
        ssl.set_ex_data(self.ticket, flag.clone());
        let rec = Recorder::new(self.mismatch_code);
        rec.install(&mut ssl, self.mode, self.policy.clone());
        let mut stream = SslStream::new(ssl, tcp).map_err(|source| TlsError::Setup {
            what: "new connection",
            source,
        })?;
        match timeout_at(deadline, Pin::new(&mut stream).connect()).await {
            Err(_) => return Err(TlsError::Timeout { peer, timeout }),
            Ok(Err(e)) => {
                return Err(rec
                    .rejection(peer)
                    .unwrap_or_else(|| error::classify(peer, e)))
            }
            Ok(Ok(())) => {}
        }
        if stream.ssl().version2() == Some(SslVersion::TLS1_3) {
            let wait = deadline.min(Instant::now() + CONFIRM_WAIT);
            confirm_accepted(&mut stream, &flag, wait, peer).await?;
        }
        let info = PeerInfo::of(stream.ssl());
        tracing::debug!(%peer, subject = %info.subject, protocol = %info.protocol,
            cipher = %info.cipher, rule = ?rec.matched().map(|m| m.rule), "tls connected");
        Ok((stream, info))
    }
}

/// TLS 1.3 clients finish their handshake before the server has checked the
/// client certificate. The server's verdict follows: a session ticket (or
/// application data) when it accepted us, an alert when it did not. Peek
/// (consuming nothing) until one of them arrives.
async fn confirm_accepted(
    stream: &mut SslStream<TcpStream>,
    ticket: &AtomicBool,
    until: Instant,
    peer: SocketAddr,
) -> Result<(), TlsError> {
    let mut buf = [0u8; 1];
    let outcome = poll_fn(|cx| {
        let r = Pin::new(&mut *stream).poll_peek(cx, &mut buf);
        if ticket.load(Ordering::Acquire) {
            return Poll::Ready(Ok(()));
        }
        match r {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(n)) if n > 0 => Poll::Ready(Ok(())),
            Poll::Ready(Ok(_)) => Poll::Ready(Err(TlsError::PeerClosed { peer })),
            Poll::Ready(Err(e)) => Poll::Ready(Err(error::classify(peer, e))),
        }
    });
    match timeout_at(until, outcome).await {
        Ok(r) => r,
        Err(_) => {
            tracing::debug!(%peer, "no tls 1.3 session ticket from the joiner; assuming it accepted our certificate");
            Ok(())
        }
    }
}

/// SNI: `snihost`, else `commonname`, else the target host; never an IP
/// literal, never empty, nothing with `no-sni`.
fn sni_for(opts: &SockOpts, target_host: &str) -> Option<String> {
    if opts.no_sni {
        return None;
    }
    let host = target_host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(target_host);
    let candidate = opts
        .snihost
        .as_deref()
        .or(opts.commonname.as_deref())
        .unwrap_or(host);
    if candidate.is_empty() || candidate.parse::<IpAddr>().is_ok() {
        return None;
    }
    Some(candidate.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn opts(s: &str) -> SockOpts {
        SockOpts::parse(s).unwrap()
    }

    #[test]
    fn sni_follows_socat_minus_its_traps() {
        assert_eq!(
            sni_for(&opts(""), "joiner.test").as_deref(),
            Some("joiner.test")
        );
        assert_eq!(sni_for(&opts(""), "10.0.0.1"), None);
        assert_eq!(sni_for(&opts(""), "[::1]"), None);
        assert_eq!(
            sni_for(&opts("cn=svc.test"), "10.0.0.1").as_deref(),
            Some("svc.test")
        );
        assert_eq!(sni_for(&opts("cn="), "joiner.test"), None);
        assert_eq!(
            sni_for(&opts("cn=svc,snihost=front.test"), "h").as_deref(),
            Some("front.test")
        );
        assert_eq!(sni_for(&opts("snihost=10.1.1.1"), "h"), None);
        assert_eq!(sni_for(&opts("no-sni"), "joiner.test"), None);
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
