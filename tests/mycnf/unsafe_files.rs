//! Option files that are not ordinary small files (issue 9): `!include
//! /dev/zero`, a FIFO in an `!includedir`, an oversized file. Each is a
//! fatal error naming the file, the including file and line, and the cause,
//! reported fast and in bounded memory by the real binary (`sst-tunnel
//! check` and the manual joiner, under an address-space limit and a
//! deadline) and typed in the library. Symlinks to regular files and
//! `/dev/null` still read as before, exactly like `my_print_defaults`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use sst_tunnel::config::mycnf::{
    DefaultsArgs, FileKind, IncludedFrom, MyCnfError, OptionFiles, SearchPath, MAX_FILE_SIZE,
};
use sst_tunnel::ExitCode;

use testkit::check::{chmod, Outcome, FAIL_EXIT};
use testkit::child;
use testkit::project::binary;

use crate::fixtures::{assert_no_mismatch, compare, Fixtures};

/// The address-space limit the binary runs under: a few times what a check
/// needs (it passes under 64 MiB), far below what reading /dev/zero to its
/// end would take.
const AS_LIMIT: u64 = 256 << 20;

/// Deadline for one run of the binary or one in-process load.
const DEADLINE: Duration = Duration::from_secs(60);

/// `sst-tunnel ARGS` under `prlimit --as`, run to its end within [`DEADLINE`].
fn run_limited(name: &str, args: &[&std::ffi::OsStr]) -> Outcome {
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--as={AS_LIMIT}"))
        .arg("--")
        .arg(binary())
        .args(args);
    let start = std::time::Instant::now();
    let (status, stdout, stderr) = child::run(name, cmd, DEADLINE);
    Outcome {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
        elapsed: start.elapsed(),
    }
}

/// `sst-tunnel check --defaults-file CNF` under the limits.
fn check(name: &str, cnf: &Path) -> Outcome {
    run_limited(
        name,
        &[
            "check".as_ref(),
            "--defaults-file".as_ref(),
            cnf.as_os_str(),
        ],
    )
}

/// Writes `dir/name` (mode 0644) and returns its path.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    chmod(&path, 0o644);
    path
}

/// `mkfifo PATH` (the test crate makes no libc calls).
fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// `OptionFiles::load` of `--defaults-file FILE` on a thread, so a load that
/// blocks (on a FIFO) fails the test at the deadline instead of hanging it.
fn load_within(file: &Path) -> Result<OptionFiles, MyCnfError> {
    let args = DefaultsArgs {
        defaults_file: Some(file.to_path_buf()),
        ..DefaultsArgs::default()
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _gone = tx.send(OptionFiles::load_from(&args, &SearchPath::new(vec![])));
    });
    rx.recv_timeout(DEADLINE).unwrap_or_else(|_| {
        panic!(
            "loading {} did not finish within {DEADLINE:?}",
            file.display()
        )
    })
}

#[test]
fn include_dev_zero_fails_fast_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let cnf = write(dir.path(), "my.cnf", "[sst]\n!include /dev/zero\n");
    let out = check("check /dev/zero", &cnf);
    out.assert_code(FAIL_EXIT);
    out.line(
        "FAIL",
        &[
            "option files",
            &format!("{}:2:", cnf.display()),
            "included file /dev/zero",
            "character device, not a regular file",
        ],
    );

    // The runtime path (the manual joiner, as the SST method loads option
    // files) stops before listening, with the option-file exit code.
    let datadir = dir.path().join("data");
    fs::create_dir(&datadir).unwrap();
    let out = run_limited(
        "joiner /dev/zero",
        &[
            "joiner".as_ref(),
            "--defaults-file".as_ref(),
            cnf.as_os_str(),
            "--address".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--datadir".as_ref(),
            datadir.as_os_str(),
        ],
    );
    out.assert_code(i32::from(ExitCode::NotFound.code()));
    assert!(
        out.stderr.contains(&format!(
            "{}:2: included file /dev/zero is a character device, not a regular file",
            cnf.display()
        )),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "joiner printed {:?}", out.stdout);
}

#[test]
fn fifo_in_an_includedir_is_reported_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let conf_d = dir.path().join("conf.d");
    fs::create_dir(&conf_d).unwrap();
    write(&conf_d, "a.cnf", "[sst]\ntca = /a/ca.pem\n");
    let fifo = conf_d.join("x.cnf");
    mkfifo(&fifo);
    let cnf = write(
        dir.path(),
        "my.cnf",
        &format!("[sst]\n\n!includedir {}\n", conf_d.display()),
    );

    let err = load_within(&cnf).expect_err("a FIFO in an !includedir must be an error");
    match &err {
        MyCnfError::NotRegularFile {
            path,
            kind: FileKind::Fifo,
            included_from:
                Some(IncludedFrom {
                    path: from,
                    line: 3,
                }),
        } if *path == fifo && *from == cnf => {}
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3: included file {} is a FIFO, not a regular file",
            cnf.display(),
            fifo.display()
        )
    );

    let out = check("check FIFO", &cnf);
    out.assert_code(FAIL_EXIT);
    out.line(
        "FAIL",
        &["option files", &fifo.display().to_string(), "FIFO"],
    );

    // The same FIFO named on the command line: refused too, not opened for reading.
    let err = load_within(&fifo).expect_err("a FIFO as --defaults-file must be an error");
    assert!(
        matches!(&err, MyCnfError::NotRegularFile { path, kind: FileKind::Fifo, included_from: None } if *path == fifo),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "option file {} is a FIFO, not a regular file",
            fifo.display()
        )
    );
}

