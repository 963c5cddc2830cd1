//! The joiner's private directory (issue 9), seen from outside: where the
//! method keeps its rsync daemon configuration, out of every module. The
//! tests give the joiner node a `TMPDIR` of its own ([`private_tmp`]) and
//! find the directory there by the datadir its configuration serves.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::pair::Pair;
use super::world::names;

/// The configuration file's name.
pub const CONFIG: &str = "rsync_tunnel_sst.conf";
/// The start of the private directory's name.
pub const PREFIX: &str = "sst-tunnel-joiner.";

/// Gives the joiner node its own temporary directory (0700), so that what
/// appears in it is the method's alone.
pub fn private_tmp(pair: &mut Pair) -> PathBuf {
    let tmp = pair.joiner.dir.join("tmp");
    fs::create_dir(&tmp).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o700)).unwrap();
    pair.joiner.env.push(("TMPDIR".into(), tmp.clone()));
    tmp
}

/// The joiner's private directories in `tmp` right now.
pub fn private_dirs(tmp: &Path) -> Vec<PathBuf> {
    names(tmp)
        .into_iter()
        .filter(|n| n.starts_with(PREFIX))
        .map(|n| tmp.join(n))
        .collect()
}

/// The one private directory of the joiner serving `datadir`, looked for
/// in `tmp` (its configuration names the datadir).
pub fn private_dir_of(tmp: &Path, datadir: &Path) -> PathBuf {
    let mine: Vec<PathBuf> = private_dirs(tmp)
        .into_iter()
        .filter(|d| {
            fs::read_to_string(d.join(CONFIG)).is_ok_and(|c| {
                c.lines()
                    .filter_map(|l| l.trim().strip_prefix("path = "))
                    .any(|p| Path::new(p) == datadir)
            })
        })
        .collect();
    assert_eq!(
        mine.len(),
        1,
        "private directories in {} for {}: {mine:?}",
        tmp.display(),
        datadir.display()
    );
    mine.into_iter().next().unwrap()
}

/// Mode 0700, ours, outside the modules, holding the configuration (0600)
/// that serves `datadir`.
pub fn assert_private(dir: &Path, datadir: &Path) {
    let md = fs::symlink_metadata(dir).unwrap();
    assert!(md.is_dir(), "{} is not a directory", dir.display());
    assert_eq!(md.mode() & 0o7777, 0o700, "mode of {}", dir.display());
    let me = fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(md.uid(), me, "owner of {}", dir.display());
    assert!(
        !dir.starts_with(datadir),
        "{} is inside the module",
        dir.display()
    );
    let conf = dir.join(CONFIG);
    assert_eq!(fs::metadata(&conf).unwrap().mode() & 0o7777, 0o600);
    assert_eq!(names(dir), vec![CONFIG.to_string()]);
}

/// While a joiner runs: no configuration in its datadir, and its private
/// directory in `tmp` passes [`assert_private`]; returns it.
pub fn private_dir_while_running(tmp: &Path, datadir: &Path) -> PathBuf {
    assert!(
        !datadir.join(CONFIG).exists(),
        "a daemon configuration is inside the data directory (a module)"
    );
    let dir = private_dir_of(tmp, datadir);
    assert_private(&dir, datadir);
    dir
}
