//! Binlog installation on a real joiner is confined (issue 9): what appears
//! in the data directory once the joiner is `ready` (the donor writes that
//! module) cannot make the joiner delete or write anything but binlogs and
//! its index. The files are planted by the test right after `ready`, where a
//! hostile donor's rsync would write them; the transfer itself is a normal
//! fake-mariadbd SST.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_mariadbd;

use std::fs;
use std::os::unix::fs::symlink;

use fake_mariadbd::pair::{self, Pair, Plan};

/// The joiner reads its old index before `ready`, so an index rewritten
/// afterwards removes nothing it names (outside the datadir, or a data
/// file), and a planted `mysql-bin.index.tmp` link is unlinked, not written
/// through. The SST itself completes as usual.
#[test]
fn a_forged_index_and_tmp_link_after_ready_touch_nothing() {
    let pair = Pair::new();
    let plan = Plan::default();
    let victim = pair.world.root.join("victim");
    let beside = pair.joiner.dir.join("beside");
    let through = pair.world.root.join("through-the-link");
    for (path, body) in [
        (&victim, "precious"),
        (&beside, "next to the datadir"),
        (&through, "not the index"),
    ] {
        fs::write(path, body).unwrap();
    }
    let datadir = pair.joiner.datadir.clone();
    assert!(
        datadir.join("mysql-bin.000007").exists(),
        "fixture: an old binlog"
    );
    let forged = format!("{}\n../beside\n./ibdata1\n", victim.display());
    let out = pair::run_with(&pair, &plan, |_port| {
        fs::write(datadir.join("mysql-bin.index"), &forged).unwrap();
        symlink(&through, datadir.join("mysql-bin.index.tmp")).unwrap();
    });
    out.assert_success(&pair, &plan);
    // ibdata1 as shipped, the old mysql-bin.000007 gone, the new index a
    // regular file listing the shipped binlog.
    out.assert_sst_tree(&pair, &["mysql-bin.000002"]);
    assert!(fs::symlink_metadata(datadir.join("mysql-bin.index"))
        .unwrap()
        .is_file());
    assert!(fs::symlink_metadata(datadir.join("mysql-bin.index.tmp")).is_err());
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(fs::read_to_string(&beside).unwrap(), "next to the datadir");
    assert_eq!(fs::read_to_string(&through).unwrap(), "not the index");
}
