//! The index: forged during the transfer or left without a tar, a
//! planted `.tmp` link, an index that is a link or too large.

use std::ffi::OsStr;

use super::*;

#[test]
fn an_index_forged_during_the_transfer_removes_nothing_it_names() {
    let j = Joiner::new();
    let old = OldBinlogs::read(&j.data, &j.b).unwrap();
    // The donor writes the datadir module: a new index naming other files.
    let outside = j.outside.display();
    fs::write(
        &j.b.index,
        format!("{outside}/victim\n../outside/victim\n./ibdata1\n{outside}/mysql-bin.000001\n"),
    )
    .unwrap();
    file_tar(&j.tar(), &["mysql-bin.000002"]);
    assert_eq!(
        install(&j.data, &j.b, &old).unwrap(),
        vec![OsString::from("mysql-bin.000002")]
    );
    assert_eq!(j.read("outside/victim"), "precious");
    assert_eq!(j.read("outside/mysql-bin.000001"), "someone else's binlog");
    assert_eq!(j.read("data/ibdata1"), "system tablespace");
    assert!(!j.data.join("mysql-bin.000007").exists(), "old binlog kept");
    assert_eq!(j.read("data/mysql-bin.index"), "./mysql-bin.000002\n");
    assert_eq!(j.read("data/mysql-bin.000002"), "mysql-bin.000002");
    assert!(!j.tar().exists());
}

#[test]
fn old_index_entries_outside_the_binlog_dir_or_not_binlogs_are_skipped() {
    let j = Joiner::new();
    // Forged by a previous transfer: only ./mysql-bin.000007 is ours to remove.
    let outside = j.outside.display();
    fs::write(
        &j.b.index,
        format!(
            "{outside}/victim\n../outside/victim\n./ibdata1\n{outside}/mysql-bin.000001\n\
             ./sub/mysql-bin.000003\n./mysql-bin.000007\n\n"
        ),
    )
    .unwrap();
    let old = OldBinlogs::read(&j.data, &j.b).unwrap();
    assert_eq!(
        old.names().collect::<Vec<_>>(),
        vec![OsStr::new("mysql-bin.000007")]
    );
    file_tar(&j.tar(), &["mysql-bin.000002"]);
    install(&j.data, &j.b, &old).unwrap();
    assert_eq!(j.read("outside/victim"), "precious");
    assert_eq!(j.read("outside/mysql-bin.000001"), "someone else's binlog");
    assert_eq!(j.read("data/ibdata1"), "system tablespace");
    assert!(!j.data.join("mysql-bin.000007").exists());
}

/// The `.tmp` name is ours: whatever sits there is a leftover or a plant,
/// so it is unlinked (never followed) and the install goes on.
#[test]
fn a_planted_index_tmp_link_is_unlinked_not_written_through() {
    for chain in [false, true] {
        let j = Joiner::new();
        let old = OldBinlogs::read(&j.data, &j.b).unwrap();
        let tmp = j.data.join("mysql-bin.index.tmp");
        if chain {
            // An in-module link to another in-module link that leaves.
            symlink(j.outside.join("victim"), j.data.join("hop")).unwrap();
            symlink("hop", &tmp).unwrap();
        } else {
            symlink(j.outside.join("victim"), &tmp).unwrap();
        }
        file_tar(&j.tar(), &["mysql-bin.000002"]);
        install(&j.data, &j.b, &old).unwrap();
        assert_eq!(j.read("outside/victim"), "precious", "chain {chain}");
        assert_eq!(j.read("data/mysql-bin.index"), "./mysql-bin.000002\n");
        assert!(fs::symlink_metadata(&tmp).is_err(), "tmp left behind");
        let index = fs::symlink_metadata(&j.b.index).unwrap();
        assert!(index.is_file(), "the index is a fresh regular file");
    }
}

#[test]
fn an_index_that_is_a_link_or_too_large_is_refused_at_start() {
    let j = Joiner::new();
    fs::write(
        j.outside.join("index"),
        format!("{}/victim\n", j.outside.display()),
    )
    .unwrap();
    fs::remove_file(&j.b.index).unwrap();
    symlink(j.outside.join("index"), &j.b.index).unwrap();
    let e = OldBinlogs::read(&j.data, &j.b).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "binlog index {} is a symbolic link, not a regular file",
            j.b.index.display()
        )
    );
    assert_eq!(e.exit_code(), ExitCode::TransferFailed);

    fs::remove_file(&j.b.index).unwrap();
    let big = File::create(&j.b.index).unwrap();
    big.set_len(MAX_INDEX_BYTES + 1).unwrap();
    let e = OldBinlogs::read(&j.data, &j.b).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "binlog index {} is larger than {MAX_INDEX_BYTES} bytes",
            j.b.index.display()
        )
    );
    assert_eq!(j.read("outside/victim"), "precious");
}

/// No tar arrived (an IST, or a donor shipping none): an index the donor
/// rewrote during the transfer keeps only the binlogs of this server's
/// binlog directory, so the server never purges an outside file later.
#[test]
fn an_index_forged_without_a_tar_is_pruned_to_this_servers_binlogs() {
    let j = Joiner::new();
    let victim = j.outside.join("victim");
    let forged = format!(
        "./mysql-bin.000007\n{}\n../outside/mysql-bin.000001\n./ibdata1\n",
        victim.display()
    );
    fs::write(&j.b.index, &forged).unwrap();
    assert_eq!(vet_index(&j.data, &j.b).unwrap(), 3);
    assert_eq!(j.read("data/mysql-bin.index"), "./mysql-bin.000007\n");
    assert_eq!(j.read("outside/victim"), "precious");
    // A clean index is left exactly as it is.
    let before = j.tree();
    assert_eq!(vet_index(&j.data, &j.b).unwrap(), 0);
    assert_eq!(j.tree(), before);
}

/// An index replaced by a link (to an outside index) is removed, not
/// followed; one outside the data directory is not the donor's to write.
#[test]
fn an_index_replaced_by_a_link_is_removed_without_following_it() {
    let j = Joiner::new();
    let outside_index = j.outside.join("mysql-bin.index");
    fs::write(
        &outside_index,
        format!("{}\n", j.outside.join("victim").display()),
    )
    .unwrap();
    fs::remove_file(&j.b.index).unwrap();
    symlink(&outside_index, &j.b.index).unwrap();
    assert_eq!(vet_index(&j.data, &j.b).unwrap(), 1);
    assert!(
        fs::symlink_metadata(&j.b.index).is_err(),
        "the link is gone"
    );
    assert!(j.read("outside/mysql-bin.index").contains("victim"));

    let mut elsewhere = j.b.clone();
    elsewhere.index = outside_index;
    let before = j.tree();
    assert_eq!(vet_index(&j.data, &elsewhere).unwrap(), 0);
    assert_eq!(j.tree(), before);
}
