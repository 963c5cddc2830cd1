//! Issue 11: every directory layout MariaDB supports. The system
//! tablespace (`innodb_data_home_dir`), the undo tablespaces
//! (`innodb_undo_directory`), the Aria logs (`aria_log_dir_path`) and the
//! redo log (`innodb_log_group_home_dir`) travel from where the donor's
//! server keeps them to where the joiner's server keeps them, each side with
//! its own layout (absolute, relative to the data directory, or the data
//! directory itself), through the modules `rsync_tunnel_sst-data_dir`,
//! `-undo_dir`, `-aria_log` and `-log_dir`. A socat-based joiner knows only
//! the first two modules: the donor says so and sends every kind into its
//! data directory, as the socat script does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use testkit::fake_mariadbd::command::CommandLine;
use testkit::fake_mariadbd::datadir::{self, UUID};
use testkit::fake_mariadbd::pair::{self, Pair, Plan};
use testkit::fake_mariadbd::run::{Sst, Stdin};
use testkit::fake_mariadbd::server::{self, Flush};
use testkit::fake_mariadbd::{STEP, TRANSFER};
use testkit::socat::gen_certs::GenCerts;
use testkit::socat::{self, MODULE};

/// The files of each kind the fixture donor has, by name.
const SYSTEM: &[&str] = &["ibdata1"];
const UNDO: &[&str] = &["undo001"];
const ARIA: &[&str] = &["aria_log_control", "aria_log.00000001"];
const REDO: &[&str] = &["ib_logfile0"];

/// Moves `names` from the donor's data directory into `dir`.
fn move_out(datadir: &Path, dir: &Path, names: &[&str]) {
    fs::create_dir_all(dir).unwrap();
    for n in names {
        fs::rename(datadir.join(n), dir.join(n)).unwrap();
    }
}

/// Asserts each of `names` is in `dir` with the donor's bytes (read from `from`).
fn assert_arrived(what: &str, dir: &Path, from: &Path, names: &[&str]) {
    for n in names {
        let got = fs::read(dir.join(n))
            .unwrap_or_else(|e| panic!("{what}: {n} not in {}: {e}", dir.display()));
        assert_eq!(got, fs::read(from.join(n)).unwrap(), "{what}: {n} differs");
    }
}

fn assert_absent(what: &str, dir: &Path, names: &[&str]) {
    for n in names {
        assert!(
            !dir.join(n).exists(),
            "{what}: {n} should not be in {}",
            dir.display()
        );
    }
}

fn push_args(cmd: &mut CommandLine, args: &[String]) {
    cmd.mysqld_args.extend(args.iter().cloned());
}

