//! The joiner's acceptor: mutual TLS with the name rule of the listener
//! (none unless `commonname=` is set) and the optional donor allow-list,
//! both checked inside the handshake; then the post-handshake check that a
//! verified certificate was presented, whatever the cipher string.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openssl::ssl::{SslContext, SslVerifyMode};
use openssl::x509::X509VerifyResult;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use super::CloseNotify;
use super::TlsStream;

use super::verify::{self, Recorder, Rules};
use super::{context, error, log_start, new_stream, peer_of, preflight};
use super::{AllowList, PeerInfo, PeerPolicy, Preflight, TlsError, TlsSettings};
use super::{FileKeys, TlsRole};

/// The joiner's side: accepts TLS, demands and verifies a client certificate.
pub struct TlsServer {
    ctx: SslContext,
    rules: Arc<Rules>,
    verify: bool,
    mode: SslVerifyMode,
    mismatch_code: X509VerifyResult,
    report: Preflight,
}

impl TlsServer {
    /// Builds the acceptor from the settings: runs the preflight checks (files
    /// loaded once, here), logs their warnings, and fixes the listener's name
    /// rule (none unless `commonname=` is set) and donor allow-list
    /// ([`TlsSettings::allowed_donors`]; with `verify=0` a non-empty list is
    /// an error, since no certificate would be checked).
    pub fn new(settings: &TlsSettings) -> Result<Self, TlsError> {
        Self::with_keys(settings, &FileKeys::default())
    }

    /// [`TlsServer::new`], with messages and the start-up log naming each
    /// file by the key `keys` says it came from (the configuration layer
    /// passes its own).
    pub fn with_keys(settings: &TlsSettings, keys: &FileKeys) -> Result<Self, TlsError> {
        let allow = AllowList::new(&settings.allowed_donors);
        if !allow.is_empty() && !settings.opts.verify {
            return Err(TlsError::AllowListWithoutVerify {
                allowed: allow.to_string(),
            });
        }
        let (report, material) = preflight::load(settings, keys)?;
        let ctx = context::server(settings, &material)?;
        let policy = PeerPolicy::for_listener(settings.opts.commonname.as_deref());
        log_start(TlsRole::Joiner, settings, keys, &report, &policy);
        if !allow.is_empty() {
            tracing::info!(role = "joiner", allowed_donors = %allow, "donor allow-list on");
        }
        Ok(TlsServer {
            ctx,
            rules: Arc::new(Rules { policy, allow }),
            verify: settings.opts.verify,
            mode: context::verify_mode(settings, true),
            mismatch_code: verify::mismatch_code(&material.chain[0]),
            report,
        })
    }

    /// The preflight report (our certificate, trust source, warnings).
    pub fn preflight(&self) -> &Preflight {
        &self.report
    }

    /// The donor allow-list in force (empty when off).
    pub fn allowed_donors(&self) -> &AllowList {
        &self.rules.allow
    }

    /// The name a donor certificate must carry (`commonname=`), if any.
    pub fn expected_name(&self) -> Option<&str> {
        self.rules.policy.expected.as_deref()
    }

    /// Runs the handshake on an accepted socket, under `timeout`. The
    /// certificate and name checks run inside the handshake, so on `Err`
    /// the peer has received no application byte.
    pub async fn accept(
        &self,
        tcp: TcpStream,
        timeout: Duration,
    ) -> Result<(TlsStream, PeerInfo), TlsError> {
        let peer = peer_of(&tcp);
        let deadline = Instant::now() + timeout;
        let rec = Recorder::new(self.mismatch_code);
        let mut stream = new_stream(&self.ctx, tcp, &rec, self.mode, &self.rules, |_| Ok(()))?;
        match timeout_at(deadline, Pin::new(&mut stream).accept()).await {
            Err(_) => Err(TlsError::Timeout { peer, timeout }),
            Ok(Err(e)) => Err(rec
                .rejection(peer)
                .unwrap_or_else(|| error::classify(peer, e))),
            Ok(Ok(())) => {
                // Dropping the stream without close_notify ends the
                // connection; the peer has received no application byte.
                rec.admit(stream.ssl(), peer, self.verify)?;
                let mut info = PeerInfo::of(stream.ssl());
                info.name_match = rec.matched();
                info.allowed = rec.allowed();
                info.authenticated = self.verify;
                tracing::debug!(%peer, subject = %info.subject, protocol = %info.protocol,
                    cipher = %info.cipher, rule = ?rec.matched().map(|m| m.rule),
                    allowed = ?info.allowed.as_ref().map(|a| &a.allowed), "tls accepted");
                stream.get_mut().get_mut().batch_reads();
                Ok((CloseNotify::new(stream), info))
            }
        }
    }
}
