//! The individual start-up checks, shared by [`super::load`] (which stops at
//! the first error, as an SST must) and `sst-tunnel check` (which reports
//! every check on its own line): key file permissions, the validity window,
//! the chain against the configured anchors, the extended key usage, the
//! trust configuration itself, and the `sockopt` items that weaken the
//! identity check (`verify=0`, an empty `commonname=`).

use std::cmp::Ordering;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::stack::Stack;
use openssl::x509::{X509PurposeId, X509StoreContext, X509VerifyResult, X509};

use super::super::files::{CnfKey, FileKeys, KeyedPath, TlsRole};
use super::super::policy::subject_line;
use super::super::trust::Trust;
use super::super::{SockOpts, TlsError, TlsSettings};

/// A certificate expiring within this many days draws a warning.
pub const EXPIRY_WARN_DAYS: i32 = 30;

/// The private key file's permission problem, if any: readable by group or
/// others. One line naming the key, the file, its mode and the fix.
pub fn key_permissions(key: &CnfKey, path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    if mode & 0o044 == 0 {
        return None;
    }
    let who = match (mode & 0o040 != 0, mode & 0o004 != 0) {
        (true, true) => "group and others",
        (true, false) => "its group",
        _ => "others",
    };
    Some(format!(
        "{}: the private key file is readable by {who} (mode {mode:04o}); \
         run `chmod 600 {}`",
        key.at(path),
        path.display()
    ))
}

/// Where now falls in a certificate's validity window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DateStatus {
    /// notAfter is in the past.
    Expired {
        /// notAfter, as OpenSSL prints it.
        not_after: String,
    },
    /// notBefore is in the future.
    NotYetValid {
        /// notBefore, as OpenSSL prints it.
        not_before: String,
    },
    /// Valid now.
    Valid {
        /// notAfter, as OpenSSL prints it.
        not_after: String,
        /// Whole days until notAfter.
        days_left: i32,
    },
}

impl DateStatus {
    /// The problem that makes the certificate unusable now, if any.
    pub fn problem(&self) -> Option<String> {
        match self {
            DateStatus::Expired { not_after } => {
                Some(format!("certificate expired on {not_after}"))
            }
            DateStatus::NotYetValid { not_before } => {
                Some(format!("certificate is not valid before {not_before}"))
            }
            DateStatus::Valid { .. } => None,
        }
    }

    /// The warning for a certificate that expires within [`EXPIRY_WARN_DAYS`].
    pub fn expiry_warning(&self) -> Option<String> {
        match self {
            DateStatus::Valid {
                not_after,
                days_left,
            } if *days_left < EXPIRY_WARN_DAYS => Some(format!(
                "certificate expires on {not_after} ({days_left} days left); renew it \
                 before it stops every SST"
            )),
            _ => None,
        }
    }
}

/// Compares `leaf`'s validity window with the clock.
pub fn date_status(leaf: &X509) -> Result<DateStatus, TlsError> {
    let setup = |source| TlsError::Setup {
        what: "reading the clock",
        source,
    };
    let now = Asn1Time::days_from_now(0).map_err(setup)?;
    if leaf.not_after().compare(&now).ok() == Some(Ordering::Less) {
        return Ok(DateStatus::Expired {
            not_after: leaf.not_after().to_string(),
        });
    }
    if leaf.not_before().compare(&now).ok() == Some(Ordering::Greater) {
        return Ok(DateStatus::NotYetValid {
            not_before: leaf.not_before().to_string(),
        });
    }
    let diff = now.diff(leaf.not_after()).map_err(setup)?;
    Ok(DateStatus::Valid {
        not_after: leaf.not_after().to_string(),
        days_left: diff.days,
    })
}

