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
