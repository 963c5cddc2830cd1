//! The joiner's private directory (issue 9): its rsync daemon
//! configuration lives in a fresh 0700 directory of its own, outside every
//! module (a `TMPDIR` inside the datadir is not used), and the directory is
//! gone after a success, a failure, a signal and the parent's death.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use fake_mariadbd::pair::{self, Pair, Plan};
use fake_mariadbd::private_dir::{private_dir_while_running, private_tmp};
use fake_mariadbd::world::names;
use fake_mariadbd::{code, STEP};
use sst_tunnel::ExitCode;
use testkit::fake_mariadbd;
use testkit::procs;

#[test]
fn the_private_directory_is_gone_after_a_success() {
    let mut pair = Pair::new();
    let tmp = private_tmp(&mut pair);
    let plan = Plan::default();
    let datadir = pair.joiner.datadir.clone();
    let mut seen = None;
    let out = pair::run_with(&pair, &plan, |_| {
        seen = Some(private_dir_while_running(&tmp, &datadir));
    });
    out.assert_success(&pair, &plan);
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
    assert!(!seen.unwrap().exists());
    assert_eq!(names(&tmp), Vec::<String>::new());
}

#[test]
fn the_private_directory_is_gone_after_a_failure() {
    let mut pair = Pair::new();
    let tmp = private_tmp(&mut pair);
    // Long enough for the checks below on a loaded host, short for the test.
    pair.joiner.set_sst("sst-initial-timeout", "5");
    let (mut joiner, port, _) = pair::start_joiner(&pair, &Plan::default());
    let dir = private_dir_while_running(&tmp, &pair.joiner.datadir);
    let got = joiner.wait(STEP);
    assert_eq!(got, code(ExitCode::TimedOut), "{}", joiner.diagnostics());
    pair::assert_joiner_cleaned(&pair, &joiner, port);
    assert!(!dir.exists());
    assert_eq!(names(&tmp), Vec::<String>::new());
}

#[test]
fn the_private_directory_is_gone_after_a_signal() {
    let mut pair = Pair::new();
    let tmp = private_tmp(&mut pair);
    let (mut joiner, port, _) = pair::start_joiner(&pair, &Plan::default());
    let dir = private_dir_while_running(&tmp, &pair.joiner.datadir);
    procs::signal(joiner.method_pid(), procs::Signal::TERM);
    let got = joiner.wait(STEP);
    assert_eq!(got, code(ExitCode::Interrupted), "{}", joiner.diagnostics());
    pair::assert_joiner_cleaned(&pair, &joiner, port);
    assert!(!dir.exists());
    assert_eq!(names(&tmp), Vec::<String>::new());
}

#[test]
fn the_private_directory_is_gone_after_the_parent_died() {
    let mut pair = Pair::new();
    let tmp = private_tmp(&mut pair);
    let (mut joiner, port, _) = pair::start_joiner(&pair, &Plan::default());
    let dir = private_dir_while_running(&tmp, &pair.joiner.datadir);
    pair::end_joiner_by_parent_death(&mut pair, &mut joiner, port);
    assert!(!dir.exists());
    assert_eq!(names(&tmp), Vec::<String>::new());
}

#[test]
fn a_temporary_directory_inside_the_datadir_is_not_used() {
    let mut pair = Pair::new();
    let inner = pair.joiner.datadir.join("tmp");
    fs::create_dir(&inner).unwrap();
    pair.joiner.env.push(("TMPDIR".into(), inner.clone()));
    let (mut joiner, port, _) = pair::start_joiner(&pair, &Plan::default());
    assert_eq!(
        names(&inner),
        Vec::<String>::new(),
        "used TMPDIR inside the module"
    );
    // The first fallback: /tmp.
    let dir = private_dir_while_running(Path::new("/tmp"), &pair.joiner.datadir);
    pair::end_joiner_by_parent_death(&mut pair, &mut joiner, port);
    assert!(!dir.exists(), "{} left behind", dir.display());
}
