//! The peer-name rule: socat's acceptance rules (SAN DNS, SAN IP, then the
//! first CN; one-label wildcards that also match the bare base domain),
//! compared without regard to ASCII case (tls-compat.md §3 and §7).
//!
//! The core, [`match_names`], is pure and works on [`CertNames`], so the
//! whole matrix of tls-compat.md §3.3 is unit-tested without certificates;
//! [`PeerPolicy::check`] extracts the names from a verified leaf and runs it.
//! Hostnames are never resolved: an IPv6 SAN matches only an IPv6 literal,
//! and a wildcard never matches an IP literal ([`is_ip_literal`]). The
//! joiner's donor allow-list ([`AllowList`]) reuses the same matcher.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use openssl::nid::Nid;
use openssl::x509::X509Ref;

mod allow;
mod own;

pub use allow::{AllowList, AllowedMatch, NotAllowed};
pub use own::OwnName;

/// Which name the peer certificate must carry, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerPolicy {
    /// The expected name; `None` means "chain only, no name check".
    pub expected: Option<String>,
}

impl PeerPolicy {
    /// The donor's rule: `commonname=` if given (empty ⇒ no name check), else
    /// the joiner host from the SST address, brackets removed.
    pub fn for_connector(commonname: Option<&str>, target_host: &str) -> Self {
        let expected = match commonname {
            Some("") => None,
            Some(cn) => Some(cn.to_string()),
            None => Some(strip_brackets(target_host).to_string()),
        };
        PeerPolicy { expected }
    }

    /// The joiner's rule: no name check unless `commonname=` is given (and non-empty).
    pub fn for_listener(commonname: Option<&str>) -> Self {
        PeerPolicy {
            expected: commonname.filter(|cn| !cn.is_empty()).map(str::to_string),
        }
    }

    /// Checks a (chain-verified) leaf certificate. `Ok(None)` means no name
    /// check was configured.
    pub fn check(&self, cert: &X509Ref) -> Result<Option<NameMatch>, NameMismatch> {
        match &self.expected {
            None => Ok(None),
            Some(expected) => match_names(&CertNames::from_cert(cert), expected).map(Some),
        }
    }
}

/// One subjectAltName entry we look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum San {
    /// `DNS:` entry.
    Dns(String),
    /// `IP:` entry (4 or 16 bytes).
    Ip(IpAddr),
}

/// The names a certificate carries, in certificate order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertNames {
    /// subjectAltName DNS and IP entries (other kinds are skipped).
    pub sans: Vec<San>,
    /// Subject CNs in order (only the first takes part in matching).
    pub cns: Vec<String>,
}

impl CertNames {
    /// Extracts SAN DNS/IP entries and subject CNs.
    pub fn from_cert(cert: &X509Ref) -> Self {
        let mut sans = Vec::new();
        if let Some(alt) = cert.subject_alt_names() {
            for name in alt.iter() {
                if let Some(dns) = name.dnsname() {
                    sans.push(San::Dns(dns.to_string()));
                } else if let Some(ip) = name.ipaddress() {
                    if let Ok(b) = <[u8; 4]>::try_from(ip) {
                        sans.push(San::Ip(IpAddr::from(b)));
                    } else if let Ok(b) = <[u8; 16]>::try_from(ip) {
                        sans.push(San::Ip(IpAddr::from(b)));
                    }
                }
            }
        }
        let cns = cert
            .subject_name()
            .entries_by_nid(Nid::COMMONNAME)
            .map(|e| match e.data().to_string() {
                Ok(s) => s,
                Err(_) => String::from_utf8_lossy(e.data().as_slice()).into_owned(),
            })
            .collect();
        CertNames { sans, cns }
    }

    /// All names for messages and [`super::PeerInfo`]: SAN DNS, SAN IP, then CNs.
    pub fn display_list(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .sans
            .iter()
            .filter_map(|s| match s {
                San::Dns(d) => Some(format!("DNS:{d}")),
                San::Ip(_) => None,
            })
            .collect();
        out.extend(self.sans.iter().filter_map(|s| match s {
            San::Ip(ip) => Some(format!("IP:{ip}")),
            San::Dns(_) => None,
        }));
        out.extend(self.cns.iter().map(|cn| format!("CN={cn}")));
        out
    }
}

/// How a wildcard-aware comparison matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wildcard {
    /// Plain comparison (case-insensitive).
    None,
    /// `*.base` matched exactly one extra label.
    OneLabel,
    /// `*.base` matched `base` itself (socat rule, not RFC 6125).
    BaseDomain,
}

/// The rule that accepted the peer name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchRule {
    /// A SAN DNS entry.
    SanDns(Wildcard),
    /// A SAN IP entry.
    SanIp,
    /// The first subject CN; `despite_san` when the certificate had SANs
    /// (socat accepts this, RFC 6125 does not).
    CommonName {
        /// How the CN matched.
        wildcard: Wildcard,
        /// The certificate carried DNS/IP SANs that did not match.
        despite_san: bool,
    },
}

/// A successful name check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameMatch {
    /// The certificate name that matched, as written in the certificate.
    pub name: String,
    /// Which rule matched.
    pub rule: MatchRule,
}

