//! What an authenticated, hostile donor can reach in a joiner (issue 9),
//! part 1: reading and configuring. A peer with a valid certificate from
//! the cluster CA under another name ([`fake_mariadbd::attacker`]) runs raw
//! rsync commands through the product's own relay into the real SST method,
//! started by the fake mariadbd. It gets a write into the two modules and
//! nothing else:
//!
//! - a daemon configuration uploaded into the data directory runs nothing
//!   (the real one is in a private directory, never in a module);
//! - nothing is read back, listed, or shown in the module list;
//! - every option our donors do not send is refused (rsync's own message,
//!   in the joiner's log with the attacker's certificate), while our
//!   donor's runs, the socat script's flags, the marker run and a
//!   `--files-from` run still work.
//!
//! What it writes is in `tests/peer_writes.rs`; the private directory's
//! life in `tests/private_dir.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;

use fake_mariadbd::attacker::Hostile;
use fake_mariadbd::datadir::{self, UUID};
use fake_mariadbd::pair;
use fake_mariadbd::private_dir::{assert_private, private_dir_of, CONFIG};
use fake_mariadbd::world::names;
use fake_mariadbd::{STEP, TRANSFER};
use testkit::fake_mariadbd;
// The method's module names and the flags of every data run (the reference's).
use testkit::socat::{LOG_MODULE, MODULE, SST_FLAGS};

#[test]
fn an_uploaded_daemon_configuration_runs_no_command() {
    let h = Hostile::start();
    let datadir = h.datadir();
    let ours_in_datadir = datadir.join(CONFIG).exists();

    let proof = h.attacker.dir.join("PROOF");
    let payload = h.scratch("payload");
    let exec = format!("pre-xfer exec = touch {}", proof.display());
    fs::write(
        payload.join(CONFIG),
        format!(
            "use chroot = no\nread only = no\n{exec}\n[{MODULE}]\n    path = {}\n    {exec}\n",
            datadir.display()
        ),
    )
    .unwrap();
    fs::write(payload.join("second"), "x").unwrap();
    // The module is writable: the upload itself is allowed.
    h.tunnel()
        .rsync([
            payload.join(CONFIG).to_str().unwrap(),
            &h.url(&format!("{MODULE}/")),
        ])
        .assert_ok();
    // Every connection starts a daemon that reads its configuration.
    let second = h.tunnel().rsync([
        payload.join("second").to_str().unwrap(),
        &h.url(&format!("{MODULE}/")),
    ]);
    assert!(
        !proof.exists(),
        "the uploaded configuration ran its command; second run: {second:?}"
    );
    second.assert_ok();
    assert!(
        !ours_in_datadir,
        "the joiner's rsync daemon configuration was in the data directory, which the donor writes"
    );
    // The real one, in the private directory, is untouched.
    let real = private_dir_of(&h.tmp, &datadir);
    assert_private(&real, &datadir);
    let text = fs::read_to_string(real.join(CONFIG)).unwrap();
    assert!(!text.contains("xfer exec"), "{text}");
    // The upload is donor data now; the clean-up checks look for ours.
    fs::remove_file(datadir.join(CONFIG)).unwrap();
    h.end();
}

#[test]
fn nothing_in_the_modules_can_be_read_back_or_listed() {
    let h = Hostile::start();
    let down = h.scratch("down");
    let t = h.tunnel();
    let grastate = fs::read(h.datadir().join("grastate.dat")).unwrap();
    assert!(!grastate.is_empty());

    let refused = |run| {
        h.attacker
            .assert_refused(&run, "sender", &h.pair.joiner.log)
    };
    refused(t.rsync([
        &h.url(&format!("{MODULE}/grastate.dat")),
        down.to_str().unwrap(),
    ]));
    refused(t.rsync([
        "--recursive",
        &h.url(&format!("{MODULE}/")),
        down.to_str().unwrap(),
    ]));
    refused(t.rsync([
        "--recursive",
        &h.url(&format!("{LOG_MODULE}/")),
        down.to_str().unwrap(),
    ]));
    assert_eq!(names(&down), Vec::<String>::new(), "downloaded");

    // A listing is a download too.
    let listing = t.rsync([&h.url(&format!("{MODULE}/"))]);
    assert!(!listing.stdout.contains("grastate"), "{}", listing.stdout);
    refused(listing);
    // The module list names neither module.
    let modules = t.rsync([&h.url("")]);
    assert!(
        !modules.stdout.contains(MODULE),
        "modules listed: {}",
        modules.stdout
    );
    h.end();
}

