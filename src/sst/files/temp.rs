//! The registry of our temporary files and directories, removed on every
//! exit path of the SST method (success, error, signal, parent death).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::remove_entry;

/// Files to remove however the run ends: registered paths are deleted when
/// [`TempFiles::cleanup`] runs or the registry is dropped (share it in an `Arc`).
/// A registered directory is removed only once empty (register it before
/// the files it holds: clean-up goes newest first).
#[derive(Debug, Default)]
pub struct TempFiles {
    paths: Mutex<Vec<PathBuf>>,
}

impl TempFiles {
    /// An empty registry.
    pub fn new() -> TempFiles {
        TempFiles::default()
    }

    fn paths(&self) -> std::sync::MutexGuard<'_, Vec<PathBuf>> {
        // A panic while holding the lock leaves a valid Vec; keep using it.
        self.paths.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Removes `path` at cleanup (registering twice is harmless).
    pub fn register(&self, path: impl Into<PathBuf>) {
        let path = path.into();
        let mut paths = self.paths();
        if !paths.contains(&path) {
            paths.push(path);
        }
    }

    /// Keeps `path` after all (e.g. a file handed over to the server).
    pub fn forget(&self, path: &Path) {
        self.paths().retain(|p| p != path);
    }

    /// The registered paths, in registration order.
    pub fn registered(&self) -> Vec<PathBuf> {
        self.paths().clone()
    }

    /// Removes every registered file (and empty directory) now, newest
    /// first; failures are logged, missing paths ignored.
    pub fn cleanup(&self) {
        let paths = std::mem::take(&mut *self.paths());
        for path in paths.iter().rev() {
            if let Err(e) = remove_entry(path) {
                tracing::warn!(error = %e, "temporary file left behind");
            }
        }
    }
}

impl Drop for TempFiles {
    fn drop(&mut self) {
        self.cleanup();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::fs;

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
}
