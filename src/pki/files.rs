//! The PEM files the factory writes: a CA's certificate (a `tca` file), a
//! node's chain, leaf, key and combined files ([`LeafFiles`]), bundles of
//! several anchors and `capath` directories of hash links. Files holding a
//! private key are written with mode 0600.

use std::fs;
use std::path::{Path, PathBuf};

use openssl::x509::X509Ref;

use super::{build_error, Ca, Leaf, PkiError};

/// The PEM files [`Leaf::write`] produced.
#[derive(Clone, Debug)]
pub struct LeafFiles {
    /// `STEM.crt`: leaf then intermediates, the file `[sst] tcert` names.
    pub cert: PathBuf,
    /// `STEM.leaf.crt`: the leaf alone.
    pub leaf: PathBuf,
    /// `STEM.key`: the private key (PKCS#8 PEM, mode 0600), for `[sst] tkey`.
    pub key: PathBuf,
    /// `STEM.pem`: leaf, intermediates and key in one file (tcert without tkey; mode 0600).
    pub combined: PathBuf,
}

impl Ca {
    /// Writes `DIR/STEM.crt` holding this CA's certificate (a `tca` file) and returns its path.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<PathBuf, PkiError> {
        let path = dir.join(format!("{stem}.crt"));
        write_file(&path, &self.cert_pem()?)?;
        Ok(path)
    }
}

impl Leaf {
    /// Writes `STEM.crt`, `STEM.leaf.crt`, `STEM.key` and `STEM.pem` into `dir`.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<LeafFiles, PkiError> {
        let files = LeafFiles {
            cert: dir.join(format!("{stem}.crt")),
            leaf: dir.join(format!("{stem}.leaf.crt")),
            key: dir.join(format!("{stem}.key")),
            combined: dir.join(format!("{stem}.pem")),
        };
        let chain = self.chain_pem()?;
        let key = self.key_pem()?;
        write_file(&files.cert, &chain)?;
        write_file(&files.leaf, &self.pem(&self.cert)?)?;
        write_private(&files.key, &key)?;
        let mut combined = chain;
        combined.extend(key);
        write_private(&files.combined, &combined)?;
        Ok(files)
    }
}

/// Writes several certificates into one PEM bundle (a `tca` holding more than one anchor).
pub fn write_bundle(path: &Path, certs: &[&X509Ref]) -> Result<(), PkiError> {
    let mut out = Vec::new();
    for c in certs {
        out.extend(c.to_pem().map_err(|source| build_error("bundle", source))?);
    }
    write_file(path, &out)
}

/// Writes certificates into `dir` as OpenSSL hash links (`<subject hash>.N`),
/// the layout a `tcapath` / `capath` directory needs (`openssl rehash`).
pub fn write_capath(dir: &Path, certs: &[&X509Ref]) -> Result<(), PkiError> {
    fs::create_dir_all(dir).map_err(|source| PkiError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    for c in certs {
        let hash = c.subject_name_hash();
        let mut n = 0;
        let path = loop {
            let p = dir.join(format!("{hash:08x}.{n}"));
            if !p.exists() {
                break p;
            }
            n += 1;
        };
        write_file(
            &path,
            &c.to_pem().map_err(|source| build_error("capath", source))?,
        )?;
    }
    Ok(())
}

fn write_file(path: &Path, data: &[u8]) -> Result<(), PkiError> {
    fs::write(path, data).map_err(|source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a file holding a private key, readable by its owner only (mode
/// 0600, as a key must be: `sst-tunnel check` and the SST warn otherwise).
fn write_private(path: &Path, data: &[u8]) -> Result<(), PkiError> {
    use std::os::unix::fs::PermissionsExt;
    write_file(path, data)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    })
}
