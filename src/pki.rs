//! Throwaway certificates made with the openssl crate's X509 builder, for
//! `sst-tunnel demo` and the tests: a CA (and intermediates), node
//! certificates with chosen names, validity, key type and EKU, README-style
//! self-signed `CA:TRUE` node certificates, and PEM files written into a
//! directory. Nothing here is meant for production keys.
//!
//! ```no_run
//! # fn main() -> Result<(), sst_tunnel::pki::PkiError> {
//! use sst_tunnel::pki::{Ca, LeafSpec};
//! let dir = std::path::Path::new("/tmp/demo");
//! let ca = Ca::new("demo ca")?;
//! let ca_file = ca.write(dir, "ca")?;
//! let node = ca.issue(&LeafSpec::new("localhost").dns("localhost").ip("127.0.0.1"))?;
//! let files = node.write(dir, "node")?; // files.cert, files.key, files.combined
//! # Ok(()) }
//! ```
//!
//! [`LeafSpec`] and its choices (key type, validity, EKU) are in `spec`; the
//! PEM files ([`Ca::write`], [`Leaf::write`], bundles, `capath` directories)
//! in `files`; the X509 builder steps in `build`. This module issues.

mod build;
mod files;
mod spec;

use std::io;
use std::path::PathBuf;

use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::BasicConstraints;
use openssl::x509::{X509Ref, X509};

use build::{
    add_ca_extensions, add_leaf_extensions, base_builder, generate_key, is_self_signed, name_of,
};
pub use files::{write_bundle, write_capath, LeafFiles};
pub use spec::{Eku, KeyType, LeafSpec, Validity};

/// Errors of the certificate factory.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// OpenSSL refused to build or sign something.
    #[error("cannot build certificate `{what}`")]
    Build {
        /// The subject being built.
        what: String,
        /// OpenSSL's reason.
        #[source]
        source: ErrorStack,
    },
    /// A PEM file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// A certificate authority (root or intermediate) that can issue certificates.
pub struct Ca {
    /// The CA certificate.
    pub cert: X509,
    /// Its private key.
    pub key: PKey<Private>,
    /// The CAs above this one, nearest first, root excluded (empty for a root).
    pub chain: Vec<X509>,
    name: String,
}

/// An issued (or self-signed) node certificate with its key.
pub struct Leaf {
    /// The certificate.
    pub cert: X509,
    /// Its private key.
    pub key: PKey<Private>,
    /// Intermediates to send after the leaf, nearest first (root excluded).
    pub chain: Vec<X509>,
}

impl Ca {
    /// A self-signed root CA with an EC P-256 key, valid for ten years.
    pub fn new(name: &str) -> Result<Ca, PkiError> {
        Ca::with_key(name, KeyType::EcP256)
    }

    /// A self-signed root CA with the given key type.
    pub fn with_key(name: &str, key: KeyType) -> Result<Ca, PkiError> {
        let build = || -> Result<Ca, ErrorStack> {
            let pkey = generate_key(key)?;
            let subject = name_of(&[name.to_string()])?;
            let mut b = base_builder(&subject, &subject, &pkey, Validity::Days(3650))?;
            add_ca_extensions(&mut b, None)?;
            b.sign(&pkey, MessageDigest::sha256())?;
            Ok(Ca {
                cert: b.build(),
                key: pkey,
                chain: Vec::new(),
                name: name.to_string(),
            })
        };
        build().map_err(|source| build_error(name, source))
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, name: &str) -> Result<Ca, PkiError> {
        let build = || -> Result<Ca, ErrorStack> {
            let pkey = generate_key(KeyType::EcP256)?;
            let subject = name_of(&[name.to_string()])?;
            let mut b = base_builder(
                &subject,
                self.cert.subject_name(),
                &pkey,
                Validity::Days(3650),
            )?;
            add_ca_extensions(&mut b, Some(&self.cert))?;
            b.sign(&self.key, MessageDigest::sha256())?;
            let mut chain = Vec::with_capacity(self.chain.len() + 1);
            if !self.chain.is_empty() || !is_self_signed(&self.cert) {
                chain.push(self.cert.clone());
            }
            chain.extend(self.chain.iter().cloned());
            Ok(Ca {
                cert: b.build(),
                key: pkey,
                chain,
                name: name.to_string(),
            })
        };
        build().map_err(|source| build_error(name, source))
    }

