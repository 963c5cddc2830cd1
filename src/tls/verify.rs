//! The per-connection verify callback: OpenSSL checks the chain, and at
//! depth 0 the callback runs the [`PeerPolicy`] name check and the joiner's
//! donor [`AllowList`], inside the handshake, so a rejected peer never
//! reaches rsync. It records what failed (verify error string, depth,
//! subject; or the name mismatch, or the allow-list refusal) so that the
//! handshake error can say why, and whether it approved the leaf, for the
//! post-handshake check ([`Recorder::admit`]) that refuses a peer the
//! callback never saw (an anonymous suite runs no callback at all).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use openssl::ssl::{SslRef, SslVerifyMode};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509Ref, X509StoreContext, X509StoreContextRef, X509VerifyResult};

use super::error::Unverified;
use super::policy::{
    subject_line, AllowList, AllowedMatch, NameMatch, NameMismatch, NotAllowed, PeerPolicy,
};
use super::TlsError;

#[derive(Debug)]
struct ChainFailure {
    reason: String,
    depth: u32,
    subject: String,
    presented: String,
}

#[derive(Debug, Default)]
struct Verdict {
    chain: Option<ChainFailure>,
    name: Option<(String, NameMismatch)>,
    refused: Option<(String, NotAllowed)>,
    matched: Option<NameMatch>,
    allowed: Option<AllowedMatch>,
    /// The depth-0 callback ran on a chain OpenSSL verified, and every rule passed.
    leaf_approved: bool,
}

/// The identity rules one connection's callback applies at depth 0.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    /// The name the peer must carry (`commonname=`, or the joiner host).
    pub policy: PeerPolicy,
    /// The joiner's donor allow-list (empty on the donor side, or when off).
    pub allow: AllowList,
}

/// What the callback saw on one connection.
#[derive(Clone, Debug)]
pub(crate) struct Recorder {
    verdict: Arc<Mutex<Verdict>>,
    mismatch_code: X509VerifyResult,
}