#[test]
fn an_oversized_file_is_reported_with_its_size_and_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    // Valid option-file text (comments), one byte over the cap.
    let size = MAX_FILE_SIZE + 1;
    let mut text = "# padding\n".repeat(usize::try_from(size / 10).unwrap());
    text.push_str(&"#".repeat(usize::try_from(size % 10).unwrap()));
    let big = write(dir.path(), "big.cnf", &text);
    assert_eq!(fs::metadata(&big).unwrap().len(), size);
    let cnf = write(
        dir.path(),
        "my.cnf",
        &format!("[sst]\n!include {}\n", big.display()),
    );

    let err = load_within(&cnf).expect_err("an oversized include must be an error");
    match &err {
        MyCnfError::TooLarge {
            path,
            size: got,
            cap,
            included_from:
                Some(IncludedFrom {
                    path: from,
                    line: 2,
                }),
        } if *path == big && *got == size && *cap == MAX_FILE_SIZE && *from == cnf => {}
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2: included file {} is {size} bytes, over the {MAX_FILE_SIZE}-byte limit for option files",
            cnf.display(),
            big.display()
        )
    );
    let out = check("check oversized include", &cnf);
    out.assert_code(FAIL_EXIT);
    out.line(
        "FAIL",
        &[
            "option files",
            &big.display().to_string(),
            &size.to_string(),
            &MAX_FILE_SIZE.to_string(),
        ],
    );

    // Named on the command line, it is refused the same way.
    let err = load_within(&big).expect_err("an oversized --defaults-file must be an error");
    assert_eq!(
        err.to_string(),
        format!(
            "option file {} is {size} bytes, over the {MAX_FILE_SIZE}-byte limit for option files",
            big.display()
        )
    );

    // At the cap exactly, it is read.
    fs::write(&big, &text[..text.len() - 1]).unwrap();
    let files = load_within(&cnf).unwrap();
    assert_eq!(files.files_read(), [cnf.clone(), big.clone()]);
}

/// A problem inside an included file only ends that file (MariaDB's rule,
/// kept for syntax errors); a device or a FIFO two levels down stops the
/// whole load, naming the file that included it. (Devices are only read by
/// the binary under its memory limit: a regression must not eat this
/// process's memory.)
#[test]
fn an_unreadable_kind_of_file_deep_in_the_includes_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.cnf");
    mkfifo(&fifo);
    let inner = write(
        dir.path(),
        "inner.cnf",
        &format!("[sst]\ntkey = /k\n!include {}\n", fifo.display()),
    );
    let cnf = write(
        dir.path(),
        "my.cnf",
        &format!("[sst]\ntcert = /c\n!include {}\n", inner.display()),
    );
    let err = load_within(&cnf).expect_err("a FIFO two includes down must be an error");
    match &err {
        MyCnfError::NotRegularFile {
            path,
            kind: FileKind::Fifo,
            included_from:
                Some(IncludedFrom {
                    path: from,
                    line: 3,
                }),
        } if *path == fifo && *from == inner => {}
        other => panic!("unexpected {other:?}"),
    }

    write(
        dir.path(),
        "inner.cnf",
        "[sst]\ntkey = /k\n!include /dev/urandom\n",
    );
    let out = check("check nested /dev/urandom", &cnf);
    out.assert_code(FAIL_EXIT);
    out.line(
        "FAIL",
        &[
            "option files",
            &format!("{}:3:", inner.display()),
            "included file /dev/urandom is a character device",
        ],
    );
}

/// Symlinks to regular files (the usual /etc/mysql/conf.d layout) and
/// `/dev/null` (the usual "no option file") read exactly as
/// `my_print_defaults` reads them.
#[test]
fn symlinks_to_regular_files_and_dev_null_still_read_like_my_print_defaults() {
    let fx = Fixtures::new();
    let vars = fx.vars(&[]);
    let available = fx.path("available");
    let enabled = fx.path("enabled");
    fs::create_dir(&available).unwrap();
    fs::create_dir(&enabled).unwrap();
    write(
        &available,
        "galera.conf",
        "[sst]
tca = /linked/ca.pem
",
    );
    write(
        &available,
        "other.conf",
        "[sst]
tcert = /linked/cert.pem
",
    );
    std::os::unix::fs::symlink(available.join("galera.conf"), enabled.join("60-galera.cnf"))
        .unwrap();
    std::os::unix::fs::symlink("../available/other.conf", enabled.join("70-other.cnf")).unwrap();
    std::os::unix::fs::symlink("/dev/null", enabled.join("80-null.cnf")).unwrap();
    let top = write(
        fx.root(),
        "linked.cnf",
        &format!(
            "[sst]
!includedir {}
!include /dev/null
!include {}
",
            enabled.display(),
            enabled.join("70-other.cnf").display()
        ),
    );
    let linked_top = fx.path("linked-top.cnf");
    std::os::unix::fs::symlink(&top, &linked_top).unwrap();
    let unused = SearchPath::new(vec![]);
    let mut mismatches = Vec::new();
    for file in [top.clone(), linked_top, PathBuf::from("/dev/null")] {
        let args = DefaultsArgs {
            defaults_file: Some(file.clone()),
            ..DefaultsArgs::default()
        };
        mismatches.extend(compare(
            &fx,
            &vars,
            &args,
            &unused,
            &file.display().to_string(),
        ));
    }
    assert_no_mismatch(mismatches);
    let files = load_within(&top).unwrap();
    assert_eq!(files.get_str(&["sst"], "tca"), Some("/linked/ca.pem"));
    assert_eq!(files.get_str(&["sst"], "tcert"), Some("/linked/cert.pem"));
    assert!(files.warnings().is_empty(), "{:?}", files.warnings());
}
