#![allow(clippy::unwrap_used)]
use super::*;
use std::time::Duration;

fn plan() -> TransferPlan {
    TransferPlan {
        rsync: "/usr/bin/rsync".into(),
        dirs: ServerDirs::with_log_dir("/var/lib/mysql".into(), "/var/lib/mysql".into()),
        relay: "127.0.0.1:4000".parse().unwrap(),
        parallel: 2,
        whole_file: true,
        extra_top_level: vec!["/ib_buffer_pool".into()],
        io_timeout: None,
    }
}

#[test]
fn io_timeout_reaches_every_run_the_marker_included() {
    let mut p = plan();
    p.io_timeout = Some(Duration::from_secs(5));
    for args in [
        top_level_args(&p),
        kind_args(&p, FileKind::Undo, JoinerModules::All),
        log_dir_args(&p),
        directory_args(&p, OsStr::new("db")),
        delete_args(&p, &[OsString::from("db")], 10),
        stream_args(&p, Path::new("/tmp/list")),
        marker_args(&p, "/tmp/m/rsync_tunnel_sst_complete".into()),
    ] {
        assert!(strs(&args).contains(&"--timeout=5"), "{args:?}");
        // No run may wait for delayed ACKs on its connection to the relay.
        assert!(strs(&args).contains(&CLIENT_SOCKET_OPTION), "{args:?}");
    }
    let m = marker_args(&plan(), "/tmp/m/x".into());
    assert_eq!(
        strs(&m),
        [
            "--archive",
            "--checksum",
            "--quiet",
            "--sockopts=TCP_NODELAY",
            "/tmp/m/x",
            "rsync://127.0.0.1:4000/rsync_tunnel_sst/"
        ]
    );
}

fn strs(v: &[OsString]) -> Vec<&str> {
    v.iter().map(|s| s.to_str().unwrap()).collect()
}

#[test]
fn top_level_filters_in_order() {
    let args = top_level_args(&plan());
    let a = strs(&args);
    let pos = |s: &str| a.iter().position(|x| *x == s).unwrap();
    assert!(a.contains(&"--dirs") && !a.contains(&"--recursive"));
    assert!(pos("--exclude=/lost+found") < pos("--include=/ib_buffer_pool"));
    assert!(pos("--include=/ib_buffer_pool") < pos("--exclude=/*"));
    assert!(pos("--include=/wsrep_sst_binlog.tar") < pos("--exclude=/*"));
    assert!(pos("--include=/*/") < pos("--exclude=/*"));
    assert_eq!(a[a.len() - 2], "/var/lib/mysql/");
    assert_eq!(a[a.len() - 1], "rsync://127.0.0.1:4000/rsync_tunnel_sst/");
    // Every kind of file comes in its own run, whatever the joiner.
    for kind in FileKind::ALL {
        for pat in kind.patterns() {
            assert!(!a.contains(&format!("--include={pat}").as_str()), "{a:?}");
        }
    }
}

/// The donor keeps its undo tablespaces in `undo/` and its redo log in
/// `redo logs/` inside its data directory, and its Aria logs two levels
/// down: those directories are not schemas, the top-level and directory
/// runs leave them (and the Aria files) out, protecting the joiner's.
#[test]
fn the_donors_own_directories_in_its_data_directory_are_not_schemas() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    for sub in ["undo", "redo logs", "db1", "x[1]/aria", "mysql"] {
        std::fs::create_dir_all(data.join(sub)).unwrap();
    }
    let mut p = plan();
    p.dirs = ServerDirs::with_log_dir(data.clone(), data.join("redo logs"));
    p.dirs.undo_dir = data.join("undo");
    p.dirs.aria_log_dir = data.join("x[1]/aria");
    assert_eq!(own_top_level_dirs(&p), ["undo", "redo logs"]);
    assert_eq!(top_level_dirs(&p).unwrap(), ["db1", "mysql", "x[1]"]);
    let args = top_level_args(&p);
    let a = strs(&args);
    let pos = |s: &str| a.iter().position(|x| *x == s).unwrap();
    assert!(pos("--exclude=/undo/") < pos("--include=/*/"), "{a:?}");
    assert!(pos("--exclude=/redo logs/") < pos("--include=/*/"), "{a:?}");
    let x = directory_args(&p, OsStr::new("x[1]"));
    let x = strs(&x);
    assert!(x.contains(&"--exclude=/aria/aria_log_control"), "{x:?}");
    assert!(x.contains(&"--exclude=/aria/aria_log.*"), "{x:?}");
    assert_eq!(
        literal_then(Path::new("x[1]/aria"), "/aria_log.*"),
        "/x\\[1]/aria/aria_log.*"
    );
    assert_eq!(literal_then(Path::new("a b"), "/"), "/a b/");
    let db = directory_args(&p, OsStr::new("db1"));
    assert!(!strs(&db).iter().any(|s| s.contains("aria")), "{db:?}");
}

