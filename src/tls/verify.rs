//! The per-connection verify callback: OpenSSL checks the chain, and at
//! depth 0 the callback runs the [`PeerPolicy`] name check, inside the
//! handshake, so a rejected peer never reaches rsync. It records what failed
//! (verify error string, depth, subject; or the name mismatch) so that the
//! handshake error can say why.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use openssl::ssl::{SslRef, SslVerifyMode};
use openssl::x509::{X509StoreContextRef, X509VerifyResult};

use super::policy::{subject_line, NameMatch, NameMismatch, PeerPolicy};
use super::TlsError;

#[derive(Debug)]
struct ChainFailure {
    reason: String,
    depth: u32,
    subject: String,
}

#[derive(Debug, Default)]
struct Verdict {
    chain: Option<ChainFailure>,
    name: Option<(String, NameMismatch)>,
    matched: Option<NameMatch>,
}

/// What the callback saw on one connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct Recorder(Arc<Mutex<Verdict>>);

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, Verdict> {
        // A panic in another holder cannot leave the verdict half-written.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Installs the callback on `ssl` with `mode`; with `verify` off nothing is checked.
    pub fn install(&self, ssl: &mut SslRef, mode: SslVerifyMode, policy: PeerPolicy) {
        if mode == SslVerifyMode::NONE {
            ssl.set_verify(SslVerifyMode::NONE);
            return;
        }
        let rec = self.clone();
        ssl.set_verify_callback(mode, move |ok, ctx| rec.callback(ok, ctx, &policy));
    }

    fn callback(
        &self,
        preverify_ok: bool,
        ctx: &mut X509StoreContextRef,
        policy: &PeerPolicy,
    ) -> bool {
        let depth = ctx.error_depth();
        if !preverify_ok {
            let subject = ctx
                .current_cert()
                .map(|c| subject_line(c.subject_name()))
                .unwrap_or_default();
            self.lock().chain.get_or_insert(ChainFailure {
                reason: ctx.error().error_string().to_string(),
                depth,
                subject,
            });
            return false;
        }
        if depth != 0 {
            return true;
        }
        let Some(cert) = ctx.current_cert() else {
            return true;
        };
        match policy.check(cert) {
            Ok(None) => true,
            Ok(Some(m)) => {
                if let Some(why) = m.non_rfc_reason() {
                    tracing::warn!(
                        name = %m.name,
                        rule = %m.rule,
                        "peer certificate accepted by a socat rule outside RFC 6125: {why}"
                    );
                }
                self.lock().matched = Some(m);
                true
            }
            Err(mismatch) => {
                let subject = subject_line(cert.subject_name());
                self.lock().name = Some((subject, mismatch));
                ctx.set_error(X509VerifyResult::APPLICATION_VERIFICATION);
                false
            }
        }
    }

    /// The error our callback caused, if it rejected the peer.
    pub fn rejection(&self, peer: SocketAddr) -> Option<TlsError> {
        let mut v = self.lock();
        if let Some((subject, mismatch)) = v.name.take() {
            return Some(TlsError::NameMismatch {
                peer,
                subject,
                mismatch,
            });
        }
        v.chain.take().map(|c| TlsError::PeerCertRejected {
            peer,
            reason: c.reason,
            depth: c.depth,
            subject: c.subject,
        })
    }

    /// The rule that accepted the peer's name, if a name was checked.
    pub fn matched(&self) -> Option<NameMatch> {
        self.lock().matched.clone()
    }
}
