//! The X509 builder steps behind [`super::Ca`] and [`super::Leaf`]: key
//! generation, names, validity windows and extensions.

use std::time::{SystemTime, UNIX_EPOCH};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Name, X509NameBuilder, X509NameRef, X509Ref};

use super::{Eku, KeyType, LeafSpec, Validity};

pub(super) fn is_self_signed(cert: &X509Ref) -> bool {
    cert.issued(cert) == openssl::x509::X509VerifyResult::OK
}

pub(super) fn generate_key(key: KeyType) -> Result<PKey<Private>, ErrorStack> {
    match key {
        KeyType::EcP256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
            PKey::from_ec_key(EcKey::generate(&group)?)
        }
        KeyType::Rsa2048 => PKey::from_rsa(Rsa::generate(2048)?),
    }
}

pub(super) fn name_of(cns: &[String]) -> Result<X509Name, ErrorStack> {
    let mut b = X509NameBuilder::new()?;
    b.append_entry_by_text("O", "sst-tunnel test")?;
    for cn in cns {
        b.append_entry_by_nid(Nid::COMMONNAME, cn)?;
    }
    Ok(b.build())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(super) fn base_builder(
    subject: &X509NameRef,
    issuer: &X509NameRef,
    key: &PKey<Private>,
    validity: Validity,
) -> Result<X509Builder, ErrorStack> {
    const DAY: i64 = 86_400;
    let now = unix_now();
    let (from, to) = match validity {
        Validity::Days(d) => (now - 3600, now + i64::from(d) * DAY),
        Validity::Expired => (now - 31 * DAY, now - DAY),
        Validity::NotYetValid => (now + DAY, now + 31 * DAY),
    };
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(120, MsbOption::MAYBE_ZERO, false)?;
    b.set_serial_number(Asn1Integer::from_bn(&serial)?.as_ref())?;
    b.set_subject_name(subject)?;
    b.set_issuer_name(issuer)?;
    b.set_pubkey(key)?;
    b.set_not_before(Asn1Time::from_unix(from as libc::time_t)?.as_ref())?;
    b.set_not_after(Asn1Time::from_unix(to as libc::time_t)?.as_ref())?;
    Ok(b)
}

pub(super) fn add_ca_extensions(
    b: &mut X509Builder,
    issuer: Option<&X509Ref>,
) -> Result<(), ErrorStack> {
    b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(issuer, None))?;
    b.append_extension(ski)?;
    if issuer.is_some() {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(issuer, None))?;
        b.append_extension(aki)?;
    }
    Ok(())
}

pub(super) fn add_leaf_extensions(
    b: &mut X509Builder,
    spec: &LeafSpec,
    issuer: Option<&X509Ref>,
) -> Result<(), ErrorStack> {
    let mut ku = KeyUsage::new();
    ku.critical().digital_signature();
    if spec.key == KeyType::Rsa2048 {
        ku.key_encipherment();
    }
    if issuer.is_none() {
        // A self-signed CA:TRUE certificate must be allowed to sign itself.
        ku.key_cert_sign();
    }
    b.append_extension(ku.build()?)?;
    match spec.eku {
        Eku::Absent => {}
        Eku::ServerAndClient => b.append_extension(
            ExtendedKeyUsage::new()
                .server_auth()
                .client_auth()
                .build()?,
        )?,
        Eku::ServerOnly => b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?,
        Eku::ClientOnly => b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?,
    }
    if !spec.dns.is_empty() || !spec.ips.is_empty() {
        let mut san = SubjectAlternativeName::new();
        for d in &spec.dns {
            san.dns(d);
        }
        for ip in &spec.ips {
            san.ip(&ip.to_string());
        }
        let ext = san.build(&b.x509v3_context(issuer, None))?;
        b.append_extension(ext)?;
    }
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(issuer, None))?;
    b.append_extension(ski)?;
    if issuer.is_some() {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(issuer, None))?;
        b.append_extension(aki)?;
    }
    Ok(())
}
