//! Throwaway certificates for the tests, built with `sst_tunnel::pki` and
//! written into temp directories (nothing is committed):
//!
//! - [`Pki`]: a temp directory with a main CA and a rogue CA, issuing leaves
//!   from a [`LeafSpec`] (the TLS handshake and `check` tests).
//! - [`Issuer`]: one CA whose certificate and everything it issues are files
//!   in one directory, named after the CA (the fake mariadbd's world, the
//!   cluster): node certificates with SAN DNS and IP entries usable as TLS
//!   server and client, loopback ones, expired ones; another `Issuer` is the
//!   other CA.
//! - [`self_signed`]: a README-style self-signed node certificate, and
//!   [`self_signed_acceptor`]: an OpenSSL acceptor presenting one.

use std::fs;
use std::path::{Path, PathBuf};

use openssl::ssl::{SslAcceptor, SslMethod};
use sst_tunnel::pki::{Ca, Eku, Leaf, LeafFiles, LeafSpec};
use tempfile::TempDir;

/// A temp directory with a main CA and a rogue CA.
pub struct Pki {
    /// The directory every file is written to (removed on drop).
    pub dir: TempDir,
    /// The CA the nodes trust.
    pub ca: Ca,
    /// Its certificate, `ca.crt` (a `tca` file).
    pub ca_file: PathBuf,
    /// A CA nobody trusts.
    pub rogue: Ca,
    /// Its certificate, `rogue.crt`.
    pub rogue_file: PathBuf,
}

impl Pki {
    /// A new temp directory holding both CAs.
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("test ca").unwrap();
        let ca_file = ca.write(dir.path(), "ca").unwrap();
        let rogue = Ca::new("rogue ca").unwrap();
        let rogue_file = rogue.write(dir.path(), "rogue").unwrap();
        Pki {
            dir,
            ca,
            ca_file,
            rogue,
            rogue_file,
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Issues and writes a leaf from the main CA.
    pub fn leaf(&self, stem: &str, spec: &LeafSpec) -> LeafFiles {
        self.ca
            .issue(spec)
            .unwrap()
            .write(self.path(), stem)
            .unwrap()
    }

    /// Issues and writes a leaf from the rogue CA.
    pub fn rogue_leaf(&self, stem: &str, spec: &LeafSpec) -> LeafFiles {
        self.rogue
            .issue(spec)
            .unwrap()
            .write(self.path(), stem)
            .unwrap()
    }

    /// A node certificate valid for localhost, 127.0.0.1 and ::1.
    pub fn node(&self, stem: &str) -> LeafFiles {
        self.leaf(
            stem,
            &LeafSpec::new("localhost")
                .dns("localhost")
                .ip("127.0.0.1")
                .ip("::1"),
        )
    }
}

impl Default for Pki {
    fn default() -> Self {
        Pki::new()
    }
}

/// One certificate authority (subject CN `<name> test CA`) writing into one
/// directory: its certificate `<dir>/<name>-ca.pem`, and each certificate it
/// issues as `<dir>/<name>-<cn>.crt` with its key `<dir>/<name>-<cn>.key`
/// (see [`LeafFiles`]).
pub struct Issuer {
    /// The CA's certificate file (a `tca`).
    pub file: PathBuf,
    /// The CA itself.
    pub ca: Ca,
    dir: PathBuf,
    name: String,
}

impl Issuer {
    /// A new self-signed CA whose files live in `dir` (created if missing).
    pub fn new(dir: &Path, name: &str) -> Issuer {
        fs::create_dir_all(dir).unwrap();
        let ca = Ca::new(&format!("{name} test CA")).unwrap();
        let file = dir.join(format!("{name}-ca.pem"));
        fs::write(&file, ca.cert_pem().unwrap()).unwrap();
        Issuer {
            file,
            ca,
            dir: dir.to_path_buf(),
            name: name.to_string(),
        }
    }

    /// A node certificate with CN `cn` and the given SAN entries, signed by
    /// this CA, usable as TLS server and client.
    pub fn issue(&self, cn: &str, dns: &[&str], ips: &[&str]) -> LeafFiles {
        let spec = dns.iter().fold(LeafSpec::new(cn), |spec, d| spec.dns(d));
        let spec = ips.iter().fold(spec, |spec, ip| spec.ip(ip));
        self.issue_spec(cn, &spec)
    }

    /// A node certificate for loopback: SAN DNS localhost and IP 127.0.0.1.
    pub fn issue_loopback(&self, cn: &str) -> LeafFiles {
        self.issue(cn, &["localhost"], &["127.0.0.1"])
    }

    /// A loopback certificate from this CA whose validity ended in the past
    /// (chain fine, expired).
    pub fn issue_expired(&self, cn: &str) -> LeafFiles {
        let spec = LeafSpec::new(cn).dns("localhost").ip("127.0.0.1").expired();
        self.issue_spec(cn, &spec)
    }

    fn issue_spec(&self, cn: &str, spec: &LeafSpec) -> LeafFiles {
        let spec = spec.clone().eku(Eku::ServerAndClient);
        self.ca
            .issue(&spec)
            .unwrap()
            .write(&self.dir, &format!("{}-{cn}", self.name))
            .unwrap()
    }
}

/// Writes a README-style self-signed node certificate (`CA:TRUE`, its own
/// issuer) into `dir` as `STEM.*`.
pub fn self_signed(dir: &Path, stem: &str, spec: &LeafSpec) -> LeafFiles {
    Leaf::self_signed(spec).unwrap().write(dir, stem).unwrap()
}

/// An OpenSSL acceptor (Mozilla intermediate settings) presenting a fresh
/// self-signed certificate for `cn` and asking for no client certificate: a
/// TLS server for tests of what runs over TLS, not of who is trusted.
pub fn self_signed_acceptor(cn: &str) -> SslAcceptor {
    let leaf = Leaf::self_signed(&LeafSpec::new(cn)).unwrap();
    let mut a = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    a.set_private_key(&leaf.key).unwrap();
    a.set_certificate(&leaf.cert).unwrap();
    a.build()
}
