//! The files that say a transfer is running: the joiner's
//! `sst_in_progress` ([`InProgress`]), our pid file (written under the
//! reference's name, so a later joiner sees us), and the check that the
//! processes a previous transfer's pid files name have ended.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{
    remove_if_present, FilesError, POLL_INTERVAL, PRIVATE_FILE_MODE, RSYNC_PID, SOCAT_PID,
    SST_IN_PROGRESS,
};

/// Joiner: `<datadir>/sst_in_progress` exists for as long as this guard lives.
#[derive(Debug)]
pub struct InProgress {
    path: PathBuf,
}

impl InProgress {
    /// Creates the file afresh (one left by an earlier run is replaced,
    /// never written through should it be a symbolic link).
    pub fn create(datadir: &Path) -> Result<InProgress, FilesError> {
        let path = datadir.join(SST_IN_PROGRESS);
        let err = |source| FilesError::Create {
            path: path.clone(),
            source,
        };
        remove_if_present(&path)?;
        // Owner only, like every file the method creates: the datadir may
        // be world-traversable (Debian's /var/lib/mysql is 0755).
        let file = fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(PRIVATE_FILE_MODE)
            .open(&path)
            .map_err(err)?;
        file.set_permissions(fs::Permissions::from_mode(PRIVATE_FILE_MODE))
            .map_err(err)?;
        Ok(InProgress { path })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        if let Err(e) = remove_if_present(&self.path) {
            tracing::warn!(error = %e, "cannot remove sst_in_progress");
        }
    }
}

/// True when `pid` names a running (not zombie) process, from `/proc`.
pub fn process_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state letter follows the last ')' (the command name may contain parentheses).
    match stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
    {
        Some("Z") | Some("X") | Some("x") => false,
        Some(_) => true,
        None => false,
    }
}

/// Reads the first token of a pid file.
fn read_pid(path: &Path) -> Result<Option<u32>, FilesError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text.split_whitespace().next().and_then(|t| t.parse().ok())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FilesError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Fails with [`FilesError::AlreadyRunning`] (exit 114) if
/// `rsync_tunnel_sst.pid` or `rsync_tunnel_sst-socat.pid` names a live
/// process other than us; stale or unparsable pid files are removed.
pub fn check_stale_processes(datadir: &Path) -> Result<(), FilesError> {
    for name in [RSYNC_PID, SOCAT_PID] {
        let path = datadir.join(name);
        if !path.exists() {
            continue;
        }
        match read_pid(&path)? {
            Some(pid) if pid != std::process::id() && process_alive(pid) => {
                return Err(FilesError::AlreadyRunning { path, pid });
            }
            _ => {
                tracing::info!(path = %path.display(), "removing stale pid file");
                remove_if_present(&path)?;
            }
        }
    }
    Ok(())
}

/// [`check_stale_processes`] repeated every 200 ms until the previous
/// processes are gone, `cancel` fires or `deadline` passes (then exit 114,
/// like the stock scripts after 30 s).
pub async fn wait_stale_processes(
    datadir: &Path,
    cancel: &CancellationToken,
    deadline: Instant,
) -> Result<(), FilesError> {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut said = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Err(FilesError::Cancelled { path: datadir.join(RSYNC_PID) }),
            _ = tick.tick() => {}
        }
        match check_stale_processes(datadir) {
            Err(e @ FilesError::AlreadyRunning { .. }) if Instant::now() >= deadline => {
                return Err(e)
            }
            Err(e @ FilesError::AlreadyRunning { .. }) => {
                if !said {
                    said = true;
                    let left = deadline.saturating_duration_since(Instant::now());
                    tracing::info!("{e}; waiting up to {}s for it to end", left.as_secs());
                }
            }
            other => return other,
        }
    }
}

/// Writes our own pid into `path` (so a later joiner, ours or a reference
/// peer, sees us running): a fresh file, whatever was there removed first,
/// so that a planted symbolic link is never written through.
pub fn write_pid_file(path: &Path) -> Result<(), FilesError> {
    let err = |source| FilesError::Create {
        path: path.to_path_buf(),
        source,
    };
    remove_if_present(path)?;
    let mut file = fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path)
        .map_err(err)?;
    file.set_permissions(fs::Permissions::from_mode(PRIVATE_FILE_MODE))
        .map_err(err)?;
    file.write_all(format!("{}\n", std::process::id()).as_bytes())
        .map_err(err)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::Duration;

    use crate::exit::ExitCode;

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
}
