//! Reading the configured TLS files (certificate chain, private key, CA
//! bundle, CA directory, DH parameters) with errors that name the `[sst]` key,
//! the path and the cause. Everything is read into memory here, once, so that
//! OpenSSL never opens a path itself (it would prompt for passphrases and
//! cannot report which key a path came from).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use openssl::dh::Dh;
use openssl::pkey::{PKey, Params, Private};
use openssl::x509::X509;

use super::TlsError;

/// Which configuration key a file came from, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CnfKey {
    /// `[sst] tca`.
    Tca,
    /// `[sst] tcapath`.
    Tcapath,
    /// `[sst] tcert`.
    Tcert,
    /// `[sst] tkey`.
    Tkey,
    /// `cafile=` in `[sst] sockopt`.
    SockoptCafile,
    /// `capath=` in `[sst] sockopt`.
    SockoptCapath,
    /// `dhparam=` in `[sst] sockopt`.
    SockoptDhparam,
}

impl fmt::Display for CnfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CnfKey::Tca => "[sst] tca",
            CnfKey::Tcapath => "[sst] tcapath",
            CnfKey::Tcert => "[sst] tcert",
            CnfKey::Tkey => "[sst] tkey",
            CnfKey::SockoptCafile => "[sst] sockopt cafile",
            CnfKey::SockoptCapath => "[sst] sockopt capath",
            CnfKey::SockoptDhparam => "[sst] sockopt dhparam",
        })
    }
}

pub(crate) fn bad(key: CnfKey, path: &Path, reason: impl Into<String>) -> TlsError {
    TlsError::BadFile {
        key,
        path: path.to_path_buf(),
        reason: reason.into(),
        source: None,
    }
}

fn bad_ssl(
    key: CnfKey,
    path: &Path,
    reason: impl Into<String>,
    source: openssl::error::ErrorStack,
) -> TlsError {
    TlsError::BadFile {
        key,
        path: path.to_path_buf(),
        reason: reason.into(),
        source: Some(source),
    }
}

pub(crate) fn read(key: CnfKey, path: &Path) -> Result<Vec<u8>, TlsError> {
    if path.is_dir() {
        return Err(bad(key, path, "is a directory, expected a PEM file"));
    }
    fs::read(path).map_err(|source| TlsError::Unreadable {
        key,
        path: path.to_path_buf(),
        source,
    })
}

/// Reads PEM certificates; the file must hold at least one.
pub(crate) fn certificates(key: CnfKey, path: &Path) -> Result<Vec<X509>, TlsError> {
    let pem = read(key, path)?;
    if !contains(&pem, b"-----BEGIN CERTIFICATE-----")
        && !contains(&pem, b"-----BEGIN TRUSTED CERTIFICATE-----")
    {
        return Err(bad(key, path, "no PEM certificate found in the file"));
    }
    match X509::stack_from_pem(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        Ok(_) => Err(bad(key, path, "no PEM certificate found in the file")),
        Err(e) => Err(bad_ssl(key, path, "cannot parse the PEM certificates", e)),
    }
}

/// Reads the private key from `path` (the tkey file, or the tcert file when
/// no tkey is set). Encrypted keys are refused: nobody could type a passphrase.
pub(crate) fn private_key(key: CnfKey, path: &Path) -> Result<PKey<Private>, TlsError> {
    let pem = read(key, path)?;
    if contains(&pem, b"ENCRYPTED PRIVATE KEY") || contains(&pem, b"Proc-Type: 4,ENCRYPTED") {
        return Err(bad(
            key,
            path,
            "the private key is encrypted and sst-tunnel cannot prompt for a passphrase \
             (decrypt it with `openssl pkey -in KEY -out PLAIN`)",
        ));
    }
    if !contains(&pem, b"PRIVATE KEY-----") {
        let reason = if key == CnfKey::Tcert {
            "no private key in the file and no [sst] tkey configured"
        } else {
            "no PEM private key found in the file"
        };
        return Err(bad(key, path, reason));
    }
    // The callback refuses to supply a passphrase, so OpenSSL never prompts on a terminal.
    PKey::private_key_from_pem_callback(&pem, |_| Ok(0))
        .map_err(|e| bad_ssl(key, path, "cannot parse the private key", e))
}

/// Reads DH parameters.
pub(crate) fn dh_params(path: &Path) -> Result<Dh<Params>, TlsError> {
    let key = CnfKey::SockoptDhparam;
    let pem = read(key, path)?;
    Dh::params_from_pem(&pem).map_err(|e| bad_ssl(key, path, "cannot parse DH parameters", e))
}

/// Checks that a CA directory can be listed and reports whether it holds
/// any OpenSSL hash entries (`<8 hex>.<n>`).
pub(crate) fn ca_dir(key: CnfKey, path: &Path) -> Result<bool, TlsError> {
    if !path.is_dir() {
        if !path.exists() {
            return Err(TlsError::Unreadable {
                key,
                path: path.to_path_buf(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        return Err(bad(key, path, "is not a directory"));
    }
    let entries = fs::read_dir(path).map_err(|source| TlsError::Unreadable {
        key,
        path: path.to_path_buf(),
        source,
    })?;
    if path.to_str().is_none() {
        return Err(bad(key, path, "the directory name is not valid UTF-8"));
    }
    Ok(entries.filter_map(Result::ok).any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        match name.split_once('.') {
            Some((hash, n)) => {
                hash.len() == 8
                    && hash.chars().all(|c| c.is_ascii_hexdigit())
                    && n.chars().all(|c| c.is_ascii_digit())
            }
            None => false,
        }
    }))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A path with its key, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyedPath {
    pub key: CnfKey,
    pub path: PathBuf,
}

impl fmt::Display for KeyedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.key, self.path.display())
    }
}