impl NameMatch {
    /// Why this match needed a rule outside RFC 6125, if it did (worth a warning).
    pub fn non_rfc_reason(&self) -> Option<&'static str> {
        match self.rule {
            MatchRule::CommonName {
                despite_san: true, ..
            } => Some("matched the subject CN although the certificate has subjectAltNames"),
            MatchRule::SanDns(Wildcard::BaseDomain)
            | MatchRule::CommonName {
                wildcard: Wildcard::BaseDomain,
                ..
            } => Some("a `*.` wildcard matched its bare base domain"),
            _ => None,
        }
    }
}

/// The peer certificate does not carry the expected name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("certificate names [{}] do not match expected name `{expected}`", presented.join(", "))]
pub struct NameMismatch {
    /// The name we required.
    pub expected: String,
    /// What the certificate carried (SAN DNS, SAN IP, CN).
    pub presented: Vec<String>,
}

/// socat's name comparison: a leading `*.` matches one extra label or the
/// bare base domain; otherwise equality. ASCII case is ignored (our one
/// deliberate relaxation of socat). A wildcard never matches an IP literal
/// ([`is_ip_literal`]): socat's text rule lets `*.0.0.1` cover `127.0.0.1`,
/// we do not. Plain equality with an IP string (`CN=10.0.0.5`) stays.
pub fn socat_match(pattern: &str, expected: &str) -> Option<Wildcard> {
    if let Some(base) = pattern.strip_prefix("*.") {
        if is_ip_literal(expected) {
            return None;
        }
        if expected.eq_ignore_ascii_case(base) {
            return Some(Wildcard::BaseDomain);
        }
        if let Some((label, rest)) = expected.split_once('.') {
            if !label.is_empty() && rest.eq_ignore_ascii_case(base) {
                return Some(Wildcard::OneLabel);
            }
        }
        return None;
    }
    pattern
        .eq_ignore_ascii_case(expected)
        .then_some(Wildcard::None)
}

/// Runs socat's order: each SAN in order (DNS with [`socat_match`], IPv4 as
/// dotted text, IPv6 in binary against an IPv6 literal), then the first CN.
pub fn match_names(names: &CertNames, expected: &str) -> Result<NameMatch, NameMismatch> {
    let expected = strip_brackets(expected);
    let expected_v6: Option<Ipv6Addr> = expected.parse().ok();
    for san in &names.sans {
        match san {
            San::Dns(dns) => {
                if let Some(w) = socat_match(dns, expected) {
                    return Ok(NameMatch {
                        name: dns.clone(),
                        rule: MatchRule::SanDns(w),
                    });
                }
            }
            San::Ip(IpAddr::V4(v4)) => {
                if v4.to_string() == expected {
                    return Ok(NameMatch {
                        name: v4.to_string(),
                        rule: MatchRule::SanIp,
                    });
                }
            }
            San::Ip(IpAddr::V6(v6)) => {
                if expected_v6 == Some(*v6) {
                    return Ok(NameMatch {
                        name: v6.to_string(),
                        rule: MatchRule::SanIp,
                    });
                }
            }
        }
    }
    if let Some(cn) = names.cns.first() {
        if let Some(wildcard) = socat_match(cn, expected) {
            return Ok(NameMatch {
                name: cn.clone(),
                rule: MatchRule::CommonName {
                    wildcard,
                    despite_san: !names.sans.is_empty(),
                },
            });
        }
    }
    Err(NameMismatch {
        expected: expected.to_string(),
        presented: names.display_list(),
    })
}

/// True when `name` is an address rather than a DNS name: an IPv6 literal
/// (brackets and a `%zone` allowed), or an IPv4 literal in any form the C
/// resolver accepts (`inet_aton`: every dot-separated label a number in
/// decimal, octal or `0x` hex, one to four of them: `127.0.0.1`, `127.1`,
/// `0x7f.1`, `2130706433`). A donor given such a host connects to that
/// address, so no wildcard may stand for it.
pub fn is_ip_literal(name: &str) -> bool {
    let name = strip_brackets(name);
    let unzoned = name.split_once('%').map_or(name, |(addr, _zone)| addr);
    if unzoned.parse::<IpAddr>().is_ok() {
        return true;
    }
    let labels = name.split('.').count();
    (1..=4).contains(&labels) && name.split('.').all(is_inet_aton_number)
}

fn is_inet_aton_number(label: &str) -> bool {
    match label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"))
    {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// A certificate name on one line, `O=…, CN=…`, in certificate order.
pub fn subject_line(name: &openssl::x509::X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = match e.data().to_string() {
                Ok(s) => s,
                Err(_) => String::from_utf8_lossy(e.data().as_slice()).into_owned(),
            };
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

impl fmt::Display for MatchRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchRule::SanDns(w) => write!(f, "san dns{}", wildcard_suffix(*w)),
            MatchRule::SanIp => f.write_str("san ip"),
            MatchRule::CommonName {
                wildcard,
                despite_san,
            } => write!(
                f,
                "subject cn{}{}",
                wildcard_suffix(*wildcard),
                if *despite_san { " (despite sans)" } else { "" }
            ),
        }
    }
}

fn wildcard_suffix(w: Wildcard) -> &'static str {
    match w {
        Wildcard::None => "",
        Wildcard::OneLabel => " (wildcard)",
        Wildcard::BaseDomain => " (wildcard base domain)",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
