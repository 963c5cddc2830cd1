//! What an authenticated, hostile donor can reach in a joiner (issue 9),
//! part 2: what it writes. Through the product's own relay, with a valid
//! certificate from the cluster CA ([`fake_mariadbd::attacker`]):
//!
//! - no symlink it creates, nor chain of them, leads anywhere, and nothing
//!   outside the module is created or changed by writing through them;
//! - no setuid or setgid bit arrives, and the files the joiner acts on
//!   (its pid file, the socat script's, `sst_in_progress`) are neither
//!   written nor deleted, so nothing planted blocks the next SST;
//! - a root joiner runs the daemon as the data directory's owner: no device
//!   node, no file owned by anyone else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use fake_mariadbd::attacker::Hostile;
use fake_mariadbd::datadir;
use fake_mariadbd::pair::{self, Plan};
use fake_mariadbd::world::names;
use fake_mariadbd::STEP;
use testkit::fake_mariadbd;
use testkit::poll;
use testkit::procs;

const MODULE: &str = "rsync_tunnel_sst";

/// Every symlink under `dir`, with where it points.
fn symlinks(dir: &Path, out: &mut Vec<(PathBuf, PathBuf)>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let t = e.file_type().unwrap();
        if t.is_symlink() {
            out.push((p.clone(), fs::read_link(&p).unwrap()));
        } else if t.is_dir() {
            symlinks(&p, out);
        }
    }
}

#[test]
fn symlinks_built_in_the_module_lead_nowhere() {
    let h = Hostile::start();
    let datadir = h.datadir();
    let root = h.pair.world.root.clone();
    let outside = root.join("outside");
    fs::create_dir_all(outside.join("dir")).unwrap();
    fs::write(outside.join("keep"), "original").unwrap();
    let outside_before = datadir::snapshot(&outside);
    let root_before = names(&root);
    let t = h.tunnel();
    let module = |p: &str| h.url(&format!("{MODULE}/{p}"));
    let mut runs = Vec::new();

    // Links to the outside, and chains: a -> b -> ../.. (above the module).
    let links = h.scratch("links");
    symlink(&outside, links.join("abs")).unwrap();
    symlink(&outside, links.join("dl")).unwrap();
    symlink("b", links.join("a")).unwrap();
    symlink("../..", links.join("b")).unwrap();
    symlink(".", links.join("x")).unwrap();
    runs.push(t.rsync([
        "--links",
        "--recursive",
        &format!("{}/", links.display()),
        &module(""),
    ]));
    // Through x -> . a link stored under a deep name lands at the root,
    // where its `..`s reach above the module.
    let deep = h.scratch("deep");
    fs::create_dir_all(deep.join("x/x")).unwrap();
    symlink("../../outside", deep.join("x/x/up")).unwrap();
    runs.push(t.rsync_in(
        &deep,
        ["--links", "-R", "--no-implied-dirs", "x/x/up", &module("")],
    ));
    // The same through a destination path that goes through x.
    symlink("../../outside", deep.join("up2")).unwrap();
    runs.push(t.rsync_in(&deep, ["--links", "up2", &module("x/x/")]));

    // Then write through every one of them.
    let file = h.scratch("file");
    fs::write(file.join("keep"), "overwritten").unwrap();
    fs::write(file.join("planted"), "planted").unwrap();
    for dest in [
        "abs/",
        "dl/",
        "a/",
        "b/",
        "up/",
        "up2/",
        "x/x/up/",
        "a/outside/",
        "../../outside/",
    ] {
        for name in ["keep", "planted"] {
            runs.push(t.rsync([file.join(name).to_str().unwrap(), &module(dest)]));
        }
    }
    let into_dl = h.scratch("into_dl");
    fs::create_dir_all(into_dl.join("dl")).unwrap();
    fs::write(into_dl.join("dl/planted"), "planted").unwrap();
    let src = format!("{}/", into_dl.display());
    runs.push(t.rsync(["--recursive", "--keep-dirlinks", &src, &module("")]));
    runs.push(t.rsync(["--recursive", &src, &module("")]));

    let mut planted = Vec::new();
    symlinks(&datadir, &mut planted);
    let canonical = fs::canonicalize(&datadir).unwrap();
    for (link, value) in &planted {
        if let Ok(target) = fs::canonicalize(link) {
            assert!(
                target.starts_with(&canonical),
                "{} -> {} resolves outside the module, to {}; runs: {runs:#?}",
                link.display(),
                value.display(),
                target.display()
            );
        }
    }
    for (link, value) in &planted {
        assert!(
            value.starts_with("/rsyncd-munged/"),
            "{} -> {} is not munged",
            link.display(),
            value.display()
        );
        assert!(
            fs::canonicalize(link).is_err(),
            "{} resolves",
            link.display()
        );
    }
    datadir::assert_trees_equal(
        "the directory outside the module",
        &datadir::snapshot(&outside),
        &outside_before,
    );
    assert_eq!(
        names(&root),
        root_before,
        "entries created next to the nodes"
    );
    // The refused ones say so (the rest may fail on a dangling link).
    let log = &h.pair.joiner.log;
    h.attacker.assert_refused(&runs[1], "no-implied-dirs", log);
    let keep = runs
        .iter()
        .find(|r| r.args.contains(&"--keep-dirlinks".to_string()))
        .unwrap();
    h.attacker.assert_refused(keep, "keep-dirlinks", log);
    // Links arrive (munged): the transfer itself is accepted.
    runs[0].assert_ok();
    h.end();
}

