//! The joiner's private directory: where the rsync daemon configuration
//! (and any other file of ours that is not part of mariadbd's contract)
//! lives during a transfer, out of the donor's reach.
//!
//! The directory is created fresh under the temporary directory (`TMPDIR`,
//! else `/tmp`), mode 0700, owned by us, with a random name, and it is
//! checked to lie outside every directory the daemon serves: a file inside
//! a module can be replaced by the donor, and the daemon configuration
//! decides what the daemon executes (`pre-xfer exec`). A module may itself
//! be the temporary directory (or hold it), so the candidates are, in
//! order, `TMPDIR`, `/tmp`, `/var/tmp` and `/dev/shm`; when every one of
//! them is inside a module the run fails with an error naming both paths.
//!
//! [`PrivateDir`] removes the directory and its content when dropped, so
//! every exit path that unwinds (success, error, signal, parent death)
//! takes it away; the SST method also registers it for its final clean-up.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::RsyncError;

/// Prefix of the directory's name (a random suffix follows).
pub const PREFIX: &str = "sst-tunnel-joiner.";

/// Mode of the directory: owner only.
pub const MODE: u32 = 0o700;

/// Where the directory goes when `TMPDIR` is inside a served directory.
const FALLBACKS: [&str; 3] = ["/tmp", "/var/tmp", "/dev/shm"];

/// A private directory, removed (with its content) on drop.
#[derive(Debug)]
pub struct PrivateDir {
    path: PathBuf,
    removed: bool,
}

impl PrivateDir {
    /// Creates the directory outside every path in `served` (each must
    /// exist; they are compared canonicalised), in the first of `TMPDIR`,
    /// `/tmp`, `/var/tmp` and `/dev/shm` that is outside them all.
    pub fn create(served: &[&Path]) -> Result<PrivateDir, RsyncError> {
        let mut candidates = vec![std::env::temp_dir()];
        for fallback in FALLBACKS {
            let fallback = PathBuf::from(fallback);
            if !candidates.contains(&fallback) {
                candidates.push(fallback);
            }
        }
        PrivateDir::create_in(&candidates, served)
    }