#[test]
fn options_our_donors_never_send_are_refused_and_theirs_work() {
    let h = Hostile::start();
    let datadir = h.datadir();
    let t = h.tunnel();
    let module = |p: &str| h.url(&format!("{MODULE}/{p}"));
    let src = h.scratch("src");
    fs::create_dir_all(src.join("db9")).unwrap();
    fs::write(src.join("ibdata1"), testkit::bytes::named("ibdata", 70_000)).unwrap();
    fs::write(src.join("db9/t.ibd"), testkit::bytes::named("t", 50_000)).unwrap();
    fs::write(src.join("db9/u.ibd"), testkit::bytes::named("u", 3_000)).unwrap();
    let data = format!("{}/", src.display());
    let before = datadir::snapshot(&datadir);

    let refused: [(&[&str], &str); 11] = [
        (&["--recursive", "--temp-dir=/tmp"], "temp-dir"),
        (&["--recursive", "--keep-dirlinks"], "keep-dirlinks"),
        // --backup-dir implies -b, which rsync checks first.
        (&["--recursive", "--backup-dir=/tmp/b"], "backup"),
        (&["--recursive", "--link-dest=/tmp"], "link-dest"),
        (&["--recursive", "--copy-dest=/tmp"], "copy-dest"),
        (&["--recursive", "--partial-dir=/tmp/p"], "partial-dir"),
        (
            &["--recursive", "--remove-source-files"],
            "remove-source-files",
        ),
        (&["--recursive", "--delete-after"], "delete-after"),
        (&["--recursive", "--hard-links"], "hard-links"),
        (&["--recursive", "--chown=0:0"], "usermap"),
        (&["--recursive", "--mkpath"], "mkpath"),
    ];
    for (args, option) in refused {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.push(data.clone());
        a.push(module("db9/"));
        h.attacker
            .assert_refused(&t.rsync(&a), option, &h.pair.joiner.log);
    }
    let down = t.rsync([&module("grastate.dat"), h.attacker.dir.to_str().unwrap()]);
    h.attacker
        .assert_refused(&down, "sender", &h.pair.joiner.log);
    datadir::assert_trees_equal(
        "the joiner datadir after refused runs",
        &datadir::snapshot(&datadir),
        &before,
    );

    // Our donor's runs: top level, a schema with the optional bounds, and
    // the socat script's flags (no --whole-file); a --files-from run.
    let ours = |extra: &[&str], from: &str, to: &str| {
        let mut a: Vec<String> = SST_FLAGS.iter().map(|s| s.to_string()).collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a.push(from.into());
        a.push(to.into());
        a
    };
    t.rsync(ours(
        &[
            "--dirs",
            "--include=/ibdata*",
            "--include=/*/",
            "--exclude=/*",
        ],
        &data,
        &module(""),
    ))
    .assert_ok();
    t.rsync(ours(
        &[
            "--recursive",
            "--timeout=5",
            "--bwlimit=100000",
            "--exclude=*/ib_logfile*",
        ],
        &format!("{}/db9/", src.display()),
        &module("db9"),
    ))
    .assert_ok();
    let socat: Vec<String> = ours(
        &["--recursive"],
        &format!("{}/db9/", src.display()),
        &module("db9"),
    )
    .into_iter()
    .filter(|a| a != "--whole-file")
    .collect();
    t.rsync(&socat).assert_ok();
    fs::write(h.attacker.dir.join("list"), "db9/u.ibd\n").unwrap();
    let list = format!("--files-from={}", h.attacker.dir.join("list").display());
    t.rsync(ours(&["-R", &list], &data, &module("")))
        .assert_ok();
    // Issue 12: the delete pass (its size floor, `--min-size`) and a
    // balanced stream (`--from0`, `./` entries) of our donor.
    t.rsync(ours(
        &["--recursive", "--min-size=50001"],
        &format!("{}/db9/", src.display()),
        &module("db9"),
    ))
    .assert_ok();
    fs::write(h.attacker.dir.join("list0"), "./db9/t.ibd\0").unwrap();
    let list0 = format!("--files-from={}", h.attacker.dir.join("list0").display());
    t.rsync(ours(&["--from0", &list0], &data, &module("")))
        .assert_ok();
    for f in ["ibdata1", "db9/t.ibd", "db9/u.ibd"] {
        assert_eq!(
            fs::read(datadir.join(f)).unwrap(),
            fs::read(src.join(f)).unwrap(),
            "{f} did not arrive intact"
        );
    }

    // The marker run (--archive --checksum) ends the transfer.
    let state = format!("{UUID}:7 3");
    let marker_dir = h.scratch("marker");
    fs::write(
        marker_dir.join("rsync_tunnel_sst_complete"),
        format!("{state}\n"),
    )
    .unwrap();
    t.rsync([
        "--archive",
        "--checksum",
        "--quiet",
        marker_dir
            .join("rsync_tunnel_sst_complete")
            .to_str()
            .unwrap(),
        &module(""),
    ])
    .assert_ok();
    let Hostile {
        pair,
        mut joiner,
        port,
        tunnel,
        tmp,
        ..
    } = h;
    drop(tunnel);
    joiner.read_to_eof(TRANSFER);
    assert_eq!(joiner.wait(STEP), 0, "{}", joiner.diagnostics());
    assert!(
        joiner.texts().contains(&state),
        "joiner stdout {:?}",
        joiner.texts()
    );
    pair::assert_joiner_cleaned(&pair, &joiner, port);
    assert_eq!(names(&tmp), Vec::<String>::new(), "left in TMPDIR");
}
