//! Tests for [`super`] with real files and processes.

use super::*;
use std::process::Command;

const UUID: &str = "dfb80123-e655-11f1-b862-272c1aae4adb";

/// Writes like the server: `<name>.tmp`, then rename.
fn server_writes(datadir: &Path, name: &str, content: &str) {
    let tmp = datadir.join(format!("{name}.tmp"));
    fs::write(&tmp, content).unwrap();
    fs::rename(&tmp, datadir.join(name)).unwrap();
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("timed out")
}

#[test]
fn in_progress_lives_as_long_as_its_guard() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join(SST_IN_PROGRESS);
    {
        let guard = InProgress::create(d.path()).unwrap();
        assert_eq!(guard.path(), path);
        assert!(path.exists());
    }
    assert!(!path.exists());
    let e = InProgress::create(&d.path().join("missing")).unwrap_err();
    assert!(e.to_string().contains("missing/sst_in_progress"), "{e}");
    assert_eq!(e.exit_code(), ExitCode::Failure);
}

#[test]
fn stale_flush_files_are_removed() {
    let d = tempfile::tempdir().unwrap();
    server_writes(d.path(), TABLES_FLUSHED, &format!("{UUID}:1 0\n"));
    server_writes(d.path(), SST_ERROR, "");
    remove_stale_flush_files(d.path()).unwrap();
    assert!(!d.path().join(TABLES_FLUSHED).exists());
    assert!(!d.path().join(SST_ERROR).exists());
    remove_stale_flush_files(d.path()).unwrap();
}

#[tokio::test]
async fn waits_for_tables_flushed_written_after_the_wait_began() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    let cancel = CancellationToken::new();
    let waiter = {
        let dir = dir.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { wait_tables_flushed(&dir, &cancel, None).await })
    };
    // A file without ':' yet is not the state.
    server_writes(&dir, TABLES_FLUSHED, "");
    tokio::task::yield_now().await;
    server_writes(&dir, TABLES_FLUSHED, &format!("{UUID}:6 0\n"));
    let state = within(waiter).await.unwrap().unwrap();
    assert_eq!(state.to_string(), format!("{UUID}:6 0"));
    assert!(
        dir.join(TABLES_FLUSHED).exists(),
        "left for the caller's cleanup"
    );
}

#[tokio::test]
async fn sst_error_is_exit_255_and_removed() {
    let d = tempfile::tempdir().unwrap();
    server_writes(d.path(), SST_ERROR, "");
    let e = within(wait_tables_flushed(
        d.path(),
        &CancellationToken::new(),
        None,
    ))
    .await
    .unwrap_err();
    assert!(matches!(e, FilesError::FlushFailed { .. }), "{e}");
    assert_eq!(e.exit_code(), ExitCode::TransferFailed);
    assert_eq!(e.exit_code().code(), 255);
    assert!(!d.path().join(SST_ERROR).exists());
}

#[tokio::test]
async fn unusable_flushed_state_is_named() {
    let d = tempfile::tempdir().unwrap();
    server_writes(d.path(), TABLES_FLUSHED, "not-a-uuid:6 0\n");
    let e = within(wait_tables_flushed(
        d.path(),
        &CancellationToken::new(),
        None,
    ))
    .await
    .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("tables_flushed holds no usable state"),
        "{e}"
    );
    assert_eq!(e.exit_code(), ExitCode::TransferFailed);
}

#[tokio::test(start_paused = true)]
async fn deadline_ends_the_wait() {
    let d = tempfile::tempdir().unwrap();
    server_writes(d.path(), TABLES_FLUSHED, "partial");
    let deadline = Instant::now() + Duration::from_secs(2);
    let e = wait_tables_flushed(d.path(), &CancellationToken::new(), Some(deadline))
        .await
        .unwrap_err();
    assert!(matches!(e, FilesError::TimedOut { .. }), "{e}");
    assert_eq!(e.exit_code(), ExitCode::TimedOut);
    assert!(Instant::now() >= deadline);
}

#[tokio::test]
async fn cancellation_ends_the_wait() {
    let d = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let e = within(wait_tables_flushed(d.path(), &cancel, None))
        .await
        .unwrap_err();
    assert!(matches!(e, FilesError::Cancelled { .. }), "{e}");
    assert_eq!(e.exit_code(), ExitCode::Interrupted);
}

#[test]
fn process_liveness_from_proc() {
    assert!(process_alive(std::process::id()));
    assert!(!process_alive(0));
    assert!(!process_alive(u32::MAX));
}

#[test]
fn live_pid_files_are_ealready_and_stale_ones_removed() {
    let d = tempfile::tempdir().unwrap();
    let mut child = Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("sleep missing: apt-get install coreutils");
    let pid = child.id();
    fs::write(d.path().join(SOCAT_PID), format!("{pid}\n")).unwrap();
    let e = check_stale_processes(d.path()).unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::AlreadyRunning);
    assert_eq!(e.exit_code().code(), 114);
    assert!(
        e.to_string()
            .contains(&format!("rsync_tunnel_sst-socat.pid names live pid {pid}")),
        "{e}"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!process_alive(pid));
    fs::write(d.path().join(RSYNC_PID), "garbage").unwrap();
    check_stale_processes(d.path()).unwrap();
    assert!(!d.path().join(SOCAT_PID).exists());
    assert!(!d.path().join(RSYNC_PID).exists());

    // Our own pid (we wrote it for a reference peer) is not a previous transfer.
    write_pid_file(&d.path().join(SOCAT_PID)).unwrap();
    check_stale_processes(d.path()).unwrap();
}

