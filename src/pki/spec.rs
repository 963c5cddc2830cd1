//! What a generated certificate should be: [`LeafSpec`], the names,
//! validity window, key algorithm and extended key usage of a node
//! certificate, with the choices for each.

use std::net::IpAddr;

/// The key algorithm of a generated certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyType {
    /// ECDSA on P-256 (fast to generate; the default).
    #[default]
    EcP256,
    /// RSA, 2048 bits.
    Rsa2048,
}

/// The validity window of a generated certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// Valid from one hour ago for this many days.
    Days(u32),
    /// Expired yesterday (valid for the 30 days before that).
    Expired,
    /// Becomes valid tomorrow.
    NotYetValid,
}

/// Extended key usage of a node certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Eku {
    /// No EKU extension: usable for every purpose (what socat setups use).
    #[default]
    Absent,
    /// `serverAuth, clientAuth`: usable in both SST roles.
    ServerAndClient,
    /// `serverAuth` only: a joiner rejects it as a client certificate.
    ServerOnly,
    /// `clientAuth` only: a donor rejects it as a server certificate.
    ClientOnly,
}

/// What a node certificate should contain.
#[derive(Clone, Debug)]
pub struct LeafSpec {
    /// Subject CNs in order (socat checks only the first); empty = no CN.
    pub cns: Vec<String>,
    /// SAN DNS entries.
    pub dns: Vec<String>,
    /// SAN IP entries.
    pub ips: Vec<IpAddr>,
    /// Validity window.
    pub validity: Validity,
    /// Key algorithm.
    pub key: KeyType,
    /// Extended key usage.
    pub eku: Eku,
}

impl LeafSpec {
    /// A certificate with subject `CN=cn`, no SAN, valid for a year, EC P-256, no EKU.
    pub fn new(cn: &str) -> Self {
        LeafSpec {
            cns: vec![cn.to_string()],
            dns: Vec::new(),
            ips: Vec::new(),
            validity: Validity::Days(365),
            key: KeyType::EcP256,
            eku: Eku::Absent,
        }
    }

    /// Adds a SAN DNS entry.
    pub fn dns(mut self, name: &str) -> Self {
        self.dns.push(name.to_string());
        self
    }

    /// Adds a SAN IP entry; an unparsable address is ignored (test input).
    pub fn ip(mut self, ip: &str) -> Self {
        if let Ok(ip) = ip.parse() {
            self.ips.push(ip);
        }
        self
    }

    /// Adds a second (third, …) CN to the subject.
    pub fn extra_cn(mut self, cn: &str) -> Self {
        self.cns.push(cn.to_string());
        self
    }

    /// Sets the validity window.
    pub fn validity(mut self, validity: Validity) -> Self {
        self.validity = validity;
        self
    }

    /// Makes the certificate expired.
    pub fn expired(self) -> Self {
        self.validity(Validity::Expired)
    }

    /// Sets the key algorithm.
    pub fn key(mut self, key: KeyType) -> Self {
        self.key = key;
        self
    }

    /// Sets the extended key usage.
    pub fn eku(mut self, eku: Eku) -> Self {
        self.eku = eku;
        self
    }
}