/// Both sides sst-tunnel, each with its own layout: the donor keeps every
/// kind in its own absolute directory; the joiner keeps the system
/// tablespace in a directory given relative to its data directory (and
/// outside it), the undo tablespaces in a subdirectory, the Aria logs in an
/// absolute directory that does not exist yet, and the redo log in the data
/// directory. Each kind lands exactly where the joiner's server expects
/// it; a stale file of that kind there is deleted (rsync's `--delete`,
/// limited to the kind's names); nothing of those kinds is left in the
/// joiner's data directory.
#[test]
fn every_kind_of_file_lands_where_the_joiners_server_keeps_it() {
    let pair = Pair::new();
    let d = &pair.donor;
    let donor_dirs = [
        ("--innodb-data-home-dir", d.dir.join("ibdata-home"), SYSTEM),
        ("--innodb-undo-directory", d.dir.join("undo"), UNDO),
        ("--aria-log-dir-path", d.dir.join("aria"), ARIA),
        ("--innodb-log-group-home-dir", d.dir.join("redo"), REDO),
    ];
    let mut donor_args = Vec::new();
    for (opt, dir, names) in &donor_dirs {
        move_out(&d.datadir, dir, names);
        donor_args.push(format!("{opt}={}", dir.display()));
    }
    let j = &pair.joiner;
    let j_system = j.dir.join("jdata");
    let j_undo = j.datadir.join("undo_here");
    let j_aria = j.dir.join("jaria/deeper");
    fs::create_dir_all(&j_system).unwrap();
    fs::write(j_system.join("ibdata2"), "stale system tablespace").unwrap();
    fs::write(j_system.join("keep.me"), "not an InnoDB file").unwrap();
    let joiner_args = vec![
        // Relative to the data directory, as mariadbd resolves it.
        "--innodb_data_home_dir=../jdata".to_string(),
        "--loose-innodb-undo-directory=undo_here".to_string(),
        format!("--aria-log-dir-path={}", j_aria.display()),
    ];
    let plan = Plan {
        joiner_edit: Box::new(move |cmd| push_args(cmd, &joiner_args)),
        donor_edit: Box::new(move |cmd| push_args(cmd, &donor_args)),
        ..Plan::default()
    };
    let out = pair::run(&pair, &plan);
    assert_eq!(
        (out.joiner_code, out.donor_code),
        (0, 0),
        "joiner\n{}\ndonor\n{}",
        out.joiner.diagnostics(),
        out.donor.diagnostics()
    );
    let from = |i: usize| donor_dirs[i].1.clone();
    assert_arrived("system tablespace", &j_system, &from(0), SYSTEM);
    assert_arrived("undo", &j_undo, &from(1), UNDO);
    assert_arrived("aria", &j_aria, &from(2), ARIA);
    assert_arrived("redo", &j.datadir, &from(3), REDO);
    assert!(
        !j_system.join("ibdata2").exists(),
        "a stale ibdata2 the donor does not have must go"
    );
    assert_eq!(
        fs::read_to_string(j_system.join("keep.me")).unwrap(),
        "not an InnoDB file",
        "--delete may only touch the kind's own names"
    );
    for names in [SYSTEM, UNDO, ARIA] {
        assert_absent("joiner data directory", &j.datadir, names);
    }
    // The schema directories arrived as usual.
    let donor_tree = datadir::snapshot(&d.datadir);
    let joiner_tree = datadir::snapshot(&j.datadir);
    for schema in ["db1/t1.ibd", "db2/big.ibd", "mysql/global_priv.MAD"] {
        assert_eq!(joiner_tree.get(schema), donor_tree.get(schema), "{schema}");
    }
    let log = out.joiner.log_text();
    assert!(
        log.contains("a socat-based donor cannot") && log.contains("innodb_data_home_dir"),
        "the joiner did not say at start what a socat-based donor cannot honour\n{log}"
    );
    // The donor has no `undo_here`: its top-level `--delete` removed the
    // joiner's, which came back for the undo run.
    assert!(
        log.contains("re-created the module directory") && log.contains("undo_here"),
        "{log}"
    );
}

