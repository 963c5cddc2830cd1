//! Reading the configured TLS files (certificate chain, private key, CA
//! bundle, CA directory, DH parameters) with errors that name the key the
//! file came from (`[sst] tcert`, or the MariaDB option standing in for it,
//! `[mysqld] ssl-cert` with the option file and line), the path and the
//! cause. Everything is read into memory here, once, so that OpenSSL never
//! opens a path itself (it would prompt for passphrases and cannot report
//! which key a path came from). [`FileKeys`] carries, beside a
//! [`TlsSettings`], the key each of its files came from (the configuration
//! resolves both, per [`TlsRole`]).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use openssl::dh::Dh;
use openssl::pkey::{PKey, Params, Private};
use openssl::x509::X509;

use super::{TlsError, TlsSettings};

/// The side of a transfer: MariaDB's role-specific TLS options depend on it
/// (`ssl-server-*` for the joiner, which accepts, `ssl-client-*` for the
/// donor, which connects).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsRole {
    /// The node that receives: the TLS server.
    Joiner,
    /// The node that sends: the TLS client.
    Donor,
}

impl TlsRole {
    /// Both roles, joiner first.
    pub const BOTH: [TlsRole; 2] = [TlsRole::Joiner, TlsRole::Donor];

    /// `joiner` or `donor`.
    pub fn name(self) -> &'static str {
        match self {
            TlsRole::Joiner => "joiner",
            TlsRole::Donor => "donor",
        }
    }

    /// The role of the node at the other end.
    pub fn other(self) -> TlsRole {
        match self {
            TlsRole::Joiner => TlsRole::Donor,
            TlsRole::Donor => TlsRole::Joiner,
        }
    }

    /// The prefix of MariaDB's options for this role (`ssl-server`, `ssl-client`).
    pub fn ssl_prefix(self) -> &'static str {
        match self {
            TlsRole::Joiner => "ssl-server",
            TlsRole::Donor => "ssl-client",
        }
    }
}

impl fmt::Display for TlsRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which configuration key a file came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CnfKey {
    /// `[sst] tca` (or `--tca`).
    Tca,
    /// `[sst] tcapath` (or `--tcapath`).
    Tcapath,
    /// `[sst] tcert` (or `--tcert`).
    Tcert,
    /// `[sst] tkey` (or `--tkey`).
    Tkey,
    /// `cafile=` in `[sst] sockopt`.
    SockoptCafile,
    /// `capath=` in `[sst] sockopt`.
    SockoptCapath,
    /// `dhparam=` in `[sst] sockopt`.
    SockoptDhparam,
    /// One of MariaDB's own TLS options (`ssl-cert`, `ssl-server-key`, …),
    /// read because neither `[sst]` nor the flags set `tca`, `tcapath`,
    /// `tcert` or `tkey`.
    /// Boxed: it is carried in every [`TlsError`] about a file.
    Ssl(Box<SslOption>),
}

/// A MariaDB TLS option that named a file, and where it was set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SslOption {
    /// The option as MariaDB spells it (`ssl-cert`, `ssl-client-key`).
    pub name: String,
    /// The group it was found in, as written in the file (`sst`, `mysqld`, `mariadb`).
    pub group: String,
    /// Where it was set (`/etc/my.cnf:12`), when known.
    pub origin: Option<String>,
}

impl CnfKey {
    /// The key and a file it named, for messages: `[sst] tcert /x.pem`, or
    /// `[mysqld] ssl-cert /x.pem (from /etc/my.cnf:12)`.
    pub fn at<'a>(&'a self, path: &'a Path) -> KeyAt<'a> {
        KeyAt { key: self, path }
    }
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
            CnfKey::Ssl(o) => return write!(f, "[{}] {}", o.group, o.name),
        })
    }
}

/// A key with a file it named; see [`CnfKey::at`].
pub struct KeyAt<'a> {
    key: &'a CnfKey,
    path: &'a Path,
}