#[tokio::test(start_paused = true)]
async fn waiting_for_stale_processes_gives_up_at_the_deadline() {
    let d = tempfile::tempdir().unwrap();
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    fs::write(d.path().join(RSYNC_PID), child.id().to_string()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    let e = wait_stale_processes(d.path(), &CancellationToken::new(), deadline)
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), ExitCode::AlreadyRunning);
    child.kill().unwrap();
    child.wait().unwrap();
    wait_stale_processes(d.path(), &CancellationToken::new(), deadline)
        .await
        .unwrap();
}

#[test]
fn marker_first_line_is_read_as_untrusted_input() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join(MARKER);
    assert_eq!(read_marker_line(&m).unwrap(), None);
    fs::write(&m, format!("{UUID}:9 0\r\nsecret 00ff\nbypass\n")).unwrap();
    assert_eq!(
        read_marker_line(&m).unwrap().unwrap(),
        format!("{UUID}:9 0")
    );
    // A huge marker is read only as far as MARKER_MAX.
    fs::write(&m, vec![b'x'; 10 << 20]).unwrap();
    assert_eq!(
        read_marker_line(&m).unwrap().unwrap().len() as u64,
        MARKER_MAX
    );
    // A link (to a file elsewhere) and a FIFO are refused, without blocking.
    fs::remove_file(&m).unwrap();
    let elsewhere = d.path().join("elsewhere");
    fs::write(&elsewhere, format!("{UUID}:9 0\n")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &m).unwrap();
    let e = read_marker_line(&m).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    fs::remove_file(&m).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&m)
        .status()
        .unwrap();
    assert!(made.success());
    let e = read_marker_line(&m).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
}

#[test]
fn temp_files_are_removed_on_drop_and_forget_keeps_one() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.conf");
    let b = d.path().join("b.pid");
    let keep = d.path().join("keep");
    for p in [&a, &b, &keep] {
        fs::write(p, "x").unwrap();
    }
    {
        let t = TempFiles::new();
        t.register(&a);
        t.register(&a);
        t.register(&b);
        t.register(&keep);
        t.register(d.path().join("never-created"));
        t.forget(&keep);
        assert_eq!(t.registered().len(), 3);
    }
    assert!(!a.exists());
    assert!(!b.exists());
    assert!(keep.exists());
}

#[test]
fn temp_files_cleanup_runs_once() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a");
    fs::write(&a, "x").unwrap();
    let t = TempFiles::new();
    t.register(&a);
    t.cleanup();
    assert!(!a.exists());
    fs::write(&a, "new owner").unwrap();
    drop(t);
    assert!(
        a.exists(),
        "a second cleanup must not remove a re-created file"
    );
}

#[test]
fn temp_files_remove_a_registered_directory_only_once_empty() {
    let d = tempfile::tempdir().unwrap();
    let private = d.path().join("private");
    let busy = d.path().join("busy");
    for dir in [&private, &busy] {
        fs::create_dir(dir).unwrap();
        fs::write(dir.join("conf"), "x").unwrap();
    }
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&busy, &link).unwrap();
    let t = TempFiles::new();
    // The directory first, then the file it holds: removed newest first.
    t.register(&private);
    t.register(private.join("conf"));
    t.register(&busy);
    t.register(&link);
    t.cleanup();
    assert!(!private.exists(), "emptied directory left behind");
    assert!(
        busy.join("conf").exists(),
        "a directory's content is never removed"
    );
    assert!(
        fs::symlink_metadata(&link).is_err(),
        "the link itself goes, not what it points to"
    );
}

#[test]
fn pid_and_in_progress_files_are_created_fresh_never_through_a_planted_link() {
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("elsewhere");
    fs::write(&target, "precious").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
    let pid_file = d.path().join(RSYNC_PID);
    std::os::unix::fs::symlink(&target, &pid_file).unwrap();
    write_pid_file(&pid_file).unwrap();
    let in_progress = d.path().join(SST_IN_PROGRESS);
    std::os::unix::fs::symlink(&target, &in_progress).unwrap();
    let guard = InProgress::create(d.path()).unwrap();

    assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
    let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "the link's target was chmodded");
    for (path, content) in [
        (&pid_file, format!("{}\n", std::process::id())),
        (&in_progress, String::new()),
    ] {
        let md = fs::symlink_metadata(path).unwrap();
        assert!(md.is_file(), "{}", path.display());
        assert_eq!(md.permissions().mode() & 0o777, PRIVATE_FILE_MODE);
        assert_eq!(fs::read_to_string(path).unwrap(), content);
    }
    drop(guard);
}
