//! The joiner's optional donor allow-list: names a donor certificate must
//! carry (any one of them suffices), matched with the same socat rules as
//! the donor's check of the joiner ([`super::match_names`]). Empty means off.
//! [`crate::tls::TlsServer`] runs it inside the handshake, at depth 0 of the
//! verify callback, after the `commonname=` check; `sst-tunnel check` can
//! run [`AllowList::check_names`] on a certificate without a handshake.

use std::fmt;

use openssl::x509::X509Ref;

use super::{match_names, CertNames, NameMatch};

/// Names a donor certificate must carry; empty = every verified donor is allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList {
    names: Vec<String>,
}

/// Which allowed name a donor certificate carried, and how it matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedMatch {
    /// The allow-list entry that matched, as configured.
    pub allowed: String,
    /// The certificate name that matched it, and by which rule.
    pub matched: NameMatch,
}

/// A donor certificate carrying none of the allowed names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "certificate names [{}] match none of the allowed donor names [{}] (sst-allowed-donors)",
    presented.join(", "),
    allowed.join(", ")
)]
pub struct NotAllowed {
    /// The allow-list, as configured.
    pub allowed: Vec<String>,
    /// What the certificate carried (SAN DNS, SAN IP, CN).
    pub presented: Vec<String>,
}

impl AllowList {
    /// A list from configured names; surrounding whitespace is trimmed and
    /// empty entries are dropped.
    pub fn new<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        AllowList {
            names: names
                .into_iter()
                .map(|n| n.as_ref().trim().to_string())
                .filter(|n| !n.is_empty())
                .collect(),
        }
    }

    /// The names, as configured.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// True when no name is configured (the list is off).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Checks a certificate's names: `Ok(None)` when the list is off,
    /// `Ok(Some(m))` for the first allowed name the certificate carries.
    pub fn check_names(&self, names: &CertNames) -> Result<Option<AllowedMatch>, NotAllowed> {
        if self.is_empty() {
            return Ok(None);
        }
        for allowed in &self.names {
            if let Ok(matched) = match_names(names, allowed) {
                return Ok(Some(AllowedMatch {
                    allowed: allowed.clone(),
                    matched,
                }));
            }
        }
        Err(NotAllowed {
            allowed: self.names.clone(),
            presented: names.display_list(),
        })
    }

    /// [`Self::check_names`] on a (chain-verified) leaf certificate.
    pub fn check(&self, cert: &X509Ref) -> Result<Option<AllowedMatch>, NotAllowed> {
        if self.is_empty() {
            return Ok(None);
        }
        self.check_names(&CertNames::from_cert(cert))
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            f.write_str("(off)")
        } else {
            f.write_str(&self.names.join(", "))
        }
    }
}
