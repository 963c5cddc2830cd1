//! Which certificates we trust: `[sst] tca` (a file, or a directory used as a
//! CA path), `[sst] tcapath` (or the MariaDB options the configuration
//! resolved in their place, named by [`FileKeys`]), the `cafile`/`capath`
//! sockopt items standing in for them, or, with none of these, the system
//! store (socat's behaviour, said loudly). The store always replaces
//! OpenSSL's default one.

use std::fmt;
use std::path::PathBuf;

use openssl::x509::store::{X509Lookup, X509Store, X509StoreBuilder};
use openssl::x509::X509;

use super::files::{self, CnfKey, FileKeys, KeyedPath};
use super::sockopt::{SockoptError, SockoptErrorKind};
use super::{TlsError, TlsSettings};

/// Where the trust anchors come from (for the start-up log line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustSource {
    /// A PEM bundle.
    File(PathBuf),
    /// A hashed directory.
    Path(PathBuf),
    /// Both a bundle and a directory.
    FileAndPath(PathBuf, PathBuf),
    /// The system default store (no CA configured).
    System,
}

impl fmt::Display for TrustSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustSource::File(p) => write!(f, "file {}", p.display()),
            TrustSource::Path(p) => write!(f, "path {}", p.display()),
            TrustSource::FileAndPath(a, b) => {
                write!(f, "file {} and path {}", a.display(), b.display())
            }
            TrustSource::System => f.write_str("system default store"),
        }
    }
}

/// The resolved trust configuration, with anchors already loaded.
pub(crate) struct Trust {
    pub file: Option<KeyedPath>,
    pub path: Option<KeyedPath>,
    /// Certificates read from `file`.
    pub file_certs: Vec<X509>,
    /// Whether `path` holds any hash entries.
    pub path_hashed: bool,
}

impl Trust {
    pub fn source(&self) -> TrustSource {
        match (&self.file, &self.path) {
            (Some(f), Some(p)) => TrustSource::FileAndPath(f.path.clone(), p.path.clone()),
            (Some(f), None) => TrustSource::File(f.path.clone()),
            (None, Some(p)) => TrustSource::Path(p.path.clone()),
            (None, None) => TrustSource::System,
        }
    }

    /// The configured location(s), for messages: `[sst] tca /x`.
    pub fn describe(&self) -> String {
        match (&self.file, &self.path) {
            (Some(f), Some(p)) => format!("{f} and {p}"),
            (Some(f), None) => f.to_string(),
            (None, Some(p)) => p.to_string(),
            (None, None) => "the system default store".to_string(),
        }
    }

    /// Reads the configured files, named in messages by `keys`; see
    /// [`TlsSettings::merge_sockopt_ca`] for the rules.
    pub fn load(settings: &TlsSettings, keys: &FileKeys) -> Result<Trust, TlsError> {
        check_sockopt_ca(settings, keys)?;
        let mut file = settings.ca_file.clone().map(|path| KeyedPath {
            key: keys.ca_file.clone(),
            path,
        });
        let mut path = settings.ca_path.clone().map(|path| KeyedPath {
            key: keys.ca_path.clone(),
            path,
        });
        if file.is_none() && path.is_none() {
            file = settings.opts.cafile.clone().map(|path| KeyedPath {
                key: CnfKey::SockoptCafile,
                path,
            });
            path = settings.opts.capath.clone().map(|path| KeyedPath {
                key: CnfKey::SockoptCapath,
                path,
            });
        }
        // A `tca` that names a directory is used as a CA path (MariaDB's rule).
        if let Some(f) = &file {
            if f.path.is_dir() {
                if let Some(p) = &path {
                    return Err(files::bad(
                        &f.key,
                        &f.path,
                        if f.key == CnfKey::Tca && p.key == CnfKey::Tcapath {
                            "is a directory, and [sst] tcapath is set too; make tca a file"
                                .to_string()
                        } else {
                            format!("is a directory, and {} is set too; make it a file", p.key)
                        },
                    ));
                }
                path = file.take();
            }
        }
        let file_certs = match &file {
            Some(f) => files::certificates(&f.key, &f.path)?,
            None => Vec::new(),
        };
        let path_hashed = match &path {
            Some(p) => files::ca_dir(&p.key, &p.path)?,
            None => false,
        };
        Ok(Trust {
            file,
            path,
            file_certs,
            path_hashed,
        })
    }

    /// A fresh store holding exactly the configured anchors (or the system ones).
    pub fn store(&self) -> Result<X509StoreBuilder, TlsError> {
        let setup = |what| move |source| TlsError::Setup { what, source };
        let mut b = X509StoreBuilder::new().map_err(setup("certificate store"))?;
        for c in &self.file_certs {
            b.add_cert(c.clone())
                .map_err(setup("adding a CA certificate"))?;
        }
        if let Some(p) = &self.path {
            let dir = p
                .path
                .to_str()
                .ok_or_else(|| files::bad(&p.key, &p.path, "the name is not valid UTF-8"))?;
            b.add_lookup(X509Lookup::hash_dir())
                .and_then(|l| l.add_dir(dir, openssl::ssl::SslFiletype::PEM))
                .map_err(setup("CA directory lookup"))?;
        }
        if self.file.is_none() && self.path.is_none() {
            b.set_default_paths()
                .map_err(setup("system certificate store"))?;
        }
        Ok(b)
    }

    pub fn build_store(&self) -> Result<X509Store, TlsError> {
        Ok(self.store()?.build())
    }
}

/// sockopt `cafile`/`capath` may only stand in for a missing `tca`/`tcapath`
/// (socat aborts on a repeated `cafile`); `keys` names what configured them.
pub(crate) fn check_sockopt_ca(
    settings: &TlsSettings,
    keys: &FileKeys,
) -> Result<(), SockoptError> {
    let configured = match (&settings.ca_file, &settings.ca_path) {
        (Some(_), _) => &keys.ca_file,
        (None, Some(_)) => &keys.ca_path,
        (None, None) => return Ok(()),
    };
    let conflict = |name: &str, p: &PathBuf| SockoptError {
        item: format!("{name}={}", p.display()),
        kind: SockoptErrorKind::Conflict,
        reason: format!(
            "the CA is already configured by {configured}; set it in one place only \
             (socat aborts on a repeated cafile too)"
        ),
    };
    if let Some(p) = &settings.opts.cafile {
        return Err(conflict("cafile", p));
    }
    if let Some(p) = &settings.opts.capath {
        return Err(conflict("capath", p));
    }
    Ok(())
}
