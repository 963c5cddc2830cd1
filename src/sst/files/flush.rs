//! The donor's flush files: the server writes `tables_flushed` (the
//! flushed state) or creates `sst_error` after the `flush tables` line;
//! stale ones from an earlier run go first.

use std::fs;
use std::path::Path;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{remove_if_present, FilesError, FLUSH_POLL_INTERVAL, SST_ERROR, TABLES_FLUSHED};
use crate::sst::protocol::State;

/// Donor: removes `tables_flushed` and `sst_error` left by an earlier run,
/// before printing `flush tables`.
pub fn remove_stale_flush_files(datadir: &Path) -> Result<(), FilesError> {
    remove_if_present(&datadir.join(TABLES_FLUSHED))?;
    remove_if_present(&datadir.join(SST_ERROR))
}

/// What one look at the datadir found.
enum Flush {
    Pending,
    Done(State),
}

fn look_for_flush(datadir: &Path) -> Result<Flush, FilesError> {
    let error = datadir.join(SST_ERROR);
    if error.exists() {
        remove_if_present(&error)?;
        return Err(FilesError::FlushFailed { path: error });
    }
    let flushed = datadir.join(TABLES_FLUSHED);
    // Unreadable or not yet holding ':' means "not yet" (the server renames it in place).
    let Ok(content) = fs::read_to_string(&flushed) else {
        return Ok(Flush::Pending);
    };
    if !content.contains(':') {
        return Ok(Flush::Pending);
    }
    let state = State::from_first_line(&content).map_err(|source| FilesError::FlushedState {
        path: flushed,
        source,
    })?;
    Ok(Flush::Done(state))
}

/// Donor: waits (polling every [`FLUSH_POLL_INTERVAL`]) until the server has written
/// `tables_flushed` with a state (returned) or created `sst_error` (removed;
/// [`FilesError::FlushFailed`], exit 255). Ends early on `cancel` or at
/// `deadline`.
///
/// `tables_flushed` is left in place: the server may write it a second time
/// while the lock is held, so the caller registers it in
/// [`TempFiles`](super::TempFiles) and it goes at exit.
pub async fn wait_tables_flushed(
    datadir: &Path,
    cancel: &CancellationToken,
    deadline: Option<Instant>,
) -> Result<State, FilesError> {
    let started = Instant::now();
    let what = datadir.join(TABLES_FLUSHED);
    let mut tick = tokio::time::interval(FLUSH_POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Err(FilesError::Cancelled { path: what }),
            _ = tick.tick() => {}
        }
        if let Flush::Done(state) = look_for_flush(datadir)? {
            return Ok(state);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(FilesError::TimedOut {
                path: what,
                waited: started.elapsed(),
            });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::exit::ExitCode;

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
}
