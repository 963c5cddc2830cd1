//! Tests for [`super`]: the lab-observed argv of §1.2/§1.3, 10.4-era forms,
//! odd orders and unknown options. What follows `--mysqld-args` is tested in
//! [`mysqld`].

use super::*;
use crate::exit::ExitCode;

fn parse(words: &[&str]) -> Result<SstArgs, ArgsError> {
    SstArgs::parse(words.iter().copied())
}

const UUID: &str = "dfb80123-e655-11f1-b862-272c1aae4adb";

#[test]
fn joiner_argv_as_observed_in_the_lab() {
    let a = parse(&[
        "--role",
        "joiner",
        "--address",
        "127.0.0.1",
        "--datadir",
        "/tmp/lab/n2/data/",
        "--defaults-file",
        "/tmp/lab/n2.cnf",
        "--parent",
        "14200",
        "--progress",
        "1",
        "--binlog",
        "mysql-bin",
        "--mysqld-args",
        "--defaults-file=/tmp/lab/n2.cnf",
    ])
    .unwrap();
    assert_eq!(a.role, Role::Joiner);
    assert_eq!(a.address, "127.0.0.1");
    assert_eq!(a.datadir, PathBuf::from("/tmp/lab/n2/data"));
    assert_eq!(a.defaults.file, Some(PathBuf::from("/tmp/lab/n2.cnf")));
    assert_eq!(a.defaults.extra_file, None);
    assert_eq!(a.parent, Some(14200));
    assert!(a.progress);
    assert_eq!(a.binlog, Some(PathBuf::from("mysql-bin")));
    assert!(!a.bypass);
    assert_eq!(
        a.mysqld_args,
        vec![OsString::from("--defaults-file=/tmp/lab/n2.cnf")]
    );
    assert_eq!(a.server, ServerArgs::default());
    assert!(a.unknown.is_empty(), "{:?}", a.unknown);
}

#[test]
fn donor_argv_as_observed_in_the_lab() {
    let gtid = format!("{UUID}:6");
    let a = parse(&[
        "--role",
        "donor",
        "--address",
        "127.0.0.1:4444/rsync_sst",
        "--local-port",
        "13306",
        "--socket",
        "/tmp/lab/sock",
        "--progress",
        "1",
        "--datadir",
        "/tmp/lab/n1/data/",
        "--defaults-file",
        "/tmp/lab/n1.cnf",
        "--gtid",
        &gtid,
        "--gtid-domain-id",
        "0",
        "--binlog",
        "mysql-bin",
        "--bypass",
        "--mysqld-args",
        "--defaults-file=/tmp/lab/n1.cnf",
        "--wsrep-new-cluster",
    ])
    .unwrap();
    assert_eq!(a.role, Role::Donor);
    assert_eq!(a.address, "127.0.0.1:4444/rsync_sst");
    assert_eq!(a.local_port, Some(13306));
    assert_eq!(a.socket, Some(PathBuf::from("/tmp/lab/sock")));
    assert_eq!(a.datadir, PathBuf::from("/tmp/lab/n1/data"));
    assert_eq!(a.gtid.as_deref(), Some(gtid.as_str()));
    assert_eq!(a.gtid_domain_id, Some(0));
    assert!(a.bypass);
    assert_eq!(a.parent, None);
    assert_eq!(a.mysqld_args.len(), 2);
    assert_eq!(a.gtid_state().unwrap().to_string(), format!("{UUID}:6 0"));
}

#[test]
fn ten_four_era_joiner_without_progress_and_with_quoted_numbers() {
    // After sh, `--parent '14200'` is plain; a literal-quote argv (no shell) is tolerated too.
    let a = parse(&[
        "--role",
        "joiner",
        "--address",
        "10.0.0.2",
        "--datadir",
        "/var/lib/mysql/",
        "--parent",
        "'14200'",
        "--binlog",
        "",
        "--binlog-index",
        "",
    ])
    .unwrap();
    assert!(!a.progress);
    assert_eq!(a.parent, Some(14200));
    assert_eq!(a.binlog, None, "empty '' tails mean not set");
    assert_eq!(a.binlog_index, None);
    assert_eq!(a.datadir, PathBuf::from("/var/lib/mysql"));
}

#[test]
fn ten_four_era_donor_with_quoted_numbers() {
    let gtid = format!("{UUID}:17");
    let a = parse(&[
        "--role",
        "donor",
        "--address",
        "10.0.0.2:4444/rsync_tunnel_sst",
        "--socket",
        "/run/mysqld/mysqld.sock",
        "--datadir",
        "/var/lib/mysql/",
        "--local-port",
        "'3306'",
        "--gtid",
        &gtid,
        "--gtid-domain-id",
        "'2'",
    ])
    .unwrap();
    assert_eq!(a.local_port, Some(3306));
    assert_eq!(a.gtid_domain_id, Some(2));
    assert_eq!(a.gtid_state().unwrap().to_string(), format!("{UUID}:17 2"));
}

