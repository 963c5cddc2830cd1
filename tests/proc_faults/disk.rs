//! The joiner's data directory filling up mid-transfer: ENOSPC is named,
//! with the file system and how much fitted, and both roles end with their
//! documented codes.

use super::*;

/// Scenario 4: the joiner's datadir is a 3 MiB tmpfs and the donor ships
/// about 6.5 MiB. The joiner ends at once with exit 28 (ENOSPC) and an
/// error naming the mount point and "No space left on device"; the donor's
/// rsync fails (255); no state is printed and nothing is left running.
#[test]
fn joiner_datadir_full_fails_with_enospc() {
    let mut pair = Pair::new();
    pair.joiner
        .set_sst("sst-idle-timeout", &JOINER_IDLE.to_string());
    // Mounted over the populated datadir: repopulate the joiner on the tmpfs.
    let tmpfs = faults::Tmpfs::mount(&pair.joiner.datadir, "3m");
    // Declared after the mount: dropped (killing stragglers) before it.
    let _reaper = Reaper(pair.world.root.clone());
    datadir::populate_joiner(&pair.joiner.datadir);
    let plan = Plan::default();
    let total = midway::shipped_bytes(&pair);
    let base = faults::usage(&pair.joiner.datadir);
    let (mut joiner, port, addr) = pair::start_joiner(&pair, &plan);
    let joiner_pid = joiner.method_pid();
    let cmd = pair::donor_command(&pair, &plan, &addr);
    let mut donor = Sst::spawn(&pair.world, &pair.donor, "donor", cmd, Stdin::DevNull);
    server::answer_first_flush(
        &mut donor,
        &pair.donor.datadir,
        &format!("{UUID}:7 3"),
        STEP,
    );
    let rss = figures::peak_rss_kib(joiner_pid);
    let started = Instant::now();
    // The file system fills up within the first seconds; the joiner must
    // not wait for its idle timeout.
    let jc = joiner.wait(STEP);
    let joiner_took = started.elapsed();
    let at_end = faults::usage(&pair.joiner.datadir);
    let rest = donor.read_to_eof(STEP);
    let dc = donor.wait(STEP);
    joiner.assert_stdout_closed(Duration::from_secs(2));
    donor.assert_stdout_closed(Duration::from_secs(2));
    let diag = format!("{}\n\n{}", joiner.diagnostics(), donor.diagnostics());
    assert_eq!(jc, code(ExitCode::NoSpace), "joiner exit\n{diag}");
    let mount = tmpfs.dir.display().to_string();
    let log_text = joiner.log_text();
    let line = log::find(
        &log_text,
        &[
            "[ERROR]",
            &mount,
            "tmpfs",
            "No space left on device",
            "ENOSPC",
        ],
    );
    assert!(
        line.is_some(),
        "joiner's error does not name the full file system {mount}\n{diag}"
    );
    assert_eq!(
        joiner.texts().len(),
        1,
        "joiner printed state: {:?}",
        joiner.texts()
    );
    // The donor's rsync fails (255); when rsync passes the joiner's ENOSPC
    // on to it, the donor says so and exits 28.
    if dc == code(ExitCode::NoSpace) {
        assert!(
            donor.log_text().contains("No space left on device"),
            "donor exit 28 without the cause\n{diag}"
        );
    } else {
        assert_eq!(dc, code(ExitCode::TransferFailed), "donor exit\n{diag}");
    }
    assert!(
        !rest.iter().any(|l| l.starts_with("done")),
        "donor said done: {rest:?}"
    );
    let arrived = faults::written_between(&base, &at_end);
    assert!(
        arrived > 0 && arrived < total,
        "not a partial transfer: {arrived} of {total} bytes\n{diag}"
    );
    pair::assert_joiner_cleaned(&pair, &joiner, port);
    let gone = faults::time_until_none_left(&pair.world.root, started, STEP)
        .unwrap_or_else(|left| panic!("left behind: {left:#?}\n{diag}"));
    let after = faults::written_between(&at_end, &faults::usage(&pair.joiner.datadir));
    assert_eq!(after, 0, "bytes written after the joiner ended");
    figures::record(&Figure {
        scenario: "joiner datadir full (3 MiB tmpfs, ENOSPC)".into(),
        time_to_end: Some(gone),
        exit: format!("joiner {jc}, donor {dc}"),
        bytes_after: Some(after),
        procs_left: Some(procs::touching(&pair.world.root).len()),
        peak_rss_kib: rss,
        notes: format!(
            "{arrived} of {total} bytes fit; joiner ended {:.2}s after tables_flushed; {}",
            joiner_took.as_secs_f64(),
            line.unwrap_or_default().trim()
        ),
    });
    drop(tmpfs);
}