impl fmt::Display for KeyAt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.key, self.path.display())?;
        match self.key {
            CnfKey::Ssl(o) => match &o.origin {
                Some(origin) => write!(f, " (from {origin})"),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

/// Which key named each file of a [`TlsSettings`]. The default is the
/// legacy `[sst]` keys, what the settings' fields are documented as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileKeys {
    /// The key of [`TlsSettings::ca_file`].
    pub ca_file: CnfKey,
    /// The key of [`TlsSettings::ca_path`].
    pub ca_path: CnfKey,
    /// The key of [`TlsSettings::cert`].
    pub cert: CnfKey,
    /// The key of [`TlsSettings::key`].
    pub key: CnfKey,
    /// The keys that would have named a separate private key file, for the
    /// message when the certificate file holds none (`[sst] tkey`).
    pub key_names: String,
    /// Keys that are set but not used, each with its file when known
    /// (MariaDB's `ssl-*` options when the legacy `[sst]` keys are set).
    pub unused: Vec<String>,
    /// The role our certificate serves alone, when the other role has a
    /// certificate of its own (MariaDB's `ssl-server-cert` and
    /// `ssl-client-cert`): only that role's extended key usage is checked.
    /// `None`: it serves both roles.
    pub only_role: Option<TlsRole>,
}

impl Default for FileKeys {
    fn default() -> Self {
        FileKeys {
            ca_file: CnfKey::Tca,
            ca_path: CnfKey::Tcapath,
            cert: CnfKey::Tcert,
            key: CnfKey::Tkey,
            key_names: CnfKey::Tkey.to_string(),
            unused: Vec::new(),
            only_role: None,
        }
    }
}

impl FileKeys {
    /// Whether any file came from one of MariaDB's `ssl-*` options, or such
    /// an option was left aside for the legacy keys.
    pub fn involves_ssl_options(&self) -> bool {
        let ssl = |k: &CnfKey| matches!(k, CnfKey::Ssl(_));
        !self.unused.is_empty()
            || [&self.ca_file, &self.ca_path, &self.cert, &self.key]
                .into_iter()
                .any(ssl)
    }

    /// Every file of `settings` with the key it came from, one line:
    /// `certificate [sst] tcert /x, private key [sst] tkey /y, CA file [mysqld] ssl-ca /z (from /etc/my.cnf:3)`.
    pub fn describe(&self, settings: &TlsSettings) -> String {
        let mut parts = vec![format!("certificate {}", self.cert.at(&settings.cert))];
        parts.push(match &settings.key {
            Some(k) => format!("private key {}", self.key.at(k)),
            None => "private key in the certificate file".to_string(),
        });
        let sockopt_file = settings
            .opts
            .cafile
            .as_ref()
            .map(|p| (CnfKey::SockoptCafile, p));
        let sockopt_path = settings
            .opts
            .capath
            .as_ref()
            .map(|p| (CnfKey::SockoptCapath, p));
        let configured = settings.ca_file.is_some() || settings.ca_path.is_some();
        let file = settings.ca_file.as_ref().map(|p| (self.ca_file.clone(), p));
        let path = settings.ca_path.as_ref().map(|p| (self.ca_path.clone(), p));
        let (file, path) = if configured {
            (file, path)
        } else {
            (sockopt_file, sockopt_path)
        };
        if let Some((k, p)) = &file {
            parts.push(format!("CA file {}", k.at(p)));
        }
        if let Some((k, p)) = &path {
            parts.push(format!("CA path {}", k.at(p)));
        }
        if file.is_none() && path.is_none() {
            parts.push("no CA configured (the system store)".to_string());
        }
        let mut line = parts.join(", ");
        if !self.unused.is_empty() {
            line.push_str(&format!(
                "; not used, because the legacy [sst] keys are set: {}",
                self.unused.join(", ")
            ));
        }
        line
    }
}

pub(crate) fn bad(key: &CnfKey, path: &Path, reason: impl Into<String>) -> TlsError {
    TlsError::BadFile {
        key: key.clone(),
        path: path.to_path_buf(),
        reason: reason.into(),
        source: None,
    }
}

fn bad_ssl(
    key: &CnfKey,
    path: &Path,
    reason: impl Into<String>,
    source: openssl::error::ErrorStack,
) -> TlsError {
    TlsError::BadFile {
        key: key.clone(),
        path: path.to_path_buf(),
        reason: reason.into(),
        source: Some(source),
    }
}

pub(crate) fn read(key: &CnfKey, path: &Path) -> Result<Vec<u8>, TlsError> {
    if path.is_dir() {
        return Err(bad(key, path, "is a directory, expected a PEM file"));
    }
    fs::read(path).map_err(|source| TlsError::Unreadable {
        key: key.clone(),
        path: path.to_path_buf(),
        source,
    })
}

/// Reads PEM certificates; the file must hold at least one.
pub(crate) fn certificates(key: &CnfKey, path: &Path) -> Result<Vec<X509>, TlsError> {
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
/// no tkey is set: then `in_cert_file` names the keys that would have named
/// a separate file, for the message). Encrypted keys are refused: nobody
/// could type a passphrase.
pub(crate) fn private_key(
    key: &CnfKey,
    path: &Path,
    in_cert_file: Option<&str>,
) -> Result<PKey<Private>, TlsError> {
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
        let reason = match in_cert_file {
            Some(names) => format!("no private key in the file and no {names} configured"),
            None => "no PEM private key found in the file".to_string(),
        };
        return Err(bad(key, path, reason));
    }
    // The callback refuses to supply a passphrase, so OpenSSL never prompts on a terminal.
    PKey::private_key_from_pem_callback(&pem, |_| Ok(0))
        .map_err(|e| bad_ssl(key, path, "cannot parse the private key", e))
}

/// Reads DH parameters.
pub(crate) fn dh_params(path: &Path) -> Result<Dh<Params>, TlsError> {
    let key = &CnfKey::SockoptDhparam;
    let pem = read(key, path)?;
    Dh::params_from_pem(&pem).map_err(|e| bad_ssl(key, path, "cannot parse DH parameters", e))
}

/// Checks that a CA directory can be listed and reports whether it holds
/// any OpenSSL hash entries (`<8 hex>.<n>`).
pub(crate) fn ca_dir(key: &CnfKey, path: &Path) -> Result<bool, TlsError> {
    if !path.is_dir() {
        if !path.exists() {
            return Err(TlsError::Unreadable {
                key: key.clone(),
                path: path.to_path_buf(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        return Err(bad(key, path, "is not a directory"));
    }
    let entries = fs::read_dir(path).map_err(|source| TlsError::Unreadable {
        key: key.clone(),
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
        self.key.at(&self.path).fmt(f)
    }
}