#[test]
fn each_kind_goes_from_its_directory_to_its_module_or_the_data_module() {
    let mut p = plan();
    p.dirs.data_home_dir = "/data/ibdata".into();
    p.dirs.undo_dir = "/data/undo".into();
    p.dirs.aria_log_dir = "/data/aria".into();
    let a = kind_args(&p, FileKind::SystemTablespace, JoinerModules::All);
    assert!(strs(&a).ends_with(&[
        "--include=/ibdata*",
        "--include=/ib_lru_dump",
        "--exclude=*",
        "/data/ibdata/",
        "rsync://127.0.0.1:4000/rsync_tunnel_sst-data_dir/"
    ]));
    let a = kind_args(&p, FileKind::Undo, JoinerModules::All);
    assert!(strs(&a).ends_with(&[
        "/data/undo/",
        "rsync://127.0.0.1:4000/rsync_tunnel_sst-undo_dir/"
    ]));
    let a = kind_args(&p, FileKind::AriaLog, JoinerModules::Reference);
    assert!(strs(&a).ends_with(&[
        "--include=/aria_log_control",
        "--include=/aria_log.*",
        "--exclude=*",
        "/data/aria/",
        "rsync://127.0.0.1:4000/rsync_tunnel_sst/"
    ]));
}

#[test]
fn log_and_directory_runs() {
    let a = log_dir_args(&plan());
    let a = strs(&a);
    assert!(a.ends_with(&[
        "--include=/ib_logfile[0-9]*",
        "--exclude=**",
        "/var/lib/mysql/",
        "rsync://127.0.0.1:4000/rsync_tunnel_sst-log_dir/"
    ]));
    let d = directory_args(&plan(), OsStr::new("mysql"));
    let d = strs(&d);
    assert!(d.contains(&"--recursive") && d.contains(&"--whole-file"));
    assert!(d.ends_with(&[
        "--exclude=*/ib_logfile*",
        "/var/lib/mysql/mysql/",
        "rsync://127.0.0.1:4000/rsync_tunnel_sst/mysql/"
    ]));
}

#[test]
fn the_wan_method_leaves_out_whole_file_everywhere() {
    let mut p = plan();
    p.whole_file = false;
    for args in [
        top_level_args(&p),
        kind_args(&p, FileKind::Undo, JoinerModules::All),
        log_dir_args(&p),
        directory_args(&p, OsStr::new("db")),
    ] {
        let a = strs(&args);
        assert!(!a.contains(&"--whole-file"), "{a:?}");
        assert!(a.contains(&"--inplace") && a.contains(&"--delete"), "{a:?}");
    }
    assert!(strs(&log_dir_args(&plan())).contains(&"--whole-file"));
}

#[test]
fn ipv6_relay_url_is_bracketed() {
    let mut p = plan();
    p.relay = "[::1]:4000".parse().unwrap();
    assert_eq!(p.url(MODULE, None), "rsync://[::1]:4000/rsync_tunnel_sst/");
}

#[test]
fn top_level_dirs_skip_artefacts_and_follow_symlinks() {
    let d = tempfile::tempdir().unwrap();
    for n in ["mysql", "lost+found", ".zfs", "b_db"] {
        std::fs::create_dir(d.path().join(n)).unwrap();
    }
    std::fs::write(d.path().join("ibdata1"), b"x").unwrap();
    std::os::unix::fs::symlink(d.path().join("mysql"), d.path().join("a_link")).unwrap();
    let mut p = plan();
    p.dirs = ServerDirs::with_log_dir(d.path().into(), d.path().into());
    let got = top_level_dirs(&p).unwrap();
    assert_eq!(got, ["a_link", "b_db", "mysql"]);
}

/// One run for every schema directory, each filtered as its directory run
/// is, with patterns anchored at its name (wildcards in the name escaped).
#[test]
fn the_delete_pass_is_one_relative_run_with_a_size_floor() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    for sub in ["db1", "x[1]/aria"] {
        std::fs::create_dir_all(data.join(sub)).unwrap();
    }
    let mut p = plan();
    p.dirs = ServerDirs::with_log_dir(data.clone(), data.clone());
    p.dirs.aria_log_dir = data.join("x[1]/aria");
    let dirs = top_level_dirs(&p).unwrap();
    let a = delete_args(&p, &dirs, 1_000_001);
    let a = strs(&a);
    let root = data.to_str().unwrap();
    assert!(a.contains(&"--recursive") && a.contains(&"--relative"));
    assert!(a.contains(&"--delete"), "{a:?}");
    assert!(a.ends_with(&[
        "--exclude=/db1/**/ib_logfile*",
        "--exclude=/x\\[1]/**/ib_logfile*",
        "--exclude=/x\\[1]/aria/aria_log_control",
        "--exclude=/x\\[1]/aria/aria_log.*",
        "--min-size=1000001",
        &format!("{root}/./db1/"),
        &format!("{root}/./x[1]/"),
        "rsync://127.0.0.1:4000/rsync_tunnel_sst/"
    ]));
}

#[test]
fn a_stream_sends_its_list_into_the_data_module() {
    let a = stream_args(&plan(), Path::new("/tmp/x/stream-1"));
    let a = strs(&a);
    assert!(a.ends_with(&[
        "--from0",
        "--files-from=/tmp/x/stream-1",
        "/var/lib/mysql/",
        "rsync://127.0.0.1:4000/rsync_tunnel_sst/"
    ]));
    // The common flags, --delete included (see the module header); never
    // --recursive, which would send whole directories again.
    for flag in COMMON_FLAGS {
        assert!(a.contains(&flag), "{flag} missing: {a:?}");
    }
    assert!(!a.contains(&"--recursive"), "{a:?}");
}
