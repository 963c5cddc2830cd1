//! Tests for [`super`] with real files, and against GNU tar: packing, and
//! installs of well-formed tars (hostile ones: `install/tests.rs`).

use super::*;
use std::ffi::OsString;
use std::process::Command;

fn binlog_paths(dir: &Path, prefix: &str) -> BinlogPaths {
    BinlogPaths {
        dir: dir.to_path_buf(),
        base: OsString::from("mysql-bin"),
        index: dir.join("mysql-bin.index"),
        index_prefix: PathBuf::from(prefix),
    }
}

/// A donor datadir with three binlogs and an index using `./` entries.
fn donor_datadir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (i, body) in ["one", "two", "three"].iter().enumerate() {
        fs::write(
            d.path().join(format!("mysql-bin.00000{}", i + 1)),
            body.repeat(1000),
        )
        .unwrap();
    }
    fs::write(
        d.path().join("mysql-bin.index"),
        "./mysql-bin.000001\n./mysql-bin.000002\n\n./mysql-bin.000003\n",
    )
    .unwrap();
    d
}

/// An install with no transfer in between: the old index read, then used.
fn install_now(datadir: &Path, b: &BinlogPaths) -> Result<Vec<OsString>, BinlogError> {
    let old = OldBinlogs::read(datadir, b)?;
    install(datadir, b, &old)
}

