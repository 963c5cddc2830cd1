//! Tests for [`super`]: each source of a server directory (arguments,
//! environment, option files, the datadir default) in its order, and the
//! binlog base, index and index entries.

use super::*;

fn args(extra: &[&str]) -> SstArgs {
    let mut argv = vec![
        "--role",
        "joiner",
        "--address",
        "h",
        "--datadir",
        "/var/lib/mysql/",
    ];
    argv.extend_from_slice(extra);
    SstArgs::parse(argv).unwrap()
}

fn cnf(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn no_env(_: &str) -> Option<OsString> {
    None
}

fn resolve(a: &SstArgs, o: &dyn ServerOptions) -> ServerPaths {
    ServerPaths::resolve_with(a, o, &no_env, Some("db1"))
}

#[test]
fn everything_defaults_to_the_datadir() {
    let p = resolve(&args(&[]), &NoOptions);
    let d = PathBuf::from("/var/lib/mysql");
    assert_eq!(p.datadir, d);
    assert_eq!(p.log_dir, d);
    assert_eq!(p.data_home_dir, d);
    assert_eq!(p.undo_dir, d);
    assert_eq!(p.aria_log_dir, d);
    assert_eq!(p.binlog, None);
}

#[test]
fn mysqld_args_win_over_option_files_and_relative_paths_join_the_datadir() {
    let a = args(&[
        "--mysqld-args",
        "--innodb-log-group-home-dir=/logs",
        "--innodb_undo_directory=undo",
    ]);
    let o = cnf(&[
        ("innodb-log-group-home-dir", "/cnf-logs"),
        ("innodb-undo-directory", "/cnf-undo"),
        ("innodb-data-home-dir", "./ibdata"),
        ("aria-log-dir-path", "../aria"),
    ]);
    let p = resolve(&a, &o);
    assert_eq!(p.log_dir, PathBuf::from("/logs"));
    assert_eq!(p.undo_dir, PathBuf::from("/var/lib/mysql/undo"));
    assert_eq!(p.data_home_dir, PathBuf::from("/var/lib/mysql/ibdata"));
    assert_eq!(p.aria_log_dir, PathBuf::from("/var/lib/mysql/../aria"));
}

#[test]
fn environment_sits_between_args_and_files() {
    let a = args(&[]);
    let o = cnf(&[
        ("innodb-log-group-home-dir", "/cnf"),
        ("innodb-data-home-dir", "/cnf-data"),
    ]);
    let env = |k: &str| match k {
        "WSREP_LOG_DIR" => Some(OsString::from("/env-logs")),
        "INNODB_DATA_HOME_DIR" => Some(OsString::from("./")),
        _ => None,
    };
    let p = ServerPaths::resolve_with(&a, &o, &env, None);
    assert_eq!(p.log_dir, PathBuf::from("/env-logs"));
    assert_eq!(p.data_home_dir, PathBuf::from("/var/lib/mysql"));
}

#[test]
fn relative_binlog_from_the_server() {
    let p = resolve(&args(&["--binlog", "mysql-bin"]), &NoOptions);
    let b = p.binlog.unwrap();
    assert_eq!(b.dir, PathBuf::from("/var/lib/mysql"));
    assert_eq!(b.base, OsString::from("mysql-bin"));
    assert_eq!(b.index, PathBuf::from("/var/lib/mysql/mysql-bin.index"));
    assert_eq!(
        b.index_line(OsStr::new("mysql-bin.000002")),
        PathBuf::from("./mysql-bin.000002")
    );
}

#[test]
fn index_entries_name_a_file_only_directly_in_the_binlog_dir() {
    let b = resolve(&args(&["--binlog", "mysql-bin"]), &NoOptions)
        .binlog
        .unwrap();
    let d = Path::new("/var/lib/mysql/");
    let name = |e: &str| b.name_in_dir(d, Path::new(e));
    let want = Some(OsString::from("mysql-bin.000002"));
    assert_eq!(name("./mysql-bin.000002"), want);
    assert_eq!(name("mysql-bin.000002"), want);
    assert_eq!(name("/var/lib/mysql/mysql-bin.000002"), want);
    assert_eq!(name("/var/lib/mysql//./mysql-bin.000002"), want);
    for elsewhere in [
        "/etc/passwd",
        "../mysql-bin.000002",
        "sub/mysql-bin.000002",
        "sub/../mysql-bin.000002",
        "/var/lib/mysql/..",
        "/var/lib",
        "/",
        "",
    ] {
        assert_eq!(name(elsewhere), None, "{elsewhere}");
    }
}

#[test]
fn absolute_binlog_with_extension_and_explicit_index() {
    let a = args(&[
        "--binlog",
        "/var/log/mysql/mariadb-bin.log",
        "--binlog-index",
        "/var/log/mysql/mariadb-bin",
    ]);
    let b = resolve(&a, &NoOptions).binlog.unwrap();
    assert_eq!(b.dir, PathBuf::from("/var/log/mysql"));
    assert_eq!(b.base, OsString::from("mariadb-bin"));
    assert_eq!(b.index, PathBuf::from("/var/log/mysql/mariadb-bin.index"));
    assert_eq!(
        b.index_line(OsStr::new("mariadb-bin.000007")),
        PathBuf::from("/var/log/mysql/mariadb-bin.000007")
    );
}

#[test]
fn log_basename_names_the_index() {
    let a = args(&[
        "--binlog",
        "binlogs/node-bin",
        "--mysqld-args",
        "--log-basename=node2",
    ]);
    let b = resolve(&a, &NoOptions).binlog.unwrap();
    assert_eq!(b.dir, PathBuf::from("/var/lib/mysql/binlogs"));
    assert_eq!(b.index, PathBuf::from("/var/lib/mysql/node2-bin.index"));
    assert_eq!(b.index_prefix, PathBuf::from("binlogs"));
}

#[test]
fn binlog_from_option_files_and_defaults() {
    let b = resolve(&args(&[]), &cnf(&[("log-bin", "")]))
        .binlog
        .unwrap();
    assert_eq!(b.base, OsString::from("db1-bin"));
    let b = resolve(
        &args(&[]),
        &cnf(&[("log-bin", ""), ("log-basename", "nodeX")]),
    )
    .binlog
    .unwrap();
    assert_eq!(b.base, OsString::from("nodeX-bin"));
    assert_eq!(b.index, PathBuf::from("/var/lib/mysql/nodeX-bin.index"));
    let b = resolve(
        &args(&[]),
        &cnf(&[("log-bin", "/binlogs/x"), ("log-bin-index", "idx/x.idx")]),
    )
    .binlog
    .unwrap();
    assert_eq!(b.dir, PathBuf::from("/binlogs"));
    assert_eq!(b.index, PathBuf::from("/var/lib/mysql/idx/x.idx"));
    let a = args(&["--mysqld-args", "--skip-log-bin"]);
    assert_eq!(resolve(&a, &cnf(&[("log-bin", "x")])).binlog, None);
}
