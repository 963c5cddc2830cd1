//! The donor's connector: verifies the joiner's chain and, inside the
//! handshake, its name with socat's rules; refuses after the handshake a
//! joiner that presented no verified certificate (whatever the cipher
//! string); chooses SNI; and under TLS 1.3 waits for the joiner's verdict
//! on our own certificate.

use std::future::poll_fn;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use openssl::ex_data::Index;
use openssl::ssl::{Ssl, SslContext, SslVerifyMode, SslVersion};
use openssl::x509::X509VerifyResult;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_openssl::SslStream;

use super::TlsStream;
use super::{CloseNotify, EofWatch};

use super::verify::{self, Recorder, Rules};
use super::{context, error, log_start, new_stream, peer_of, preflight};
use super::{AllowList, PeerInfo, PeerPolicy, Preflight, SockOpts, TlsError, TlsSettings};
use super::{FileKeys, TlsRole};

/// Longest wait for a TLS 1.3 joiner to confirm it accepted our certificate
/// (a session ticket or its first bytes) before we assume it did.
const CONFIRM_WAIT: Duration = Duration::from_secs(1);

/// The donor's side: connects with TLS and checks the joiner's chain and name.
pub struct TlsClient {
    ctx: SslContext,
    rules: Arc<Rules>,
    verify: bool,
    mode: SslVerifyMode,
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
        Self::with_keys(settings, &FileKeys::default(), target_host)
    }

    /// [`TlsClient::new`], with messages and the start-up log naming each
    /// file by the key `keys` says it came from (the configuration layer
    /// passes its own).
    pub fn with_keys(
        settings: &TlsSettings,
        keys: &FileKeys,
        target_host: &str,
    ) -> Result<Self, TlsError> {
        let (report, material) = preflight::load(settings, keys)?;
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
        log_start(TlsRole::Donor, settings, keys, &report, &policy);
        Ok(TlsClient {
            ctx,
            rules: Arc::new(Rules {
                policy,
                // The allow-list is the joiner's: a donor checks the joiner's name only.
                allow: AllowList::default(),
            }),
            verify: settings.opts.verify,
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
        self.rules.policy.expected.as_deref()
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
    ) -> Result<(TlsStream, PeerInfo), TlsError> {
        let peer = peer_of(&tcp);
        let deadline = Instant::now() + timeout;
        let flag = Arc::new(AtomicBool::new(false));
        let rec = Recorder::new(self.mismatch_code);
        let mut stream = new_stream(&self.ctx, tcp, &rec, self.mode, &self.rules, |ssl| {
            if let Some(sni) = &self.sni {
                ssl.set_hostname(sni).map_err(|source| TlsError::Setup {
                    what: "server name indication",
                    source,
                })?;
            }
            ssl.set_ex_data(self.ticket, flag.clone());
            Ok(())
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
        // Before any wait or byte: a joiner the callback never approved (an
        // anonymous suite runs no callback) or a NULL suite ends here.
        rec.admit(stream.ssl(), peer, self.verify)?;
        if stream.ssl().version2() == Some(SslVersion::TLS1_3) {
            let wait = deadline.min(Instant::now() + CONFIRM_WAIT);
            confirm_accepted(&mut stream, &flag, wait, peer).await?;
        }
        let mut info = PeerInfo::of(stream.ssl());
        info.name_match = rec.matched();
        info.authenticated = self.verify;
        tracing::debug!(%peer, subject = %info.subject, protocol = %info.protocol,
            cipher = %info.cipher, rule = ?rec.matched().map(|m| m.rule), "tls connected");
        stream.get_mut().get_mut().batch_reads();
        Ok((CloseNotify::new(stream), info))
    }
}

/// TLS 1.3 clients finish their handshake before the server has checked the
/// client certificate. The server's verdict follows: a session ticket (or
/// application data) when it accepted us, an alert when it did not. Peek
/// (consuming nothing) until one of them arrives.
async fn confirm_accepted(
    stream: &mut SslStream<EofWatch<super::Transport>>,
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
}