    /// Issues a node certificate (`CA:FALSE`) as described by `spec`.
    pub fn issue(&self, spec: &LeafSpec) -> Result<Leaf, PkiError> {
        let build = || -> Result<Leaf, ErrorStack> {
            let pkey = generate_key(spec.key)?;
            let subject = name_of(&spec.cns)?;
            let mut b = base_builder(&subject, self.cert.subject_name(), &pkey, spec.validity)?;
            b.append_extension(BasicConstraints::new().critical().build()?)?;
            add_leaf_extensions(&mut b, spec, Some(&self.cert))?;
            b.sign(&self.key, MessageDigest::sha256())?;
            let mut chain = Vec::new();
            if !self.chain.is_empty() || !is_self_signed(&self.cert) {
                chain.push(self.cert.clone());
                chain.extend(self.chain.iter().cloned());
            }
            Ok(Leaf {
                cert: b.build(),
                key: pkey,
                chain,
            })
        };
        build().map_err(|source| build_error(&spec_name(spec), source))
    }

    /// The CA certificate in PEM.
    pub fn cert_pem(&self) -> Result<Vec<u8>, PkiError> {
        self.cert
            .to_pem()
            .map_err(|source| build_error(&self.name, source))
    }
}

impl Leaf {
    /// A README-style self-signed certificate (`openssl req -x509`): `CA:TRUE`,
    /// its own issuer, usable as its own trust anchor in a concatenated `tca`.
    pub fn self_signed(spec: &LeafSpec) -> Result<Leaf, PkiError> {
        let build = || -> Result<Leaf, ErrorStack> {
            let pkey = generate_key(spec.key)?;
            let subject = name_of(&spec.cns)?;
            let mut b = base_builder(&subject, &subject, &pkey, spec.validity)?;
            b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
            add_leaf_extensions(&mut b, spec, None)?;
            b.sign(&pkey, MessageDigest::sha256())?;
            Ok(Leaf {
                cert: b.build(),
                key: pkey,
                chain: Vec::new(),
            })
        };
        build().map_err(|source| build_error(&spec_name(spec), source))
    }

    /// Leaf then intermediates, PEM.
    pub fn chain_pem(&self) -> Result<Vec<u8>, PkiError> {
        let mut out = self.pem(&self.cert)?;
        for c in &self.chain {
            out.extend(self.pem(c)?);
        }
        Ok(out)
    }

    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> Result<Vec<u8>, PkiError> {
        self.key
            .private_key_to_pem_pkcs8()
            .map_err(|source| build_error("private key", source))
    }

    fn pem(&self, cert: &X509Ref) -> Result<Vec<u8>, PkiError> {
        cert.to_pem()
            .map_err(|source| build_error("certificate", source))
    }
}

fn build_error(what: &str, source: ErrorStack) -> PkiError {
    PkiError::Build {
        what: what.to_string(),
        source,
    }
}

fn spec_name(spec: &LeafSpec) -> String {
    spec.cns
        .first()
        .cloned()
        .or_else(|| spec.dns.first().cloned())
        .unwrap_or_else(|| "unnamed".to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn issued_leaf_verifies_against_its_root_through_the_intermediate() {
        let root = Ca::new("root").unwrap();
        let inter = root.intermediate("inter").unwrap();
        let leaf = inter
            .issue(&LeafSpec::new("node").dns("node.test"))
            .unwrap();
        assert_eq!(leaf.chain.len(), 1);
        assert!(inter.cert.verify(&root.key).unwrap());
        assert!(leaf.cert.verify(&inter.key).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let files = leaf.write(dir.path(), "node").unwrap();
        let pems = X509::stack_from_pem(&fs::read(&files.cert).unwrap()).unwrap();
        assert_eq!(pems.len(), 2);
        let combined = fs::read_to_string(&files.combined).unwrap();
        assert!(combined.contains("PRIVATE KEY"));
    }

    #[test]
    fn expired_and_self_signed_certificates_are_what_they_claim() {
        let ss = Leaf::self_signed(&LeafSpec::new("localhost").key(KeyType::Rsa2048)).unwrap();
        assert!(is_self_signed(&ss.cert));
        let ca = Ca::new("ca").unwrap();
        let old = ca.issue(&LeafSpec::new("old").expired()).unwrap();
        let now = openssl::asn1::Asn1Time::days_from_now(0).unwrap();
        assert!(old.cert.not_after() < now);
    }
}
