//! The joiner's optional allow-list of donors (`[sst] sst-allowed-donors`,
//! `--allowed-donors`): the names a donor's certificate must carry, on top
//! of chaining to the CA. Off by default, so that existing clusters keep
//! working; `auto` means the hosts of `wsrep_cluster_address`, which is
//! where every legitimate donor of the cluster lives.
//!
//! A certificate matches when it carries any one of the names, with the
//! rules the donor uses for the joiner (SAN DNS, SAN IP, then the first CN;
//! one-label wildcards, never for an IP address; case-insensitive).

use std::fmt;

/// The setting as written, before `auto` is resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AllowedDonors {
    /// No allow-list: any certificate that chains to the CA is a donor.
    #[default]
    Off,
    /// These names.
    Names(Vec<String>),
    /// The hosts of `wsrep_cluster_address`.
    Auto,
}

/// The value `auto`.
pub const AUTO: &str = "auto";

/// Why a value of `sst-allowed-donors` or `wsrep_cluster_address` is unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DonorsValueError {
    /// The list holds no name.
    #[error("the list is empty (give names separated by commas, or `auto`)")]
    Empty,
    /// A name holds a character no host name or address has.
    #[error("`{0}` is not a host name or address")]
    BadName(String),
    /// `wsrep_cluster_address` is not a `gcomm://` address.
    #[error("expected gcomm://HOST[:PORT][,HOST[:PORT]...]")]
    NotGcomm,
    /// `wsrep_cluster_address` names no host (`gcomm://` bootstraps a new cluster).
    #[error(
        "it names no host (gcomm:// with no host bootstraps a new cluster, which has no donor)"
    )]
    NoHost,
}

impl AllowedDonors {
    /// Parses the setting: `auto`, or names separated by commas and/or
    /// blanks (brackets around IPv6 addresses are allowed and removed).
    pub fn parse(value: &str) -> Result<AllowedDonors, DonorsValueError> {
        let value = value.trim();
        if value.eq_ignore_ascii_case(AUTO) {
            return Ok(AllowedDonors::Auto);
        }
        let names = value
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|n| !n.is_empty())
            .map(checked_name)
            .collect::<Result<Vec<_>, _>>()?;
        if names.is_empty() {
            return Err(DonorsValueError::Empty);
        }
        Ok(AllowedDonors::Names(names))
    }
}

/// A name of the list, brackets removed; only what a DNS name, an IP
/// address or a wildcard can hold.
fn checked_name(raw: &str) -> Result<String, DonorsValueError> {
    let name = raw
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(raw);
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '*'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(DonorsValueError::BadName(raw.to_string()))
    }
}

/// The hosts of a Galera cluster address,
/// `gcomm://HOST[:PORT][,HOST[:PORT]...][?OPTIONS]`, in order, without
/// ports and brackets.
pub fn cluster_hosts(address: &str) -> Result<Vec<String>, DonorsValueError> {
    let rest = address
        .trim()
        .strip_prefix("gcomm://")
        .ok_or(DonorsValueError::NotGcomm)?;
    let list = rest.split('?').next().unwrap_or("");
    let mut hosts = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let host = if let Some(inner) = item.strip_prefix('[') {
            inner
                .split_once(']')
                .map(|(h, _)| h)
                .ok_or_else(|| DonorsValueError::BadName(item.to_string()))?
        } else {
            match item.rsplit_once(':') {
                // One colon: HOST:PORT. More: an IPv6 address without brackets.
                Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
                    h
                }
                _ => item,
            }
        };
        let host = checked_name(host)?;
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return Err(DonorsValueError::NoHost);
    }
    Ok(hosts)
}

/// The allow-list in force for one joiner run, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DonorNames {
    /// The names; a donor certificate must carry one of them.
    pub names: Vec<String>,
    /// Where they came from (`[sst] sst-allowed-donors at /etc/my.cnf:12`,
    /// or `auto: the hosts of wsrep_cluster_address at ...`).
    pub origin: String,
}

impl fmt::Display for DonorNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] ({})", self.names.join(", "), self.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_auto() {
        assert_eq!(AllowedDonors::parse(" AUTO "), Ok(AllowedDonors::Auto));
        assert_eq!(
            AllowedDonors::parse("node1.example.com, 10.0.0.2 [::1],*.db.example"),
            Ok(AllowedDonors::Names(vec![
                "node1.example.com".into(),
                "10.0.0.2".into(),
                "::1".into(),
                "*.db.example".into(),
            ]))
        );
        assert_eq!(AllowedDonors::parse(" , "), Err(DonorsValueError::Empty));
        assert_eq!(
            AllowedDonors::parse("a,b/c"),
            Err(DonorsValueError::BadName("b/c".into()))
        );
    }

    #[test]
    fn cluster_hosts_drop_ports_options_and_brackets() {
        assert_eq!(
            cluster_hosts("gcomm://10.0.0.1,10.0.0.2:4567,node3.example?pc.wait_prim=no"),
            Ok(vec![
                "10.0.0.1".to_string(),
                "10.0.0.2".into(),
                "node3.example".into()
            ])
        );
        assert_eq!(
            cluster_hosts("gcomm://[::1]:4567,[fe80::2],::3"),
            Ok(vec!["::1".to_string(), "fe80::2".into(), "::3".into()])
        );
        assert_eq!(cluster_hosts("gcomm://a,a:4568"), Ok(vec!["a".to_string()]));
        assert_eq!(cluster_hosts("gcomm://"), Err(DonorsValueError::NoHost));
        assert_eq!(
            cluster_hosts("10.0.0.1,10.0.0.2"),
            Err(DonorsValueError::NotGcomm)
        );
        assert_eq!(
            cluster_hosts("gcomm://[::1"),
            Err(DonorsValueError::BadName("[::1".into()))
        );
    }
}