#[test]
fn equals_forms_underscores_and_any_order() {
    let a = parse(&[
        "--binlog_index=/var/log/mysql/mysql-bin.index",
        "--progress=0",
        "--datadir=/data//",
        "--defaults-group-suffix=.node2",
        "--defaults_extra_file",
        "/etc/extra.cnf",
        "--address=[::1]:4444",
        "--role=joiner",
        "--parent=99",
    ])
    .unwrap();
    assert_eq!(a.role, Role::Joiner);
    assert_eq!(a.address, "[::1]:4444");
    assert_eq!(a.datadir, PathBuf::from("/data"));
    assert!(!a.progress);
    assert_eq!(a.parent, Some(99));
    assert_eq!(a.defaults.group_suffix.as_deref(), Some(".node2"));
    assert_eq!(a.defaults.extra_file, Some(PathBuf::from("/etc/extra.cnf")));
    assert_eq!(
        a.binlog_index,
        Some(PathBuf::from("/var/log/mysql/mysql-bin.index"))
    );
}

#[test]
fn root_datadir_keeps_its_slash() {
    let a = parse(&["--role", "joiner", "--address", "h", "--datadir", "/"]).unwrap();
    assert_eq!(a.datadir, PathBuf::from("/"));
}

#[test]
fn other_roles_are_einval() {
    let e = parse(&["--role", "Joiner", "--address", "h", "--datadir", "/d"]).unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::Invalid);
    assert_eq!(
        e.to_string(),
        "unrecognized role 'Joiner' (expected joiner or donor)"
    );
    let e = parse(&["--address", "h", "--datadir", "/d"]).unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::Invalid);
    assert_eq!(e.to_string(), "--role not given");
}

#[test]
fn missing_datadir_is_enoent() {
    let e = parse(&["--role", "donor", "--address", "h:1/m"]).unwrap_err();
    assert!(matches!(e, ArgsError::MissingDatadir));
    assert_eq!(e.exit_code(), ExitCode::NotFound);
    assert_eq!(e.exit_code().code(), 2);
}

#[test]
fn bad_numbers_name_the_option() {
    let e = parse(&[
        "--role",
        "joiner",
        "--address",
        "h",
        "--datadir",
        "/d",
        "--parent",
        "abc",
    ])
    .unwrap_err();
    assert_eq!(e.to_string(), "--parent 'abc' is not a valid number");
    assert_eq!(e.exit_code(), ExitCode::Invalid);
    let e = parse(&["--role", "donor", "--local-port", "70000"]).unwrap_err();
    assert_eq!(e.to_string(), "--local-port '70000' is not a valid number");
}

#[test]
fn a_trailing_value_option_without_value_is_einval() {
    let e = parse(&["--role", "joiner", "--address", "h", "--datadir"]).unwrap_err();
    assert_eq!(e.to_string(), "--datadir needs a value");
    assert_eq!(e.exit_code(), ExitCode::Invalid);
}

#[test]
fn unknown_options_are_collected_with_the_value_they_took() {
    let a = parse(&[
        "--role",
        "joiner",
        "--new-thing",
        "42",
        "--address",
        "h",
        "--some-flag",
        "--datadir",
        "/d",
        "stray",
        "--other=x",
        "--password",
        "s3cret",
        "--auth=u:p",
    ])
    .unwrap();
    assert_eq!(a.address, "h");
    assert_eq!(a.datadir, PathBuf::from("/d"));
    assert_eq!(
        a.unknown,
        vec!["--new-thing 42", "--some-flag", "stray", "--other=x"]
    );
    assert_eq!(a.ignored, vec!["--password", "--auth"]);
    assert!(
        !format!("{a:?}").contains("s3cret"),
        "secrets must not be kept"
    );
}

#[test]
fn gtid_state_needs_a_gtid() {
    let a = parse(&["--role", "donor", "--address", "h:1/m", "--datadir", "/d"]).unwrap();
    assert_eq!(a.gtid_state().unwrap_err().to_string(), "--gtid not given");
    let a = parse(&[
        "--role",
        "donor",
        "--address",
        "h:1/m",
        "--datadir",
        "/d",
        "--gtid",
        "nonsense",
    ])
    .unwrap();
    let e = a.gtid_state().unwrap_err();
    assert_eq!(e.to_string(), "--gtid is unusable");
    assert!(std::error::Error::source(&e).is_some());
}

mod mysqld;
