//! Start-up checks of every configured TLS file, run in both roles before
//! anything listens or connects: readable, parses, key matches certificate,
//! certificate chains to the CA (using the intermediates bundled in the
//! certificate file, MDEV-35812), not expired and already valid. Each failure
//! is one line naming the `[sst]` key, the path and the cause. Warnings (the
//! start goes on): a private key file readable by group or others, a
//! certificate (or a CA or intermediate) expiring within [`EXPIRY_WARN_DAYS`], an EKU that rules out
//! one role (only the role it serves, for a certificate from a role-specific
//! MariaDB option), `verify=0`, an empty `commonname=`, the system store.
//! Every message names the file's key as [`FileKeys`] says (`[sst] tcert`,
//! `[mysqld] ssl-cert … (from /etc/my.cnf:3)`).
//!
//! [`super::TlsServer::new`] and [`super::TlsClient::new`] run these checks
//! themselves (and log the warnings); call [`preflight`] directly only for a
//! check without building a context (`sst-tunnel check`).

mod checks;

use std::fmt;
use std::path::PathBuf;

use openssl::dh::Dh;
use openssl::pkey::{PKey, Params, Private};
use openssl::x509::X509;

pub use checks::{
    chain_report, date_status, eku_reason, identity_warnings, key_permissions, ChainReport,
    DateStatus, IdentityWarning, EXPIRY_WARN_DAYS,
};

use super::files::{self, CnfKey, FileKeys, KeyedPath, TlsRole};
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
    /// The same names, typed, for name checks against an address.
    pub cert_names: CertNames,
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

/// Runs every start-up check, naming the files by the legacy `[sst]` keys;
/// see the module documentation.
pub fn preflight(settings: &TlsSettings) -> Result<Preflight, TlsError> {
    preflight_with(settings, &FileKeys::default())
}

/// [`preflight()`], naming each file by the key `keys` says it came from.
pub fn preflight_with(settings: &TlsSettings, keys: &FileKeys) -> Result<Preflight, TlsError> {
    load(settings, keys).map(|(p, _)| p)
}

pub(crate) fn load(
    settings: &TlsSettings,
    keys: &FileKeys,
) -> Result<(Preflight, Material), TlsError> {
    let verify = settings.opts.verify;
    let trust = Trust::load(settings, keys)?;
    let cert_path = &settings.cert;
    let chain = files::certificates(&keys.cert, cert_path)?;
    let source = key_source(settings, keys);
    let key = source.load()?;
    let leaf = &chain[0];
    if let Some(e) = key_mismatch(settings, keys, leaf, &key) {
        return Err(e);
    }
    let dh = match &settings.opts.dhparam {
        Some(p) => Some(files::dh_params(p)?),
        None => None,
    };

    let mut warnings: Vec<String> = checks::identity_warnings(&settings.opts)
        .into_iter()
        .map(|w| w.text)
        .collect();
    warnings.extend(checks::trust_warnings(&trust, verify, keys));
    if let Some(w) = checks::key_permissions(&source.key, &source.path) {
        warnings.push(w);
    }

    let cert = KeyedPath {
        key: keys.cert.clone(),
        path: cert_path.clone(),
    };
    check_dates(leaf, &cert, verify, &mut warnings)?;
    check_chain(
        &trust,
        &chain,
        &cert,
        (verify, keys.only_role),
        &mut warnings,
    )?;
    warnings.extend(checks::ca_expiry_warnings(&trust, &chain, &cert)?);

    let report = Preflight {
        subject: subject_line(leaf.subject_name()),
        names: CertNames::from_cert(leaf).display_list(),
        cert_names: CertNames::from_cert(leaf),
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

/// Where the private key is read from: the key file and its key, or the
/// certificate file when no key file is configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySource {
    /// The key naming the file (`[sst] tkey`, or the certificate's key).
    pub key: CnfKey,
    /// The file.
    pub path: PathBuf,
    /// When the key is read from the certificate file: the keys that would
    /// have named a separate one (`[sst] tkey`), for messages.
    pub in_cert_file: Option<String>,
}

impl KeySource {
    /// Reads and parses the private key.
    pub fn load(&self) -> Result<PKey<Private>, TlsError> {
        files::private_key(&self.key, &self.path, self.in_cert_file.as_deref())
    }
}

/// Which key names the private key's file: `[sst] tkey` (or what `keys`
/// says stood in for it), else the certificate file.
pub fn key_source(settings: &TlsSettings, keys: &FileKeys) -> KeySource {
    match &settings.key {
        Some(k) => KeySource {
            key: keys.key.clone(),
            path: k.clone(),
            in_cert_file: None,
        },
        None => KeySource {
            key: keys.cert.clone(),
            path: settings.cert.clone(),
            in_cert_file: Some(keys.key_names.clone()),
        },
    }
}

/// The error for a private key that does not belong to `leaf`, naming both files.
pub fn key_mismatch(
    settings: &TlsSettings,
    keys: &FileKeys,
    leaf: &X509,
    key: &PKey<Private>,
) -> Option<TlsError> {
    let matches = leaf
        .public_key()
        .map(|pk| pk.public_eq(key))
        .unwrap_or(false);
    if matches {
        return None;
    }
    let source = key_source(settings, keys);
    let reason = if source.in_cert_file.is_none() {
        format!(
            "private key does not match the certificate in {}",
            keys.cert.at(&settings.cert)
        )
    } else {
        "the private key in the file does not match its first certificate".to_string()
    };
    Some(files::bad(&source.key, &source.path, reason))
}

fn check_dates(
    leaf: &X509,
    cert: &KeyedPath,
    verify: bool,
    warnings: &mut Vec<String>,
) -> Result<(), TlsError> {
    let status = checks::date_status(leaf)?;
    if let Some(w) = status.expiry_warning() {
        warnings.push(format!("{cert}: {w}"));
    }
    match status.problem() {
        Some(p) if verify => Err(files::bad(&cert.key, &cert.path, p)),
        Some(p) => {
            warnings.push(format!("{cert}: {p}"));
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
    cert: &KeyedPath,
    (verify, only_role): (bool, Option<TlsRole>),
    warnings: &mut Vec<String>,
) -> Result<(), TlsError> {
    if let Some(why) = checks::verify_chain(trust, chain, None)? {
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
            return Err(files::bad(&cert.key, &cert.path, reason));
        }
        warnings.push(format!("{cert}: {reason}"));
        return Ok(());
    }
    for (purpose, role) in checks::roles(only_role) {
        if let Some(why) = checks::verify_chain(trust, chain, Some(purpose))? {
            warnings.push(format!("{cert}: {}", checks::eku_reason(role, &why)));
        }
    }
    Ok(())
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
            cert_names: CertNames::default(),
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
