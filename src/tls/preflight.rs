//! Start-up checks of every configured TLS file, run in both roles before
//! anything listens or connects: readable, parses, key matches certificate,
//! certificate chains to the CA (using the intermediates bundled in the
//! certificate file, MDEV-35812), not expired and already valid. Each failure
//! is one line naming the `[sst]` key, the path and the cause.
//!
//! [`super::TlsServer::new`] and [`super::TlsClient::new`] run these checks
//! themselves (and log the warnings); call [`preflight`] directly only for a
//! check without building a context (`sst-tunnel check`).

use std::cmp::Ordering;
use std::fmt;
use std::path::PathBuf;

use openssl::asn1::Asn1Time;
use openssl::dh::Dh;
use openssl::pkey::{PKey, Params, Private};
use openssl::stack::Stack;
use openssl::x509::{X509PurposeId, X509StoreContext, X509VerifyResult, X509};

use super::files::{self, CnfKey};
use super::policy::{subject_line, CertNames};
use super::trust::{Trust, TrustSource};
use super::{TlsError, TlsSettings};

/// What the checks found, for the start-up log line.
#[derive(Clone, Debug)]
pub struct Preflight {
    /// Our certificate's subject (`O=…, CN=…`).
    pub subject: String,
    /// Our certificate's names (SAN DNS, SAN IP, CN).
    pub names: Vec<String>,
    /// Our certificate's notAfter, as OpenSSL prints it.
    pub not_after: String,
    /// Where the trust anchors come from.
    pub trust: TrustSource,
    /// Whether peers are verified (`verify=0` turns it off).
    pub verify: bool,
    /// Problems that do not stop the start (system store, `verify=0`, EKU, …).
    pub warnings: Vec<String>,
}

impl fmt::Display for Preflight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "certificate {} [{}] valid until {}, trust {}, verify {}",
            self.subject,
            self.names.join(", "),
            self.not_after,
            self.trust,
            if self.verify { "on" } else { "OFF" }
        )
    }
}

/// Everything loaded by the checks, reused to build the SSL context.
pub(crate) struct Material {
    pub chain: Vec<X509>,
    pub key: PKey<Private>,
    pub trust: Trust,
    pub dh: Option<Dh<Params>>,
}

/// Runs every start-up check; see the module documentation.
pub fn preflight(settings: &TlsSettings) -> Result<Preflight, TlsError> {
    load(settings).map(|(p, _)| p)
}

pub(crate) fn load(settings: &TlsSettings) -> Result<(Preflight, Material), TlsError> {
    let verify = settings.opts.verify;
    let trust = Trust::load(settings)?;
    let cert_path = &settings.cert;
    let chain = files::certificates(CnfKey::Tcert, cert_path)?;
    let (key_key, key_path): (CnfKey, PathBuf) = match &settings.key {
        Some(k) => (CnfKey::Tkey, k.clone()),
        None => (CnfKey::Tcert, cert_path.clone()),
    };
    let key = files::private_key(key_key, &key_path)?;
    let leaf = &chain[0];
    let matches = leaf
        .public_key()
        .map(|pk| pk.public_eq(&key))
        .unwrap_or(false);
    if !matches {
        let reason = if key_key == CnfKey::Tkey {
            format!(
                "private key does not match the certificate in [sst] tcert {}",
                cert_path.display()
            )
        } else {
            "the private key in the file does not match its first certificate".to_string()
        };
        return Err(files::bad(key_key, &key_path, reason));
    }
    let dh = match &settings.opts.dhparam {
        Some(p) => Some(files::dh_params(p)?),
        None => None,
    };

    let mut warnings = Vec::new();
    if !verify {
        warnings.push(
            "verify=0 in [sst] sockopt: peer certificates are NOT checked; the transfer is \
             encrypted but anyone can connect to the joiner or impersonate it"
                .to_string(),
        );
    }
    if trust.file.is_none() && trust.path.is_none() && verify {
        warnings.push(
            "no [sst] tca or tcapath configured: trusting every certificate in the system \
             store (socat's behaviour); configure tca to trust only your cluster CA"
                .to_string(),
        );
    }
    if let Some(p) = &trust.path {
        if !trust.path_hashed {
            warnings.push(format!(
                "{p} holds no <hash>.N entries, so OpenSSL finds no CA there; run `openssl \
                 rehash {}`",
                p.path.display()
            ));
        }
    }

    check_dates(leaf, cert_path, verify, &mut warnings)?;
    check_chain(&trust, &chain, cert_path, verify, &mut warnings)?;

    let report = Preflight {
        subject: subject_line(leaf.subject_name()),
        names: CertNames::from_cert(leaf).display_list(),
        not_after: leaf.not_after().to_string(),
        trust: trust.source(),
        verify,
        warnings,
    };
    Ok((
        report,
        Material {
            chain,
            key,
            trust,
            dh,
        },
    ))
}

