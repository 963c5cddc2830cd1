//! mariadbd's argv for the SST method through `SstArgs::parse`, the input
//! split into words at NUL bytes (an argv cannot hold NUL): no panic, errors
//! have a message, and the parsed arguments written back as a canonical argv
//! (`--opt=value` forms, then `--mysqld-args` and its words) parse to the
//! same arguments.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use sst_tunnel::sst::args::{LogBin, Role, SstArgs};

/// Runs one input; panics when an invariant does not hold.
pub fn check(data: &[u8]) {
    let argv: Vec<OsString> = if data.is_empty() {
        Vec::new()
    } else {
        data.split(|&b| b == 0)
            .map(|w| OsString::from_vec(w.to_vec()))
            .collect()
    };
    match SstArgs::parse(argv.clone()) {
        Err(e) => {
            assert!(!e.to_string().is_empty());
            let _ = e.exit_code();
        }
        Ok(args) => {
            let datadir = args.datadir.as_os_str().as_bytes();
            assert!(!datadir.is_empty());
            assert!(datadir == b"/" || !datadir.ends_with(b"/"), "{args:?}");
            let _ = args.gtid_state();
            let canonical = canonical(&args);
            let again = SstArgs::parse(canonical.clone())
                .unwrap_or_else(|e| panic!("canonical {canonical:?} of {argv:?}: {e}"));
            let known = |a: &SstArgs| SstArgs {
                unknown: Vec::new(),
                ignored: Vec::new(),
                ..a.clone()
            };
            assert_eq!(known(&again), known(&args), "{canonical:?}");
            assert!(again.unknown.is_empty() && again.ignored.is_empty());
        }
    }
}

fn path(p: &Option<PathBuf>) -> Option<&OsStr> {
    p.as_deref().map(|p| p.as_os_str())
}

fn canonical(a: &SstArgs) -> Vec<OsString> {
    let mut argv = Vec::new();
    let mut opt = |name: &str, value: &[u8]| {
        let mut word = format!("--{name}=").into_bytes();
        word.extend_from_slice(value);
        argv.push(OsString::from_vec(word));
    };
    let role = match a.role {
        Role::Joiner => "joiner",
        Role::Donor => "donor",
    };
    opt("role", role.as_bytes());
    opt("address", a.address.as_bytes());
    opt("datadir", a.datadir.as_os_str().as_bytes());
    let paths = [
        ("defaults-file", path(&a.defaults.file)),
        ("defaults-extra-file", path(&a.defaults.extra_file)),
        ("socket", path(&a.socket)),
        ("binlog", path(&a.binlog)),
        ("binlog-index", path(&a.binlog_index)),
        ("log-bin-index", path(&a.server.log_bin_index)),
        ("innodb-data-home-dir", path(&a.server.innodb_data_home_dir)),
        (
            "innodb-log-group-home-dir",
            path(&a.server.innodb_log_group_home_dir),
        ),
        (
            "innodb-undo-directory",
            path(&a.server.innodb_undo_directory),
        ),
        ("aria-log-dir-path", path(&a.server.aria_log_dir_path)),
    ];
    for (name, value) in paths {
        if let Some(v) = value {
            opt(name, v.as_bytes());
        }
    }
    let texts = [
        ("defaults-group-suffix", a.defaults.group_suffix.clone()),
        ("gtid", a.gtid.clone()),
        ("parent", a.parent.map(|n| n.to_string())),
        ("local-port", a.local_port.map(|n| n.to_string())),
        ("gtid-domain-id", a.gtid_domain_id.map(|n| n.to_string())),
        ("log-basename", a.server.log_basename.clone()),
    ];
    for (name, value) in texts {
        if let Some(v) = value {
            opt(name, v.as_bytes());
        }
    }
    opt("progress", if a.progress { b"1" } else { b"0" });
    match &a.server.log_bin {
        Some(LogBin::Named(p)) => opt("log-bin", p.as_os_str().as_bytes()),
        Some(LogBin::Default) => opt("log-bin", b""),
        // Only --mysqld-args can disable it, and those are copied below.
        Some(LogBin::Disabled) | None => {}
    }
    if a.bypass {
        argv.push(OsString::from("--bypass"));
    }
    argv.push(OsString::from("--mysqld-args"));
    argv.extend(a.mysqld_args.iter().cloned());
    argv
}