#[test]
fn no_setuid_bit_device_node_or_pid_file_of_the_donor_arrives() {
    let h = Hostile::start();
    let datadir = h.datadir();
    let t = h.tunnel();
    let module = |p: &str| h.url(&format!("{MODULE}/{p}"));
    let src = h.scratch("src");
    fs::write(src.join("suid"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(src.join("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::write(src.join("sgid"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(src.join("sgid"), fs::Permissions::from_mode(0o2755)).unwrap();
    fs::create_dir(src.join("gdir")).unwrap();
    fs::set_permissions(src.join("gdir"), fs::Permissions::from_mode(0o2775)).unwrap();
    t.rsync(["--archive", &format!("{}/", src.display()), &module("in/")])
        .assert_ok();
    for (f, mode) in [("in/suid", 0o755), ("in/sgid", 0o755), ("in/gdir", 0o2775)] {
        let got = fs::metadata(datadir.join(f)).unwrap().mode() & 0o7777;
        assert_eq!(got, mode, "{f} arrived with mode {got:o}");
    }

    // The files the joiner acts on: never written, never deleted.
    let pid = fs::read_to_string(datadir.join("rsync_tunnel_sst.pid")).unwrap();
    assert_eq!(pid.trim(), h.joiner.method_pid().to_string());
    let planted = h.scratch("planted");
    for f in ["rsync_tunnel_sst.pid", "rsync_tunnel_sst-socat.pid"] {
        fs::write(planted.join(f), "1\n").unwrap();
    }
    fs::write(planted.join("sst_in_progress"), "x").unwrap();
    let run = t.rsync([
        "--dirs",
        "--delete",
        &format!("{}/", planted.display()),
        &module(""),
    ]);
    // The daemon refuses them one by one (rsync's message, in the
    // joiner's log where the daemon's stderr goes) and goes on.
    for f in [
        "rsync_tunnel_sst.pid",
        "rsync_tunnel_sst-socat.pid",
        "sst_in_progress",
    ] {
        let line = format!("daemon refused to receive file \"{f}\"");
        assert!(
            poll::until(STEP, || h.joiner.log_text().contains(&line)),
            "{line} not logged; {run:?}\n{}",
            h.joiner.diagnostics()
        );
    }
    assert_eq!(
        fs::read_to_string(datadir.join("rsync_tunnel_sst.pid")).unwrap(),
        pid
    );
    assert!(!datadir.join("rsync_tunnel_sst-socat.pid").exists());
    assert_eq!(fs::read(datadir.join("sst_in_progress")).unwrap(), b"");
    // --delete removed the rest of the top level, not these.
    assert!(!datadir.join("grastate.dat").exists());

    // A later SST on this node is not blocked by anything planted.
    let Hostile {
        mut pair,
        mut joiner,
        port,
        tunnel,
        ..
    } = h;
    drop(tunnel);
    pair::end_joiner_by_parent_death(&mut pair, &mut joiner, port);
    pair.parent = pair.world.parent();
    let plan = Plan::default();
    let out = pair::run(&pair, &plan);
    out.assert_success(&pair, &plan);
}

fn chown_tree(dir: &Path, id: u32) {
    std::os::unix::fs::lchown(dir, Some(id), Some(id)).unwrap();
    for e in fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            chown_tree(&e.path(), id);
        } else {
            std::os::unix::fs::lchown(e.path(), Some(id), Some(id)).unwrap();
        }
    }
}

#[test]
fn a_root_joiner_runs_the_daemon_as_the_owner_of_the_data_directory() {
    assert!(
        procs::is_root(),
        "this test checks what a root joiner does: run it as root (the test suite's runner is)"
    );
    const OWNER: u32 = 65534;
    let h = Hostile::start_with(|pair| {
        // A mysql-like datadir: owned by another user, reachable by it.
        for d in [&pair.world.root, &pair.joiner.dir] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        }
        chown_tree(&pair.joiner.datadir, OWNER);
    });
    let datadir = h.datadir();
    let src = h.scratch("src");
    let mknod = Command::new("mknod")
        .arg(src.join("null2"))
        .args(["c", "1", "3"])
        .status()
        .expect("mknod missing: apt-get install coreutils");
    assert!(mknod.success(), "cannot create a device node for the test");
    fs::write(src.join("rootfile"), "x").unwrap();
    fs::write(src.join("suid"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(src.join("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    let run = h.tunnel().rsync([
        "--archive",
        &format!("{}/", src.display()),
        &h.url(&format!("{MODULE}/in/")),
    ]);
    run.assert_ok();
    assert!(
        fs::symlink_metadata(datadir.join("in/null2")).is_err(),
        "a device node arrived: {run:?}"
    );
    for f in ["in", "in/rootfile", "in/suid"] {
        let md = fs::metadata(datadir.join(f)).unwrap();
        assert_eq!((md.uid(), md.gid()), (OWNER, OWNER), "owner of {f}");
    }
    assert_eq!(
        fs::metadata(datadir.join("in/suid")).unwrap().mode() & 0o7777,
        0o755
    );
    let log = h.joiner.log_text();
    assert!(
        log.lines().any(
            |l| l.contains("the rsync daemon runs as the directory's owner")
                && l.contains(&format!("uid={OWNER}"))
                && l.contains(MODULE)
        ),
        "no log line for the daemon's identity:\n{log}"
    );
    h.end();
}