fn check_dates(
    leaf: &X509,
    path: &std::path::Path,
    verify: bool,
    warnings: &mut Vec<String>,
) -> Result<(), TlsError> {
    let now = Asn1Time::days_from_now(0).map_err(|source| TlsError::Setup {
        what: "reading the clock",
        source,
    })?;
    let problem = if leaf.not_after().compare(&now).ok() == Some(Ordering::Less) {
        Some(format!("certificate expired on {}", leaf.not_after()))
    } else if leaf.not_before().compare(&now).ok() == Some(Ordering::Greater) {
        Some(format!(
            "certificate is not valid before {}",
            leaf.not_before()
        ))
    } else {
        None
    };
    match problem {
        Some(p) if verify => Err(files::bad(CnfKey::Tcert, path, p)),
        Some(p) => {
            warnings.push(format!("[sst] tcert {}: {p}", path.display()));
            Ok(())
        }
        None => Ok(()),
    }
}

/// Verifies our own chain against the anchors: an error with a configured CA
/// (peers using the same `tca` would reject us), a warning with the system
/// store or `verify=0`. Then warns when an EKU rules out one of the roles.
fn check_chain(
    trust: &Trust,
    chain: &[X509],
    path: &std::path::Path,
    verify: bool,
    warnings: &mut Vec<String>,
) -> Result<(), TlsError> {
    let verdict = |purpose: Option<X509PurposeId>| -> Result<Option<String>, TlsError> {
        let mut store = trust.store()?;
        if let Some(p) = purpose {
            store.set_purpose(p).map_err(|source| TlsError::Setup {
                what: "certificate purpose",
                source,
            })?;
        }
        let store = store.build();
        let run = || -> Result<Option<String>, openssl::error::ErrorStack> {
            let mut extra = Stack::new()?;
            for c in &chain[1..] {
                extra.push(c.clone())?;
            }
            let mut ctx = X509StoreContext::new()?;
            ctx.init(&store, &chain[0], &extra, |c| {
                if c.verify_cert()? {
                    Ok(None)
                } else {
                    Ok(Some(describe_failure(c.error(), c.error_depth(), c)))
                }
            })
        };
        run().map_err(|source| TlsError::Setup {
            what: "verifying our certificate",
            source,
        })
    };
    if let Some(why) = verdict(None)? {
        let mut reason = format!("certificate does not chain to {}: {why}", trust.describe());
        if let Some(p) = trust.path.as_ref().filter(|_| !trust.path_hashed) {
            reason.push_str(&format!(
                "; {} has no <hash>.N entries (run `openssl rehash {}`)",
                p.key,
                p.path.display()
            ));
        }
        let configured = trust.file.is_some() || trust.path.is_some();
        if verify && configured {
            return Err(files::bad(CnfKey::Tcert, path, reason));
        }
        warnings.push(format!("[sst] tcert {}: {reason}", path.display()));
        return Ok(());
    }
    for (purpose, role) in [
        (X509PurposeId::SSL_SERVER, "a server (joiner)"),
        (X509PurposeId::SSL_CLIENT, "a client (donor)"),
    ] {
        if let Some(why) = verdict(Some(purpose))? {
            warnings.push(format!(
                "[sst] tcert {}: certificate cannot act as {role}: {why}; a node certificate \
                 needs no extendedKeyUsage, or both serverAuth and clientAuth",
                path.display()
            ));
        }
    }
    Ok(())
}

fn describe_failure(
    err: X509VerifyResult,
    depth: u32,
    ctx: &openssl::x509::X509StoreContextRef,
) -> String {
    let subject = ctx
        .current_cert()
        .map(|c| subject_line(c.subject_name()))
        .unwrap_or_default();
    format!("{} (depth {depth}, subject {subject})", err.error_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_with_the_essentials() {
        let p = Preflight {
            subject: "CN=node".into(),
            names: vec!["DNS:node".into()],
            not_after: "Jan  1 00:00:00 2030 GMT".into(),
            trust: TrustSource::File("/etc/ca.pem".into()),
            verify: true,
            warnings: vec![],
        };
        let s = p.to_string();
        assert!(!s.contains('\n'));
        assert!(s.contains("CN=node") && s.contains("file /etc/ca.pem") && s.contains("2030"));
    }
}
