//! The SST address this node would advertise as a joiner, derived from the
//! `[mysqld]` groups as mariadbd derives it (sst-protocol.md §4), and the
//! name check a donor will run on it: the certificate must carry the host
//! (or `commonname=`) by socat's rules ([`crate::tls::policy`]).
//!
//! mariadbd's order: `wsrep_sst_receive_address` unless `AUTO` (a port there
//! is kept); else `wsrep_node_address`, host only (its port is Galera's, not
//! the SST's); else `bind_address` unless empty, `*` or a wildcard; else
//! the first non-loopback interface address, which is not predictable from
//! the configuration and is reported as a warning. No port: 4444.

use crate::config::mycnf::{OptionFiles, MYSQLD};
use crate::sst::address::{SstAddress, DEFAULT_PORT};
use crate::tls::policy::{CertNames, OwnName};

use super::report::{Finding, Level, Report};

/// The derived SST address and where it came from.
#[derive(Clone, Debug)]
pub struct SstTarget {
    /// The address the joiner binds and advertises.
    pub address: SstAddress,
    /// The key and file it came from: `[mysqld] wsrep_node_address (/etc/my.cnf:3)`.
    pub origin: String,
}

fn origin(files: &OptionFiles, key: &str) -> Option<(String, String)> {
    let e = files.get(&[MYSQLD], key)?;
    let value = e.value.as_deref()?.trim().to_string();
    let group = e.group.clone();
    Some((
        value,
        format!("[{group}] {key} ({}:{})", e.path.display(), e.line),
    ))
}

fn is_wildcard(host: &str) -> bool {
    matches!(host, "*" | "0.0.0.0" | "::" | "[::]")
}

/// Derives the joiner's SST address; reports how, or why it cannot.
pub fn derive(files: &OptionFiles, report: &mut Report) -> Option<SstTarget> {
    let found = match origin(files, "wsrep_sst_receive_address") {
        Some((v, o)) if !v.eq_ignore_ascii_case("AUTO") => Some((v, o, true)),
        _ => None,
    }
    .or_else(|| origin(files, "wsrep_node_address").map(|(v, o)| (v, o, false)))
    .or_else(|| {
        origin(files, "bind_address")
            .filter(|(v, _)| !is_wildcard(v))
            .map(|(v, o)| (v, o, false))
    });
    let Some((value, from, keep_port)) = found else {
        report.add(Finding::warn(
            "[mysqld] wsrep_node_address",
            "none of wsrep_sst_receive_address, wsrep_node_address or bind_address is set: \
             mariadbd will advertise its first non-loopback interface address, which the \
             certificate must then carry; set wsrep_node_address to make it explicit",
        ));
        return None;
    };
    let parsed = match SstAddress::parse(&value) {
        Ok(a) => a,
        Err(e) => {
            report.add(Finding::fail(
                &from,
                format!("{e}; mariadbd cannot start an SST with it"),
            ));
            return None;
        }
    };
    let address = if keep_port {
        parsed
    } else {
        // Only the host: a port in wsrep_node_address is Galera's.
        parsed.with_port(DEFAULT_PORT)
    };
    let address = SstAddress {
        auth: None,
        module: None,
        ..address
    };
    if let Err(e) = address.ready_address() {
        report.add(Finding::fail(&from, e.to_string()));
        return None;
    }
    let loopback = address.host_unbracketed.starts_with("127.")
        || address.host_unbracketed.eq_ignore_ascii_case("localhost")
        || address.host_unbracketed == "::1";
    let detail = format!(
        "SST address {} (value `{value}`{})",
        address.authority(),
        if keep_port {
            ""
        } else {
            "; host only, default SST port"
        }
    );
    if loopback {
        report.add(Finding::warn(
            &from,
            format!("{detail}: a loopback address, which donors on other nodes cannot reach"),
        ));
    } else {
        report.add(Finding::ok(&from, detail));
    }
    Some(SstTarget {
        address,
        origin: from,
    })
}