impl Recorder {
    /// A recorder for one connection; `mismatch_code` from [`mismatch_code`].
    pub fn new(mismatch_code: X509VerifyResult) -> Self {
        Recorder {
            verdict: Arc::default(),
            mismatch_code,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Verdict> {
        // A panic in another holder cannot leave the verdict half-written.
        self.verdict.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Installs the callback on `ssl` with `mode`; with `verify` off nothing is checked.
    pub fn install(&self, ssl: &mut SslRef, mode: SslVerifyMode, rules: Arc<Rules>) {
        if mode == SslVerifyMode::NONE {
            ssl.set_verify(SslVerifyMode::NONE);
            return;
        }
        let rec = self.clone();
        ssl.set_verify_callback(mode, move |ok, ctx| rec.callback(ok, ctx, &rules));
    }

    fn callback(&self, preverify_ok: bool, ctx: &mut X509StoreContextRef, rules: &Rules) -> bool {
        let depth = ctx.error_depth();
        if !preverify_ok {
            let subject = ctx
                .current_cert()
                .map(|c| subject_line(c.subject_name()))
                .unwrap_or_default();
            // The peer's own certificate, whatever depth failed: operators
            // recognise a node by its name, not by the CA that signed it.
            let presented = ctx
                .chain()
                .and_then(|c| c.iter().next())
                .map(|leaf| {
                    let names = super::policy::CertNames::from_cert(leaf).display_list();
                    format!(
                        "{} [{}]",
                        subject_line(leaf.subject_name()),
                        names.join(", ")
                    )
                })
                .unwrap_or_default();
            self.lock().chain.get_or_insert(ChainFailure {
                reason: ctx.error().error_string().to_string(),
                depth,
                subject,
                presented,
            });
            return false;
        }
        if depth != 0 {
            return true;
        }
        // Without the leaf nothing can be approved; the post-handshake
        // check ([`Self::admit`]) then refuses the peer.
        let Some(cert) = ctx.current_cert() else {
            return true;
        };
        let matched = match rules.policy.check(cert) {
            Ok(m) => m,
            Err(mismatch) => {
                let subject = subject_line(cert.subject_name());
                self.lock().name = Some((subject, mismatch));
                ctx.set_error(self.mismatch_code);
                return false;
            }
        };
        let allowed = match rules.allow.check(cert) {
            Ok(a) => a,
            Err(refusal) => {
                let subject = subject_line(cert.subject_name());
                self.lock().refused = Some((subject, refusal));
                ctx.set_error(self.mismatch_code);
                return false;
            }
        };
        for m in matched.iter().chain(allowed.iter().map(|a| &a.matched)) {
            if let Some(why) = m.non_rfc_reason() {
                tracing::warn!(
                    name = %m.name,
                    rule = %m.rule,
                    "peer certificate accepted by a socat rule outside RFC 6125: {why}"
                );
            }
        }
        let mut v = self.lock();
        v.matched = matched;
        v.allowed = allowed;
        v.leaf_approved = true;
        true
    }

    /// The check after a completed handshake, in both roles: with
    /// verification on, the peer presented a certificate, OpenSSL verified
    /// it, and our callback approved it at depth 0; in any case the
    /// negotiated suite encrypts. The cipher lists already exclude
    /// anonymous and NULL suites ([`super::cipher`]); this holds even if
    /// that first line is ever bypassed (an anonymous suite never runs the
    /// verify callback at all).
    pub fn admit(&self, ssl: &SslRef, peer: SocketAddr, verify: bool) -> Result<(), TlsError> {
        let cipher = ssl.current_cipher();
        let cipher_name = cipher.map(|c| c.name()).unwrap_or("(none)").to_string();
        if verify {
            let why = if ssl.peer_certificate().is_none() {
                Some(Unverified::NoCertificate)
            } else if ssl.verify_result() != X509VerifyResult::OK {
                Some(Unverified::NotVerified(
                    ssl.verify_result().error_string().to_string(),
                ))
            } else if !self.lock().leaf_approved {
                Some(Unverified::NotChecked)
            } else {
                None
            };
            if let Some(why) = why {
                return Err(TlsError::Unauthenticated {
                    peer,
                    cipher: cipher_name,
                    why,
                });
            }
        }
        if !cipher.is_some_and(super::cipher::encrypts) {
            return Err(TlsError::NullCipher {
                peer,
                cipher: cipher_name,
            });
        }
        Ok(())
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
        if let Some((subject, refusal)) = v.refused.take() {
            return Some(TlsError::DonorNotAllowed {
                peer,
                subject,
                refusal,
            });
        }
        v.chain.take().map(|c| TlsError::PeerCertRejected {
            peer,
            reason: c.reason,
            depth: c.depth,
            subject: c.subject,
            presented: c.presented,
        })
    }

    /// The rule that accepted the peer's name, if a name was checked.
    pub fn matched(&self) -> Option<NameMatch> {
        self.lock().matched.clone()
    }

    /// The allow-list entry the peer matched, if the list is on.
    pub fn allowed(&self) -> Option<AllowedMatch> {
        self.lock().allowed.clone()
    }
}

/// The verify result to report for a name mismatch: OpenSSL's own
/// `X509_V_ERR_HOSTNAME_MISMATCH`, so that the alert sent to the peer is a
/// certificate alert it can recognise as "your certificate was refused"
/// (`APPLICATION_VERIFICATION` would send `handshake_failure`, and no error
/// at all `internal_error`). rust-openssl exposes no safe constant for it,
/// so it is obtained from OpenSSL by checking `leaf` (our own certificate,
/// trusted as a partial chain) against a host name no certificate carries.
pub(crate) fn mismatch_code(leaf: &X509Ref) -> X509VerifyResult {
    let derive = || -> Result<X509VerifyResult, openssl::error::ErrorStack> {
        let mut param = X509VerifyParam::new()?;
        param.set_host("name-check.invalid")?;
        let mut store = X509StoreBuilder::new()?;
        store.add_cert(leaf.to_owned())?;
        store.set_flags(X509VerifyFlags::PARTIAL_CHAIN | X509VerifyFlags::NO_CHECK_TIME)?;
        store.set_param(&param)?;
        let store = store.build();
        let mut ctx = X509StoreContext::new()?;
        let chain = Stack::new()?;
        ctx.init(&store, leaf, &chain, |c| {
            c.verify_cert()?;
            Ok(c.error())
        })
    };
    match derive() {
        Ok(code) if code != X509VerifyResult::OK => code,
        _ => X509VerifyResult::APPLICATION_VERIFICATION,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
