//! The order in which the TLS files are resolved (issue 11, item 3): the
//! legacy keys win whole, `[sst]` before the server groups, role-specific
//! before generic, empty values, a CA directory, flags over everything,
//! and exit 3 naming every key looked at.

use std::path::{Path, PathBuf};

use crate::config::mycnf::OptionFiles;
use crate::config::{ConfigArgs, ConfigError, Settings};
use crate::exit::ExitCode;
use crate::tls::{CnfKey, SslOption, TlsRole};

const CNF: &str = "/etc/mysql/my.cnf";

fn files(text: &str) -> OptionFiles {
    match OptionFiles::parse(Path::new(CNF), text.as_bytes()) {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
    }
}

fn settings(cli: &ConfigArgs, text: &str, role: Option<TlsRole>) -> Settings {
    let result = match role {
        Some(r) => Settings::resolve_role(cli, files(text), r),
        None => Settings::resolve(cli, files(text)),
    };
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn joiner(text: &str) -> Settings {
    settings(&ConfigArgs::default(), text, Some(TlsRole::Joiner))
}

fn donor(text: &str) -> Settings {
    settings(&ConfigArgs::default(), text, Some(TlsRole::Donor))
}

fn missing(cli: &ConfigArgs, text: &str, role: Option<TlsRole>) -> String {
    let result = match role {
        Some(r) => Settings::resolve_role(cli, files(text), r),
        None => Settings::resolve(cli, files(text)),
    };
    match result {
        Err(e @ ConfigError::MissingCert { .. }) => {
            assert_eq!(e.exit_code(), ExitCode::Interrupted, "{e}");
            e.to_string()
        }
        Err(e) => panic!("expected no certificate, got: {e}"),
        Ok(s) => panic!("expected no certificate, got {}", s.tls.cert.display()),
    }
}

/// `[group] name` set at line `line` of [`CNF`].
fn ssl(group: &str, name: &str, line: usize) -> CnfKey {
    CnfKey::Ssl(Box::new(SslOption {
        name: name.to_string(),
        group: group.to_string(),
        origin: Some(format!("{CNF}:{line}")),
    }))
}

fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

#[test]
fn the_legacy_keys_win_whole_when_any_is_set() {
    let text = "\
[mysqld]
ssl-cert = /srv/server.pem
ssl-key = /srv/server.key
ssl-ca = /srv/ca.pem
[sst]
tcert = /sst/node.pem
ssl-key = /sst/ssl.key
ssl-server-cert = /sst/server-role.pem
";
    for s in [joiner(text), donor(text)] {
        assert_eq!(s.tls.cert, p("/sst/node.pem"));
        // No ssl-* fills the other slots: the key is in the tcert file, the
        // CA is the system store (said loudly at start).
        assert_eq!(s.tls.key, None);
        assert_eq!(s.tls.ca_file, None);
        assert_eq!(s.tls_keys.cert, CnfKey::Tcert);
        assert_eq!(s.tls_keys.key_names, "[sst] tkey");
        assert_eq!(s.tls_keys.only_role, None);
        let unused = s.tls_keys.unused.join("; ");
        assert!(unused.contains("[sst] ssl-key /sst/ssl.key"), "{unused}");
        assert!(unused.contains("[mysqld] ssl-ca /srv/ca.pem"), "{unused}");
    }
    // The joiner would have taken the role-specific certificate: it is listed as unused.
    let unused = joiner(text).tls_keys.unused.join("; ");
    assert!(
        unused.contains("[sst] ssl-server-cert /sst/server-role.pem"),
        "{unused}"
    );
    let described = joiner(text).tls_keys.describe(&joiner(text).tls);
    assert!(described.contains("not used"), "{described}");
}

#[test]
fn one_legacy_key_alone_turns_the_fallback_off_and_is_exit_3_naming_it() {
    let text = "[mysqld]\nssl-cert = /srv/server.pem\nssl-key = /srv/server.key\n[sst]\ntca = /sst/ca.pem\n";
    let e = missing(&ConfigArgs::default(), text, Some(TlsRole::Joiner));
    assert!(e.contains(&format!("[sst] tca ({CNF}:5) is set")), "{e}");
    assert!(
        e.contains("ssl-server-cert and ssl-cert are not read"),
        "{e}"
    );
    assert!(e.contains("neither --tcert nor [sst] tcert is set"), "{e}");
    assert!(e.contains("plaintext"), "{e}");
}

#[test]
fn sst_ssl_options_come_before_the_server_groups() {
    let text = "\
[mysqld]
ssl-cert = /srv/server.pem
ssl-key = /srv/server.key
ssl-ca = /srv/ca.pem
[sst]
ssl-cert = /sst/node.pem
";
    let s = joiner(text);
    assert_eq!(s.tls.cert, p("/sst/node.pem"));
    assert_eq!(s.tls_keys.cert, ssl("sst", "ssl-cert", 6));
    // Each slot on its own: the key and the CA come from [mysqld].
    assert_eq!(s.tls.key, Some(p("/srv/server.key")));
    assert_eq!(s.tls_keys.key, ssl("mysqld", "ssl-key", 3));
    assert_eq!(s.tls.ca_file, Some(p("/srv/ca.pem")));
    assert_eq!(s.tls_keys.ca_file, ssl("mysqld", "ssl-ca", 4));
    assert!(s.tls_keys.unused.is_empty());
    assert_eq!(
        s.tls_keys.cert.at(&s.tls.cert).to_string(),
        format!("[sst] ssl-cert /sst/node.pem (from {CNF}:6)")
    );
}

#[test]
fn every_server_group_counts_with_loose_and_underscores() {
    let text = "[mariadb]\nloose_ssl_cert = /srv/m.pem\n[galera]\nssl-key=/srv/g.key\n";
    let s = settings(&ConfigArgs::default(), text, None);
    assert_eq!(s.tls.cert, p("/srv/m.pem"));
    assert_eq!(s.tls_keys.cert, ssl("mariadb", "ssl-cert", 2));
    assert_eq!(s.tls_keys.key, ssl("galera", "ssl-key", 4));
}

#[test]
fn role_specific_options_come_before_the_generic_ones() {
    let text = "\
[mysqld]
ssl-server-cert = /srv/joiner.pem
ssl-ca = /srv/ca.pem
[sst]
ssl-cert = /sst/generic.pem
ssl-key = /sst/generic.key
ssl-client-cert = /sst/donor.pem
ssl-client-key = /sst/donor.key
";
    // The joiner: its role-specific certificate, even from [mysqld], beats
    // the generic one in [sst]; the key has no joiner-specific option.
    let j = joiner(text);
    assert_eq!(j.tls.cert, p("/srv/joiner.pem"));
    assert_eq!(j.tls_keys.cert, ssl("mysqld", "ssl-server-cert", 2));
    assert_eq!(j.tls.key, Some(p("/sst/generic.key")));
    assert_eq!(j.tls_keys.only_role, Some(TlsRole::Joiner));
    let d = donor(text);
    assert_eq!(d.tls.cert, p("/sst/donor.pem"));
    assert_eq!(d.tls_keys.cert, ssl("sst", "ssl-client-cert", 7));
    assert_eq!(d.tls.key, Some(p("/sst/donor.key")));
    assert_eq!(d.tls_keys.key, ssl("sst", "ssl-client-key", 8));
    assert_eq!(d.tls_keys.only_role, Some(TlsRole::Donor));
    for s in [&j, &d] {
        assert_eq!(s.tls.ca_file, Some(p("/srv/ca.pem")));
    }
    // Without a role only the generic options are read.
    let any = settings(&ConfigArgs::default(), text, None);
    assert_eq!(any.tls.cert, p("/sst/generic.pem"));
    assert_eq!(any.tls_keys.only_role, None);
    // The same certificate for both roles serves both.
    let shared = "[sst]\nssl-cert = /sst/generic.pem\n";
    assert_eq!(joiner(shared).tls_keys.only_role, None);
}

#[test]
fn the_key_names_looked_at_follow_the_role() {
    let text = "[mysqld]\nssl-cert = /srv/server.pem\n";
    assert_eq!(
        joiner(text).tls_keys.key_names,
        "[sst] tkey, ssl-server-key or ssl-key"
    );
    assert_eq!(
        donor(text).tls_keys.key_names,
        "[sst] tkey, ssl-client-key or ssl-key"
    );
}

#[test]
fn empty_values_count_as_not_set() {
    // MariaDB's own test galera_sst_rsync_encrypt_with_capath.cnf: a later
    // empty ssl-ca= overrides a default to force the CA path.
    let text = "\
[mysqld]
ssl-ca = /srv/ca.pem
ssl-cert = /srv/server.pem
ssl-capath = /srv/capath
ssl-ca =
[sst]
tcert =
ssl-cert =
";
    let s = joiner(text);
    // The empty [sst] values count for nothing: not a legacy key, not [sst]'s ssl-cert.
    assert_eq!(s.tls.cert, p("/srv/server.pem"));
    assert_eq!(s.tls_keys.cert, ssl("mysqld", "ssl-cert", 3));
    assert_eq!(s.tls.ca_file, None);
    assert_eq!(s.tls.ca_path, Some(p("/srv/capath")));
    assert_eq!(s.tls_keys.ca_path, ssl("mysqld", "ssl-capath", 4));
}

#[test]
fn a_ca_that_is_a_directory_is_used_as_a_ca_path_named_by_its_key() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = format!(
        "[mysqld]\nssl-ca = {}\n[sst]\nssl-cert = /sst/node.pem\n",
        dir.path().display()
    );
    let s = joiner(&text);
    assert_eq!(s.tls.ca_file, None);
    assert_eq!(s.tls.ca_path, Some(dir.path().to_path_buf()));
    assert_eq!(s.tls_keys.ca_path, ssl("mysqld", "ssl-ca", 2));
    // A trailing slash says the same, as in MariaDB's scripts.
    let s = joiner("[sst]\nssl-cert = /sst/node.pem\nssl-ca = /nonexistent/certs/\n");
    assert_eq!(s.tls.ca_path, Some(p("/nonexistent/certs/")));
    assert_eq!(s.tls_keys.ca_path, ssl("sst", "ssl-ca", 3));
    // The legacy tca too, now named as tca rather than tcapath.
    let s = joiner(&format!(
        "[sst]\ntcert = /n.pem\ntca = {}\n",
        dir.path().display()
    ));
    assert_eq!(s.tls.ca_path, Some(dir.path().to_path_buf()));
    assert_eq!(s.tls_keys.ca_path, CnfKey::Tca);
}