/// Both sides keep the undo tablespaces in `undo/` inside the data
/// directory (the same relative setting), and the donor alone keeps its
/// redo log in `redo/` there: those directories are not schemas. The undo
/// files arrive in the joiner's `undo/` through their module, the joiner
/// gets no `redo/` directory, and its redo log lands in its data directory.
#[test]
fn directories_of_a_kind_inside_the_data_directory_are_not_schemas() {
    let pair = Pair::new();
    let d = &pair.donor;
    let (d_undo, d_redo) = (d.datadir.join("undo"), d.datadir.join("redo"));
    move_out(&d.datadir, &d_undo, UNDO);
    move_out(&d.datadir, &d_redo, REDO);
    fs::write(d_undo.join("notes.txt"), "not an undo file").unwrap();
    let j = &pair.joiner;
    let j_undo = j.datadir.join("undo");
    fs::create_dir_all(&j_undo).unwrap();
    fs::write(j_undo.join("undo009"), "stale undo").unwrap();
    let plan = Plan {
        joiner_edit: Box::new(|cmd| push_args(cmd, &["--innodb-undo-directory=undo".into()])),
        donor_edit: Box::new(|cmd| {
            push_args(
                cmd,
                &[
                    "--innodb-undo-directory=undo".into(),
                    "--innodb-log-group-home-dir=redo".into(),
                ],
            )
        }),
        ..Plan::default()
    };
    let out = pair::run(&pair, &plan);
    assert_eq!(
        (out.joiner_code, out.donor_code),
        (0, 0),
        "joiner\n{}\ndonor\n{}",
        out.joiner.diagnostics(),
        out.donor.diagnostics()
    );
    assert_arrived("undo", &j_undo, &d_undo, UNDO);
    assert!(
        !j_undo.join("undo009").exists(),
        "a stale undo file must go"
    );
    assert!(
        !j_undo.join("notes.txt").exists(),
        "only undo files travel from the donor's undo directory"
    );
    assert_arrived("redo", &j.datadir, &d_redo, REDO);
    assert!(
        !j.datadir.join("redo").exists(),
        "the donor's redo directory is not a schema"
    );
}

/// The donor, with every kind outside its data directory, against a
/// socat-based joiner (the reference's rsync daemon behind socat, two
/// modules only): every kind arrives in the joiner's data directory, the
/// donor warns which layout settings that joiner cannot honour, and the SST
/// completes.
#[test]
fn a_socat_joiner_gets_every_kind_in_its_data_directory_and_the_donor_says_so() {
    let mut pair = Pair::new();
    let pki = GenCerts::generate();
    for (key, value) in [
        ("tca", pki.ca()),
        ("tcert", pki.cert("donor")),
        ("tkey", pki.key("donor")),
    ] {
        pair.donor.set_sst(key, &value.display().to_string());
    }
    let d = pair.donor.datadir.clone();
    let donor_dirs: [(&str, PathBuf, &[&str]); 3] = [
        (
            "--innodb-data-home-dir",
            pair.donor.dir.join("ibdata-home"),
            SYSTEM,
        ),
        ("--innodb-undo-directory", pair.donor.dir.join("undo"), UNDO),
        ("--aria-log-dir-path", pair.donor.dir.join("aria"), ARIA),
    ];
    let mut donor_args = Vec::new();
    for (opt, dir, names) in &donor_dirs {
        move_out(&d, dir, names);
        donor_args.push(format!("{opt}={}", dir.display()));
    }
    let work = tempfile::tempdir().unwrap();
    let dest = work.path().join("joiner-data");
    let conf = work.path().join("rsyncd");
    fs::create_dir_all(&dest).unwrap();
    fs::create_dir_all(&conf).unwrap();
    let (_rsyncd, rsync_port) = socat::rsync_daemon(&conf, &dest);
    let (_socat, joiner_port) = socat::socat_joiner(&pki, "joiner", rsync_port);

    let plan = Plan {
        donor_edit: Box::new(move |cmd| push_args(cmd, &donor_args)),
        ..Plan::default()
    };
    let address = format!("127.0.0.1:{joiner_port}/{MODULE}");
    let cmd = pair::donor_command(&pair, &plan, &address);
    let mut donor = Sst::spawn(&pair.world, &pair.donor, "donor", cmd, Stdin::DevNull);
    let lines = server::serve_donor(
        &mut donor,
        &d,
        &Flush::State(format!("{UUID}:7 3")),
        TRANSFER,
    );
    let code = donor.wait(STEP);
    assert_eq!(code, 0, "donor stdout {lines:?}\n{}", donor.diagnostics());
    for (_, dir, names) in &donor_dirs {
        assert_arrived("socat joiner", &dest, dir, names);
    }
    let log = donor.log_text();
    assert!(
        log.contains("serves no module rsync_tunnel_sst-data_dir")
            && log.contains("a socat-based joiner"),
        "the donor did not say what the socat joiner cannot honour\n{log}"
    );
}