    /// [`PrivateDir::create`] with the candidate parents given.
    pub fn create_in(candidates: &[PathBuf], served: &[&Path]) -> Result<PrivateDir, RsyncError> {
        let served = served
            .iter()
            .map(|p| {
                std::fs::canonicalize(p).map_err(|source| RsyncError::Io {
                    action: "resolve",
                    path: p.to_path_buf(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut first_inside: Option<(PathBuf, PathBuf)> = None;
        let mut first_failure: Option<RsyncError> = None;
        for parent in candidates {
            // A candidate that does not exist (or cannot be used) is only
            // worth reporting if no other one works.
            let canonical = match std::fs::canonicalize(parent) {
                Ok(c) => c,
                Err(source) => {
                    first_failure.get_or_insert(RsyncError::Io {
                        action: "resolve",
                        path: parent.clone(),
                        source,
                    });
                    continue;
                }
            };
            if let Some(module) = served.iter().find(|m| canonical.starts_with(m)) {
                tracing::debug!(
                    candidate = %canonical.display(), module = %module.display(),
                    "temporary directory is inside a served directory, trying the next one"
                );
                first_inside.get_or_insert((parent.clone(), module.clone()));
                continue;
            }
            match make(&canonical) {
                Ok(dir) => return Ok(dir),
                Err(e) => {
                    first_failure.get_or_insert(e);
                }
            }
        }
        Err(match (first_inside, first_failure) {
            (Some((dir, module)), _) => RsyncError::PrivateDirInsideModule { dir, module },
            (None, Some(e)) => e,
            (None, None) => RsyncError::NoPrivateDir,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the directory and its content now, reporting failure (a
    /// directory already gone is fine).
    pub fn remove(mut self) -> Result<(), RsyncError> {
        self.removed = true;
        remove(&self.path)
    }
}

/// Creates `sst-tunnel-joiner.XXXXXX` in `parent` (canonical), mode 0700.
fn make(parent: &Path) -> Result<PrivateDir, RsyncError> {
    let err = |source| RsyncError::Io {
        action: "create a private directory in",
        path: parent.to_path_buf(),
        source,
    };
    // tempfile creates it with mkdir(0700) under a random name, failing
    // rather than reusing an existing entry.
    let dir = tempfile::Builder::new()
        .prefix(PREFIX)
        .tempdir_in(parent)
        .map_err(err)?
        .keep();
    let guard = PrivateDir {
        path: dir,
        removed: false,
    };
    std::fs::set_permissions(&guard.path, std::fs::Permissions::from_mode(MODE)).map_err(
        |source| RsyncError::Io {
            action: "restrict",
            path: guard.path.clone(),
            source,
        },
    )?;
    tracing::debug!(path = %guard.path.display(), "private directory created");
    Ok(guard)
}

fn remove(path: &Path) -> Result<(), RsyncError> {
    // remove_dir_all does not follow symbolic links inside the directory.
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(RsyncError::Io {
            action: "remove",
            path: path.to_path_buf(),
            source,
        }),
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if !self.removed {
            if let Err(e) = remove(&self.path) {
                tracing::warn!(error = %crate::exit::chain(&e), "private directory left behind");
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn is_private_outside_the_modules_and_removed_on_drop() {
        let module = tempfile::tempdir().unwrap();
        let dir = PrivateDir::create(&[module.path()]).unwrap();
        let md = std::fs::symlink_metadata(dir.path()).unwrap();
        assert!(md.is_dir());
        assert_eq!(md.mode() & 0o7777, MODE);
        assert!(!dir.path().starts_with(module.path()));
        let path = dir.path().to_path_buf();
        std::fs::write(path.join("file"), "x").unwrap();
        drop(dir);
        assert!(!path.exists(), "{} left behind", path.display());
    }

    #[test]
    fn a_temporary_directory_inside_a_module_is_skipped() {
        let root = tempfile::tempdir().unwrap();
        let module = root.path().join("data");
        let inner_tmp = module.join("tmp");
        let outer_tmp = root.path().join("tmp");
        std::fs::create_dir_all(&inner_tmp).unwrap();
        std::fs::create_dir_all(&outer_tmp).unwrap();
        let other_module = root.path().join("log");
        std::fs::create_dir(&other_module).unwrap();
        let dir = PrivateDir::create_in(
            &[inner_tmp.clone(), outer_tmp.clone()],
            &[&other_module, &module],
        )
        .unwrap();
        let outer = std::fs::canonicalize(&outer_tmp).unwrap();
        assert_eq!(dir.path().parent(), Some(outer.as_path()));
        assert!(std::fs::read_dir(&inner_tmp).unwrap().next().is_none());
    }

    #[test]
    fn a_module_holding_every_candidate_is_an_error_naming_both() {
        let root = tempfile::tempdir().unwrap();
        let tmp = root.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let err = PrivateDir::create_in(std::slice::from_ref(&tmp), &[root.path()]).unwrap_err();
        let text = err.to_string();
        let module = std::fs::canonicalize(root.path()).unwrap();
        assert!(text.contains(&tmp.display().to_string()), "{text}");
        assert!(
            text.contains(&format!("inside the served directory {}", module.display())),
            "{text}"
        );
        assert_eq!(err.exit_code(), crate::exit::ExitCode::Invalid);
        // With the real candidates: `/` holds all of them.
        let err = PrivateDir::create(&[Path::new("/")]).unwrap_err();
        assert!(
            matches!(err, RsyncError::PrivateDirInsideModule { .. }),
            "{err}"
        );
    }

    #[test]
    fn remove_reports_and_tolerates_a_missing_directory() {
        let module = tempfile::tempdir().unwrap();
        let dir = PrivateDir::create(&[module.path()]).unwrap();
        std::fs::remove_dir(dir.path()).unwrap();
        dir.remove().unwrap();
    }
}
