//! Throwaway certificates made with the `openssl` crate: a CA, node
//! certificates (SAN IP 127.0.0.1 and DNS localhost by default) and any
//! number of unrelated CAs for the wrong-CA cases, and expired certificates.
//! Nothing is committed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509NameBuilder, X509};

/// One certificate authority, written to `<dir>/<name>-ca.pem`.
pub struct Ca {
    /// The CA's certificate file.
    pub file: PathBuf,
    dir: PathBuf,
    name: String,
    cert: X509,
    key: PKey<Private>,
}

/// A node certificate and its key, as files.
#[derive(Clone, Debug)]
pub struct NodeCert {
    /// PEM certificate.
    pub cert: PathBuf,
    /// PEM private key (mode 0600).
    pub key: PathBuf,
}

fn new_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn builder(cn: &str, key: &PKey<Private>) -> X509Builder {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("O", "sst-tunnel tests").unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(127, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    b
}

fn write_key(path: &Path, key: &PKey<Private>) {
    fs::write(path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

impl Ca {
    /// A new self-signed CA whose files live in `dir`.
    pub fn new(dir: &Path, name: &str) -> Ca {
        fs::create_dir_all(dir).unwrap();
        let key = new_key();
        let mut b = builder(&format!("{name} test CA"), &key);
        let name_ref = {
            let mut n = X509NameBuilder::new().unwrap();
            n.append_entry_by_text("O", "sst-tunnel tests").unwrap();
            n.append_entry_by_text("CN", &format!("{name} test CA"))
                .unwrap();
            n.build()
        };
        b.set_issuer_name(&name_ref).unwrap();
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .unwrap(),
        )
        .unwrap();
        let ski = SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(None, None))
            .unwrap();
        b.append_extension(ski).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = b.build();
        let file = dir.join(format!("{name}-ca.pem"));
        fs::write(&file, cert.to_pem().unwrap()).unwrap();
        Ca {
            file,
            dir: dir.to_path_buf(),
            name: name.to_string(),
            cert,
            key,
        }
    }

    /// A node certificate with CN `cn` and the given SAN entries, signed by
    /// this CA, usable as TLS server and client. Files:
    /// `<dir>/<cn>.crt` and `<dir>/<cn>.key`.
    pub fn issue(&self, cn: &str, dns: &[&str], ips: &[&str]) -> NodeCert {
        self.issue_with(cn, dns, ips, None)
    }

    /// A loopback certificate from this CA whose validity ended in the past:
    /// notBefore 60 days ago, notAfter 30 days ago (chain fine, expired).
    pub fn issue_expired(&self, cn: &str) -> NodeCert {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let day = 86_400;
        let window = (
            Asn1Time::from_unix(i64::try_from(now - 60 * day).unwrap()).unwrap(),
            Asn1Time::from_unix(i64::try_from(now - 30 * day).unwrap()).unwrap(),
        );
        self.issue_with(cn, &["localhost"], &["127.0.0.1"], Some(window))
    }

    /// [`Ca::issue`] with an explicit (notBefore, notAfter) window.
    fn issue_with(
        &self,
        cn: &str,
        dns: &[&str],
        ips: &[&str],
        validity: Option<(Asn1Time, Asn1Time)>,
    ) -> NodeCert {
        let key = new_key();
        let mut b = builder(cn, &key);
        if let Some((from, until)) = validity {
            b.set_not_before(&from).unwrap();
            b.set_not_after(&until).unwrap();
        }
        b.set_issuer_name(self.cert.subject_name()).unwrap();
        b.append_extension(BasicConstraints::new().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_agreement()
                .build()
                .unwrap(),
        )
        .unwrap();
        b.append_extension(
            ExtendedKeyUsage::new()
                .server_auth()
                .client_auth()
                .build()
                .unwrap(),
        )
        .unwrap();
        if !dns.is_empty() || !ips.is_empty() {
            let mut san = SubjectAlternativeName::new();
            for d in dns {
                san.dns(d);
            }
            for i in ips {
                san.ip(i);
            }
            let ext = san
                .build(&b.x509v3_context(Some(&self.cert), None))
                .unwrap();
            b.append_extension(ext).unwrap();
        }
        let ski = SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(Some(&self.cert), None))
            .unwrap();
        b.append_extension(ski).unwrap();
        let aki = AuthorityKeyIdentifier::new()
            .keyid(false)
            .build(&b.x509v3_context(Some(&self.cert), None))
            .unwrap();
        b.append_extension(aki).unwrap();
        b.sign(&self.key, MessageDigest::sha256()).unwrap();
        let cert = b.build();
        let stem = format!("{}-{cn}", self.name);
        let cert_path = self.dir.join(format!("{stem}.crt"));
        let key_path = self.dir.join(format!("{stem}.key"));
        fs::write(&cert_path, cert.to_pem().unwrap()).unwrap();
        write_key(&key_path, &key);
        NodeCert {
            cert: cert_path,
            key: key_path,
        }
    }

    /// A node certificate for loopback: SAN DNS localhost and IP 127.0.0.1.
    pub fn issue_loopback(&self, cn: &str) -> NodeCert {
        self.issue(cn, &["localhost"], &["127.0.0.1"])
    }
}