#[test]
fn a_sockopt_cafile_stands_in_for_tca_above_ssl_ca() {
    let text = "[mysqld]\nssl-ca = /srv/ca.pem\n[sst]\nssl-cert = /sst/node.pem\nsockopt = \"cafile=/sst/cluster-ca.pem\"\n";
    let s = joiner(text);
    assert_eq!(s.tls.ca_file, None);
    assert_eq!(s.tls.opts.cafile, Some(p("/sst/cluster-ca.pem")));
    assert_eq!(s.tls.cert, p("/sst/node.pem"));
}

#[test]
fn flags_win_over_everything_and_count_as_legacy_keys() {
    let text = "\
[mysqld]
ssl-cert = /srv/server.pem
ssl-key = /srv/server.key
[sst]
tcert = /sst/node.pem
ssl-server-cert = /sst/joiner.pem
";
    let cli = ConfigArgs {
        tcert: Some(p("/flag/node.pem")),
        ..ConfigArgs::default()
    };
    for role in [Some(TlsRole::Joiner), Some(TlsRole::Donor), None] {
        let s = settings(&cli, text, role);
        assert_eq!(s.tls.cert, p("/flag/node.pem"));
        assert_eq!(s.tls_keys.cert, CnfKey::Tcert);
        assert_eq!(
            s.tls.key, None,
            "a flag is a legacy key: no ssl-key is mixed in"
        );
    }
    // A flag alone turns the fallback off, as its [sst] key would.
    let cli = ConfigArgs {
        tca: Some(p("/flag/ca.pem")),
        ..ConfigArgs::default()
    };
    let e = missing(
        &cli,
        "[mysqld]\nssl-cert = /srv/server.pem\n",
        Some(TlsRole::Donor),
    );
    assert!(e.contains("--tca is set"), "{e}");
    assert!(
        e.contains("ssl-client-cert and ssl-cert are not read"),
        "{e}"
    );
}

#[test]
fn nothing_configured_is_exit_3_naming_every_key_looked_at() {
    for (role, specific) in [
        (Some(TlsRole::Joiner), "ssl-server-cert and ssl-cert"),
        (Some(TlsRole::Donor), "ssl-client-cert and ssl-cert"),
        (None, "then ssl-cert in"),
    ] {
        // A key, a CA and empty certificates are still no certificate.
        let text = "[mysqld]\nssl-key = /srv/server.key\nssl-ca = /srv/ca.pem\nssl-cert=\n";
        let e = missing(&ConfigArgs::default(), text, role);
        for needle in [
            "no certificate configured",
            "--tcert",
            "[sst] tcert",
            specific,
            "[mysqld], [server]",
            &format!("read: {CNF}"),
            "never transfers in plaintext",
        ] {
            assert!(e.contains(needle), "{needle:?} missing: {e}");
        }
    }
    let e = match Settings::resolve(&ConfigArgs::default(), OptionFiles::default()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("resolved without any certificate"),
    };
    assert!(e.contains("no option file was read"), "{e}");
}