/// Verifies `chain` (leaf first, intermediates after it) against the
/// anchors of `trust`, for `purpose` if given. `Ok(None)` means it verifies;
/// `Ok(Some(why))` names the failing check, depth and subject.
pub(crate) fn verify_chain(
    trust: &Trust,
    chain: &[X509],
    purpose: Option<X509PurposeId>,
) -> Result<Option<String>, TlsError> {
    let mut store = trust.store()?;
    if let Some(p) = purpose {
        store.set_purpose(p).map_err(|source| TlsError::Setup {
            what: "certificate purpose",
            source,
        })?;
    }
    let store = store.build();
    let Some((leaf, rest)) = chain.split_first() else {
        return Ok(Some(
            "the certificate file holds no certificate".to_string(),
        ));
    };
    let run = || -> Result<Option<String>, openssl::error::ErrorStack> {
        let mut extra = Stack::new()?;
        for c in rest {
            extra.push(c.clone())?;
        }
        let mut ctx = X509StoreContext::new()?;
        ctx.init(&store, leaf, &extra, |c| {
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

/// The two roles a node certificate serves, with the purpose OpenSSL checks for each.
pub(crate) const ROLES: [(X509PurposeId, &str); 2] = [
    (X509PurposeId::SSL_SERVER, "a server (joiner)"),
    (X509PurposeId::SSL_CLIENT, "a client (donor)"),
];

/// The roles whose purpose a certificate must allow: both, or only `only`
/// when it came from a role-specific option (`ssl-server-cert` serves the
/// joiner alone).
pub(crate) fn roles(only: Option<TlsRole>) -> Vec<(X509PurposeId, &'static str)> {
    ROLES
        .into_iter()
        .zip(TlsRole::BOTH)
        .filter(|(_, role)| only.map_or(true, |o| o == *role))
        .map(|(r, _)| r)
        .collect()
}

/// The sentence explaining an EKU that rules out `role`.
pub fn eku_reason(role: &str, why: &str) -> String {
    format!(
        "certificate cannot act as {role}: {why}; a node certificate needs no \
         extendedKeyUsage, or both serverAuth and clientAuth"
    )
}

/// A `sockopt` item that turns part of the peer identity check off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityWarning {
    /// The item's option name (`verify`, `commonname`).
    pub option: &'static str,
    /// The warning, naming the item and what it turns off.
    pub text: String,
}

/// The loud warnings for `sockopt` items that weaken the identity check:
/// `verify=0` (no certificate checked at all) and, with verification on,
/// an empty `commonname=` (the donor checks no name on the joiner).
pub fn identity_warnings(opts: &SockOpts) -> Vec<IdentityWarning> {
    let mut out = Vec::new();
    if !opts.verify {
        out.push(IdentityWarning {
            option: "verify",
            text: "verify=0 in [sst] sockopt: peer certificates are NOT checked; the transfer \
                   is encrypted but anyone can connect to the joiner or impersonate it"
                .to_string(),
        });
    } else if opts.commonname.as_deref() == Some("") {
        out.push(IdentityWarning {
            option: "commonname",
            text: "commonname= (cn=) is empty in [sst] sockopt: as a donor this node checks NO \
                   name on the joiner's certificate, only its chain, so any certificate from \
                   the trusted CA can impersonate the joiner; remove the item, or set cn=NAME \
                   to require that name"
                .to_string(),
        });
    }
    out
}

/// Warnings about the trust configuration itself: the system store, a CA
/// directory without hash entries. `keys` says whether MariaDB's `ssl-ca`
/// and `ssl-capath` were looked at too (no legacy key set).
pub(crate) fn trust_warnings(trust: &Trust, verify: bool, keys: &FileKeys) -> Vec<String> {
    let mut warnings = Vec::new();
    if trust.file.is_none() && trust.path.is_none() && verify {
        let nor = if matches!(keys.cert, CnfKey::Ssl(_)) {
            " (nor ssl-ca or ssl-capath)"
        } else {
            ""
        };
        warnings.push(format!(
            "no [sst] tca or tcapath configured{nor}: trusting every certificate in the system \
             store (socat's behaviour); configure tca to trust only your cluster CA"
        ));
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
    warnings
}

/// Warnings for the CA certificates (the `tca` file's anchors and the
/// intermediates of the tcert file) that expire within [`EXPIRY_WARN_DAYS`]:
/// when they do, every chain through them stops verifying. An expired one
/// already fails the chain check, so it is not repeated here.
pub(crate) fn ca_expiry_warnings(
    trust: &Trust,
    chain: &[X509],
    cert: &KeyedPath,
) -> Result<Vec<String>, TlsError> {
    let mut out = Vec::new();
    let tcert = cert.to_string();
    let anchors = trust
        .file
        .as_ref()
        .map(|f| f.to_string())
        .unwrap_or_default();
    let intermediates = chain
        .iter()
        .skip(1)
        .map(|c| (tcert.as_str(), "intermediate", c));
    let roots = trust.file_certs.iter().map(|c| (anchors.as_str(), "CA", c));
    for (origin, kind, cert) in intermediates.chain(roots) {
        if let DateStatus::Valid {
            not_after,
            days_left,
        } = date_status(cert)?
        {
            if days_left < EXPIRY_WARN_DAYS {
                out.push(format!(
                    "{origin}: {kind} certificate {} expires on {not_after} ({days_left} days \
                     left); every chain through it stops verifying then",
                    subject_line(cert.subject_name())
                ));
            }
        }
    }
    Ok(out)
}

/// What `sst-tunnel check` reports about the chain, from one load of the anchors.
#[derive(Clone, Debug)]
pub struct ChainReport {
    /// The anchors, for messages (`[sst] tca /etc/ca.pem`, or the system store).
    pub trust: String,
    /// Whether a CA is configured (not the system store).
    pub configured: bool,
    /// Why the chain does not verify, if it does not (no purpose checked).
    pub chain: Option<String>,
    /// For each role the certificate cannot serve: the role and the reason.
    pub roles: Vec<(&'static str, String)>,
    /// [`identity_warnings`]: `sockopt` items weakening the identity check.
    pub identity: Vec<IdentityWarning>,
    /// `trust_warnings`, then CA certificates expiring soon (each starting
    /// with the key and file it came from).
    pub warnings: Vec<String>,
}

/// Loads the anchors of `settings` and verifies `chain` against them, with
/// no purpose and then for each role the certificate serves (both, or the
/// one of its role-specific option). An error names the CA key and file, as
/// `keys` says.
pub fn chain_report(
    settings: &TlsSettings,
    keys: &FileKeys,
    chain: &[X509],
) -> Result<ChainReport, TlsError> {
    let trust = Trust::load(settings, keys)?;
    let verdict = verify_chain(&trust, chain, None)?;
    let mut roles = Vec::new();
    if verdict.is_none() {
        for (purpose, role) in self::roles(keys.only_role) {
            if let Some(why) = verify_chain(&trust, chain, Some(purpose))? {
                roles.push((role, why));
            }
        }
    }
    let cert = KeyedPath {
        key: keys.cert.clone(),
        path: settings.cert.clone(),
    };
    let mut warnings = trust_warnings(&trust, settings.opts.verify, keys);
    warnings.extend(ca_expiry_warnings(&trust, chain, &cert)?);
    Ok(ChainReport {
        trust: trust.describe(),
        configured: trust.file.is_some() || trust.path.is_some(),
        chain: verdict,
        roles,
        identity: identity_warnings(&settings.opts),
        warnings,
    })
}
