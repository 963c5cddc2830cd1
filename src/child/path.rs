//! Finding a program the way `execvp` would: the first executable regular
//! file of that name in `PATH`'s directories.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// True when `p` is a regular file someone may execute.
pub fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first executable `name` in the directories of `path` (a `PATH`
/// value; empty entries are skipped, not read as the current directory).
pub fn find_in_path(name: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_first_executable_wins_and_empty_entries_are_skipped() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let plain = a.path().join("prog");
        std::fs::write(&plain, "not executable").unwrap();
        let exe = b.path().join("prog");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path =
            std::env::join_paths(["", a.path().to_str().unwrap(), b.path().to_str().unwrap()])
                .unwrap();
        assert_eq!(find_in_path(OsStr::new("prog"), Some(&path)), Some(exe));
        assert_eq!(find_in_path(OsStr::new("other"), Some(&path)), None);
        assert_eq!(find_in_path(OsStr::new("prog"), None), None);
    }
}