fn gnu_tar_list(tar: &Path) -> Vec<String> {
    let out = Command::new("tar")
        .arg("-tf")
        .arg(tar)
        .output()
        .expect("GNU tar missing: apt-get install tar");
    assert!(
        out.status.success(),
        "tar -tf failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn max_binlogs_setting() {
    assert_eq!(MaxBinlogs::default(), MaxBinlogs::Last(1));
    assert_eq!(MaxBinlogs::from_setting(0), MaxBinlogs::None);
    assert_eq!(MaxBinlogs::from_setting(-1), MaxBinlogs::All);
    assert_eq!(MaxBinlogs::from_setting(3), MaxBinlogs::Last(3));
}

#[test]
fn pack_takes_the_last_entry_by_default_and_gnu_tar_reads_it() {
    let d = donor_datadir();
    let b = binlog_paths(d.path(), ".");
    let tar = pack(d.path(), &b, MaxBinlogs::default()).unwrap().unwrap();
    assert_eq!(tar, d.path().join(BINLOG_TAR));
    assert!(!d.path().join("wsrep_sst_binlog.tar.tmp").exists());
    assert_eq!(gnu_tar_list(&tar), vec!["mysql-bin.000003"]);
    // What a reference joiner does with it: `tar -xf` in its binlog dir.
    let out = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(out.path())
        .status()
        .expect("GNU tar missing: apt-get install tar");
    assert!(status.success());
    assert_eq!(
        fs::read(out.path().join("mysql-bin.000003")).unwrap(),
        fs::read(d.path().join("mysql-bin.000003")).unwrap()
    );
}

#[test]
fn pack_all_and_last_n_flatten_to_basenames() {
    let d = donor_datadir();
    let logs = tempfile::tempdir().unwrap();
    // An absolute-path index living elsewhere.
    let mut index = String::new();
    for i in 1..=3 {
        let p = logs.path().join(format!("mysql-bin.00000{i}"));
        fs::write(&p, format!("log {i}")).unwrap();
        index.push_str(&format!("{}\n", p.display()));
    }
    let b = BinlogPaths {
        dir: logs.path().to_path_buf(),
        base: "mysql-bin".into(),
        index: logs.path().join("mysql-bin.index"),
        index_prefix: logs.path().to_path_buf(),
    };
    fs::write(&b.index, index).unwrap();
    let tar = pack(d.path(), &b, MaxBinlogs::Last(2)).unwrap().unwrap();
    assert_eq!(
        gnu_tar_list(&tar),
        vec!["mysql-bin.000002", "mysql-bin.000003"]
    );
    let tar = pack(d.path(), &b, MaxBinlogs::All).unwrap().unwrap();
    assert_eq!(gnu_tar_list(&tar).len(), 3);
    assert_eq!(pack(d.path(), &b, MaxBinlogs::None).unwrap(), None);
}

#[test]
fn pack_without_index_sends_nothing_and_missing_binlog_is_named() {
    let d = tempfile::tempdir().unwrap();
    let b = binlog_paths(d.path(), ".");
    assert_eq!(pack(d.path(), &b, MaxBinlogs::All).unwrap(), None);
    fs::write(&b.index, "./mysql-bin.000042\n").unwrap();
    let e = pack(d.path(), &b, MaxBinlogs::All).unwrap_err();
    let want = d.path().join("mysql-bin.000042");
    assert_eq!(
        e.to_string(),
        format!("cannot add binlog {} to the tar", want.display())
    );
    assert_eq!(e.exit_code(), ExitCode::TransferFailed);
    assert!(!d.path().join("wsrep_sst_binlog.tar.tmp").exists());
    assert!(!d.path().join(BINLOG_TAR).exists());
}

#[test]
fn install_replaces_old_binlogs_and_rebuilds_the_index() {
    let donor = donor_datadir();
    let db = binlog_paths(donor.path(), ".");
    let tar = pack(donor.path(), &db, MaxBinlogs::Last(2))
        .unwrap()
        .unwrap();

    let joiner = tempfile::tempdir().unwrap();
    let j = joiner.path();
    // Old state: an index naming two binlogs, plus a stray numbered one and an unrelated file.
    for name in [
        "mysql-bin.000007",
        "mysql-bin.000008",
        "mysql-bin.000099",
        "mysql-bin.cnf",
        "other.000001",
    ] {
        fs::write(j.join(name), "old").unwrap();
    }
    fs::write(
        j.join("mysql-bin.index"),
        "./mysql-bin.000007\n./mysql-bin.000008\n",
    )
    .unwrap();
    fs::copy(&tar, j.join(BINLOG_TAR)).unwrap();

    let jb = binlog_paths(j, ".");
    let names = install_now(j, &jb).unwrap();
    assert_eq!(
        names,
        vec![
            OsString::from("mysql-bin.000002"),
            OsString::from("mysql-bin.000003")
        ]
    );
    for gone in [
        "mysql-bin.000007",
        "mysql-bin.000008",
        "mysql-bin.000099",
        BINLOG_TAR,
    ] {
        assert!(!j.join(gone).exists(), "{gone} should be removed");
    }
    assert!(
        j.join("mysql-bin.cnf").exists(),
        "only <base>.[0-9]* is removed"
    );
    assert!(j.join("other.000001").exists());
    assert_eq!(
        fs::read_to_string(j.join("mysql-bin.index")).unwrap(),
        "./mysql-bin.000002\n./mysql-bin.000003\n"
    );
    assert_eq!(
        fs::read(j.join("mysql-bin.000003")).unwrap(),
        fs::read(donor.path().join("mysql-bin.000003")).unwrap()
    );
}

#[test]
fn install_without_tar_only_removes() {
    let j = tempfile::tempdir().unwrap();
    fs::write(j.path().join("mysql-bin.000001"), "old").unwrap();
    fs::write(j.path().join("mysql-bin.index"), "./mysql-bin.000001\n").unwrap();
    let b = binlog_paths(j.path(), ".");
    assert!(install_now(j.path(), &b).unwrap().is_empty());
    assert!(!j.path().join("mysql-bin.000001").exists());
    assert!(!j.path().join("mysql-bin.index").exists());
}

#[test]
fn extracts_a_tar_made_by_gnu_tar_into_a_separate_binlog_dir() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("mysql-bin.000005"), b"\xfebinlog five").unwrap();
    fs::write(src.path().join("mysql-bin.000006"), b"\xfebinlog six").unwrap();
    let datadir = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("-cf")
        .arg(datadir.path().join(BINLOG_TAR))
        .arg("-C")
        .arg(src.path())
        .args(["mysql-bin.000005", "mysql-bin.000006"])
        .status()
        .expect("GNU tar missing: apt-get install tar");
    assert!(status.success());
    let logs = tempfile::tempdir().unwrap();
    let b = BinlogPaths {
        dir: logs.path().join("binlogs"),
        base: "mysql-bin".into(),
        index: logs.path().join("binlogs/mysql-bin.index"),
        index_prefix: logs.path().join("binlogs"),
    };
    let names = install_now(datadir.path(), &b).unwrap();
    assert_eq!(names.len(), 2);
    assert_eq!(
        fs::read(b.dir.join("mysql-bin.000006")).unwrap(),
        b"\xfebinlog six"
    );
    assert_eq!(
        fs::read_to_string(&b.index).unwrap(),
        format!(
            "{0}/mysql-bin.000005\n{0}/mysql-bin.000006\n",
            b.dir.display()
        )
    );
}