/// The name check a donor runs on this node's certificate when it is the
/// joiner: `commonname=` if set (empty: none), else the SST host.
pub fn name_check(
    names: &CertNames,
    commonname: Option<&str>,
    host: &str,
    origin: &str,
) -> Finding {
    let source = if commonname.is_some() {
        "[sst] sockopt commonname".to_string()
    } else {
        origin.to_string()
    };
    let verdict = OwnName::judge(names, commonname, host);
    let level = match verdict {
        OwnName::Covered { .. } => Level::Ok,
        OwnName::Unchecked | OwnName::CoveredOutsideRfc { .. } => Level::Warn,
        OwnName::Refused(_) => Level::Fail,
    };
    Finding::new(level, source, verdict.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::check::report::Level;
    use crate::config::mycnf::DefaultsArgs;
    use crate::tls::policy::San;

    fn derived(cnf: &str) -> (Option<SstTarget>, Report) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my.cnf");
        std::fs::write(&path, cnf).unwrap();
        let files = OptionFiles::load(&DefaultsArgs {
            defaults_file: Some(path),
            ..DefaultsArgs::default()
        })
        .unwrap();
        let mut report = Report::collecting();
        (derive(&files, &mut report), report)
    }

    fn authority(cnf: &str) -> String {
        let (t, r) = derived(cnf);
        t.map(|t| t.address.authority())
            .unwrap_or_else(|| panic!("{:?}", r.findings()))
    }

    #[test]
    fn mariadbd_order_and_ports() {
        assert_eq!(
            authority(
                "[mysqld]\nwsrep_sst_receive_address=10.0.0.5:4555\nwsrep_node_address=10.0.0.2\n"
            ),
            "10.0.0.5:4555"
        );
        assert_eq!(
            authority(
                "[mysqld]\nwsrep_sst_receive_address=AUTO\nwsrep_node_address=10.0.0.2:4567\n"
            ),
            "10.0.0.2:4444"
        );
        assert_eq!(
            authority("[galera]\nwsrep_node_address=[fd00::2]:4567\n"),
            "[fd00::2]:4444"
        );
        assert_eq!(
            authority("[mariadb]\nbind-address=node1.example\n"),
            "node1.example:4444"
        );
    }

    #[test]
    fn the_origin_names_group_key_file_and_line() {
        let (t, r) = derived("[mysqld]\n\n[galera]\nwsrep_node_address = 10.0.0.9\n");
        let t = t.unwrap();
        assert!(
            t.origin.starts_with("[galera] wsrep_node_address ("),
            "{}",
            t.origin
        );
        assert!(t.origin.ends_with("my.cnf:4)"), "{}", t.origin);
        assert_eq!(r.findings()[0].level, Level::Ok);
    }

    #[test]
    fn a_wildcard_bind_address_leaves_only_a_guess() {
        let (t, r) = derived("[mysqld]\nbind_address=0.0.0.0\n");
        assert!(t.is_none());
        assert_eq!(r.count(Level::Warn), 1, "{:?}", r.findings());
        assert!(r.findings()[0].detail.contains("first non-loopback"));
    }

    #[test]
    fn a_malformed_receive_address_fails_naming_it() {
        let (t, r) = derived("[mysqld]\nwsrep_sst_receive_address=host:99999\n");
        assert!(t.is_none());
        let f = &r.findings()[0];
        assert_eq!(f.level, Level::Fail);
        assert!(f.subject.contains("wsrep_sst_receive_address"), "{f}");
        assert!(f.detail.contains("malformed port '99999'"), "{f}");
    }

    #[test]
    fn name_check_follows_socat_and_commonname() {
        let names = CertNames {
            sans: vec![San::Dns("*.db.test".into())],
            cns: vec!["node1".into()],
        };
        let f = name_check(&names, None, "n1.db.test", "[mysqld] x");
        assert_eq!(f.level, Level::Ok, "{f}");
        let f = name_check(&names, None, "db.test", "[mysqld] x");
        assert_eq!(
            f.level,
            Level::Warn,
            "base-domain wildcard is outside RFC 6125: {f}"
        );
        let f = name_check(&names, None, "10.0.0.1", "[mysqld] x");
        assert_eq!(f.level, Level::Fail, "{f}");
        assert!(
            f.detail.contains("`10.0.0.1`") && f.subject == "[mysqld] x",
            "{f}"
        );
        let f = name_check(&names, Some("node1"), "10.0.0.1", "[mysqld] x");
        assert_eq!(f.level, Level::Warn, "CN despite SANs: {f}");
        assert_eq!(f.subject, "[sst] sockopt commonname");
        let f = name_check(&names, Some(""), "10.0.0.1", "[mysqld] x");
        assert_eq!(f.level, Level::Warn, "{f}");
    }
}
