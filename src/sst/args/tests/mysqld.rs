//! What comes after `--mysqld-args`, and the same server options at top
//! level: read with mysqld's own rules (`args/mysqld.rs`), the top level
//! winning, and nothing after `--mysqld-args` taken as ours.

use super::*;

#[test]
fn datadir_falls_back_to_mysqld_args() {
    let a = parse(&[
        "--role",
        "joiner",
        "--address",
        "h",
        "--mysqld-args",
        "--datadir",
        "/srv/db/",
    ])
    .unwrap();
    assert_eq!(a.datadir, PathBuf::from("/srv/db"));
    let a = parse(&[
        "--role",
        "joiner",
        "--address",
        "h",
        "--mysqld-args",
        "-h/srv/x",
    ])
    .unwrap();
    assert_eq!(a.datadir, PathBuf::from("/srv/x"));
}

#[test]
fn mysqld_args_are_mined_with_mysqld_rules() {
    let a = parse(&[
        "--role",
        "joiner",
        "--address",
        "h",
        "--datadir",
        "/var/lib/mysql/",
        "--mysqld-args",
        "--wsrep_start_position=00000000-0000-0000-0000-000000000000:-1",
        "--log-bin",
        "--innodb_log_group_home_dir",
        "/logs",
        "--loose-innodb-undo-directory=undo",
        "--aria-log-dir-path=/aria",
        "--innodb-data-home-dir=",
        "--log-basename=node2",
        "--log_bin_index",
        "idx/binlog.index",
        "--role",
        "donor",
    ])
    .unwrap();
    // Nothing after --mysqld-args is ours: the role stays joiner.
    assert_eq!(a.role, Role::Joiner);
    let s = &a.server;
    assert_eq!(s.log_bin, Some(LogBin::Default));
    assert_eq!(s.innodb_log_group_home_dir, Some(PathBuf::from("/logs")));
    assert_eq!(s.innodb_undo_directory, Some(PathBuf::from("undo")));
    assert_eq!(s.aria_log_dir_path, Some(PathBuf::from("/aria")));
    assert_eq!(s.innodb_data_home_dir, None);
    assert_eq!(s.log_basename.as_deref(), Some("node2"));
    assert_eq!(s.log_bin_index, Some(PathBuf::from("idx/binlog.index")));
    assert_eq!(a.mysqld_args.len(), 12);
}

#[test]
fn cluster_address_from_mysqld_args() {
    let mine = |w: &[&str]| mine_mysqld_args(&w.iter().map(OsString::from).collect::<Vec<_>>());
    assert_eq!(
        mine(&["--wsrep_cluster_address=gcomm://10.0.0.1,10.0.0.2"])
            .wsrep_cluster_address
            .as_deref(),
        Some("gcomm://10.0.0.1,10.0.0.2")
    );
    assert_eq!(
        mine(&["--loose-wsrep-cluster-address", "gcomm://a"])
            .wsrep_cluster_address
            .as_deref(),
        Some("gcomm://a")
    );
    assert_eq!(mine(&["--wsrep-new-cluster"]).wsrep_cluster_address, None);
}

#[test]
fn log_bin_forms_in_mysqld_args() {
    let mine = |w: &[&str]| mine_mysqld_args(&w.iter().map(OsString::from).collect::<Vec<_>>());
    assert_eq!(
        mine(&["--log-bin=mysql-bin"]).log_bin,
        Some(LogBin::Named("mysql-bin".into()))
    );
    // log-bin's value is optional, so mysqld takes it only with `=`.
    let s = mine(&["--log-bin", "mysql-bin"]);
    assert_eq!(s.log_bin, Some(LogBin::Default));
    assert_eq!(
        mine(&["--log-bin=x", "--skip-log-bin"]).log_bin,
        Some(LogBin::Disabled)
    );
    assert_eq!(
        mine(&["--disable-log-bin", "--enable-log-bin"]).log_bin,
        Some(LogBin::Default)
    );
    assert_eq!(mine(&["--log-bin="]).log_bin, Some(LogBin::Default));
    assert_eq!(
        mine(&["--datadir=/a", "-h", "/b/"]).datadir,
        Some(PathBuf::from("/b"))
    );
    assert_eq!(
        mine(&["--datadir", "/a", "--", "--datadir=/z"]).datadir,
        Some(PathBuf::from("/a"))
    );
}

#[test]
fn top_level_server_forms_win_over_mysqld_args() {
    let a = parse(&[
        "--role",
        "joiner",
        "--address",
        "h",
        "--datadir",
        "/d",
        "--innodb-log-group-home-dir",
        "/top",
        "--mysqld-args",
        "--innodb-log-group-home-dir=/tail",
        "--aria-log-dir-path=/aria",
    ])
    .unwrap();
    assert_eq!(
        a.server.innodb_log_group_home_dir,
        Some(PathBuf::from("/top"))
    );
    assert_eq!(a.server.aria_log_dir_path, Some(PathBuf::from("/aria")));
}
