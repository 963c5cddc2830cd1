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

use super::{ConfigError, Found, Settings, GROUP};
use crate::config::mycnf::MYSQLD;

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

impl Settings {
    /// Resolves the donor allow-list ([`Self::donor_names`]) and puts it
    /// into the TLS settings, where the joiner's acceptor enforces it.
    /// Returns it for the start-up log.
    pub fn apply_donor_names(
        &mut self,
        cluster_address: Option<&str>,
    ) -> Result<Option<DonorNames>, ConfigError> {
        let names = self.donor_names(cluster_address)?;
        self.tls.allowed_donors = names.as_ref().map(|n| n.names.clone()).unwrap_or_default();
        Ok(names)
    }

    /// The donor allow-list in force, `None` when it is off. `auto` takes
    /// the hosts of `cluster_address` (mariadbd's `--wsrep_cluster_address`
    /// from `--mysqld-args`, when the SST method got one), else of
    /// `wsrep_cluster_address` in the server groups of the option files.
    pub fn donor_names(
        &self,
        cluster_address: Option<&str>,
    ) -> Result<Option<DonorNames>, ConfigError> {
        let origin = &self.allowed_donors_origin;
        match &self.allowed_donors {
            AllowedDonors::Off => Ok(None),
            AllowedDonors::Names(names) => Ok(Some(DonorNames {
                names: names.clone(),
                origin: format!("[{GROUP}] sst-allowed-donors at {origin}"),
            })),
            AllowedDonors::Auto => {
                let found = match cluster_address {
                    Some(v) => Some(Found {
                        value: v.to_string(),
                        origin: "--mysqld-args".into(),
                    }),
                    None => self
                        .files
                        .get(&[MYSQLD], "wsrep_cluster_address")
                        .and_then(|e| {
                            Some(Found {
                                value: e.value.clone()?,
                                origin: format!("{}:{}", e.path.display(), e.line),
                            })
                        }),
                };
                let Some(found) = found else {
                    return Err(ConfigError::NoClusterAddress {
                        origin: origin.clone(),
                        searched: match self.files.files_read_list() {
                            Some(read) => format!("read: {read}"),
                            None => "no option file was read".to_string(),
                        },
                    });
                };
                let names = cluster_hosts(&found.value).map_err(|e| ConfigError::BadValue {
                    key: "wsrep_cluster_address (for sst-allowed-donors = auto)".into(),
                    value: found.value.clone(),
                    origin: found.origin.clone(),
                    reason: e.to_string(),
                })?;
                Ok(Some(DonorNames {
                    names,
                    origin: format!(
                        "[{GROUP}] sst-allowed-donors = auto at {origin}: the hosts of \
                         wsrep_cluster_address at {}",
                        found.origin
                    ),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::mycnf::OptionFiles;
    use crate::config::ConfigArgs;
    use crate::exit::ExitCode;
    use std::path::Path;

    fn settings_from(text: &str, flag: Option<&str>) -> Result<Settings, ConfigError> {
        let files = OptionFiles::parse(Path::new("/etc/my.cnf"), text.as_bytes())?;
        let cli = ConfigArgs {
            tcert: Some("/x/cert.pem".into()),
            allowed_donors: flag.map(str::to_string),
            ..ConfigArgs::default()
        };
        Settings::resolve(&cli, files)
    }

    #[test]
    fn allowed_donors_names_auto_and_their_origins() {
        let cnf = "[mysqld]\nwsrep_cluster_address = gcomm://10.0.0.1,node2.example:4567\n\
                   [sst]\nsst-allowed-donors = node1.example, 10.0.0.9\n";
        let s = settings_from(cnf, None).unwrap_or_else(|e| panic!("{e}"));
        let names = s
            .donor_names(None)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no list"));
        assert_eq!(names.names, ["node1.example", "10.0.0.9"]);
        assert!(names.origin.contains("/etc/my.cnf:4"), "{names}");

        let s = settings_from(cnf, Some("auto")).unwrap_or_else(|e| panic!("{e}"));
        let names = s
            .donor_names(None)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no list"));
        assert_eq!(names.names, ["10.0.0.1", "node2.example"]);
        assert!(names.origin.contains("command line"), "{names}");
        assert!(
            names
                .origin
                .contains("wsrep_cluster_address at /etc/my.cnf:2"),
            "{names}"
        );
        // mariadbd's own --wsrep_cluster_address wins over the files.
        let names = s.donor_names(Some("gcomm://[::1]:4567")).ok().flatten();
        assert_eq!(names.map(|n| n.names), Some(vec!["::1".to_string()]));
    }

    #[test]
    fn allowed_donors_errors_name_the_key_and_exit_22() {
        let e = settings_from("[sst]\nsst-allowed-donors = a/b\n", None)
            .err()
            .unwrap_or_else(|| panic!("accepted a/b"));
        assert_eq!(e.exit_code(), ExitCode::Invalid);
        assert!(e.to_string().contains("sst-allowed-donors"), "{e}");
        assert!(e.to_string().contains("/etc/my.cnf:2"), "{e}");

        let s = settings_from("[sst]\nsst-allowed-donors = auto\n", None)
            .unwrap_or_else(|e| panic!("{e}"));
        let e = s
            .donor_names(None)
            .err()
            .unwrap_or_else(|| panic!("no error"));
        assert_eq!(e.exit_code(), ExitCode::Invalid);
        assert!(e.to_string().contains("wsrep_cluster_address"), "{e}");
        assert!(e.to_string().contains("/etc/my.cnf:2"), "{e}");

        let e = s
            .donor_names(Some("gcomm://"))
            .err()
            .unwrap_or_else(|| panic!("no error"));
        assert!(e.to_string().contains("names no host"), "{e}");
    }

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
