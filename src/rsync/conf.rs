//! The text of the joiner's rsync daemon configuration (`rsyncd.conf`),
//! and who the daemon runs as.
//!
//! # What the peer can reach
//!
//! A donor is authenticated (its certificate chains to the cluster CA), not
//! trusted: the configuration gives it a write into the two modules and
//! nothing else. Every setting below is one rsync 3.1.3 (RHEL 8, the oldest
//! rsync we support) already understands:
//!
//! - `write only = yes`: no download, so no datadir file can be read back;
//!   `list = no`: the modules are not listed; `--sender` and `--list-only`
//!   are refused as well ([`super::refuse`]).
//! - `refuse options`: every option our donor and the socat script never
//!   send is refused by name ([`super::refuse::REFUSED_OPTIONS`]), which
//!   takes away the paths outside the module a client could otherwise name
//!   (`--temp-dir`, `--backup-dir`, `--link-dest`, ...).
//! - `munge symlinks = yes` (see below).
//! - `incoming chmod = Fug-s`: no setuid or setgid file arrives, whoever the
//!   daemon runs as (directories keep a setgid bit: it only steers the group
//!   of new files).
//! - `exclude`: besides `.zfs` (as the stock method), the names whose
//!   content the joiner itself acts on are out of the donor's reach:
//!   `sst_in_progress` (ours) and the pid files a stale-process check reads
//!   (`rsync_tunnel_sst.pid`, ours, and `rsync_tunnel_sst-socat.pid`, the
//!   socat script's). A donor that could plant one naming a live process
//!   would make every later SST on the node stop with "a previous transfer
//!   is still running". rsync never writes nor deletes a daemon-excluded
//!   name; the donors' own filters never send them.
//! - The configuration itself lives outside every module
//!   ([`super::private_dir`]), and there is no `pre-xfer exec`,
//!   `post-xfer exec`, `log file` or `temp dir`.
//!
//! # Symbolic links
//!
//! rsyncd.conf(5), from 3.1.3 on, says it for this very combination: with
//! `munge symlinks` disabled on a writable module there are "tricks that a
//! user can play with uploaded symlinks to access daemon-excluded items",
//! and with `use chroot` off "rsync can even be tricked into showing or
//! changing data that is outside the module's path"; the per-link
//! sanitising rsync does instead (leading `/` dropped, `..` cut at the
//! depth of the link's *name*) has "tricky ways to work around", "so you
//! had better trust your users". We do not: a link `x -> .`, then `x/x/l ->
//! ../../elsewhere` stored through it (`-R --no-implied-dirs`), lands in
//! the module root and resolves two levels above it. An rsync without
//! confined path resolution (upstream 3.1.3 and 3.2.x; distributions
//! backport it unevenly, Debian 12's 3.2.7 refuses with EXDEV) then writes
//! through such links; and whatever the daemon does, mariadbd and the
//! joiner follow them later. `use chroot` stays off: the joiner is not root
//! in production. With `munge symlinks = yes` every link the donor creates
//! is stored as `/rsyncd-munged/<value>`, under a directory that does not
//! exist (rsync refuses to serve a module when it does, and only root can
//! create it), so no link and no chain of links the donor creates resolves
//! anywhere, inside or outside the module. The reference socat joiner
//! munges too: it leaves `munge symlinks` at its default, which is on
//! without chroot.
//!
//! The cost: a MyISAM table created with `DATA DIRECTORY`/`INDEX
//! DIRECTORY` is a symlink in the datadir whose target lives elsewhere.
//! No rsync SST transfers those targets (the stock rsync method neither),
//! and without munging the link arrived sanitised anyway (its leading `/`
//! dropped, so pointing into the datadir at a path that usually does not
//! exist). With munging it arrives as a dangling `/rsyncd-munged/...` link
//! that shows the original target after the prefix; the table has to be
//! re-created or copied by hand either way. Any other symlink inside what
//! the donor sends arrives dangling the same way, a relative one included
//! (InnoDB's remote tablespaces use `.isl` text files, not links).
//!
//! # Who the daemon runs as
//!
//! As another user than root, rsync keeps our ids (`uid`/`gid` are left
//! out: a non-root rsync told to switch group fails in `setgroups`). As
//! root, each module's daemon takes the uid and gid of the module's
//! directory (mysql in practice): a root daemon would let the donor, whose
//! marker run sends `-D`, create device nodes, and files of any owner. Only
//! a directory owned by root keeps a root daemon (logged as a warning);
//! rsync's default of `nobody` could not write there.

use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::daemon::DAEMON_TIMEOUT_SECS;
use super::refuse::refuse_options_value;
use super::ServerDirs;
use super::{RsyncError, PROTECTED_NAMES};

/// A uid and gid the daemon switches to in one module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The user id.
    pub uid: u32,
    /// The group id.
    pub gid: u32,
}

/// Who the daemon runs as in each module, in the order of
/// [`ServerDirs::modules`]; `None` keeps the ids it starts with (ours, when we
/// are not root).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Identities {
    /// One per served module.
    pub owners: [Option<Owner>; 5],
}

impl Identities {
    /// When we run as root: each module's directory owner. Otherwise none.
    pub fn for_modules(modules: &ServerDirs) -> Result<Identities, RsyncError> {
        if !running_as_root()? {
            return Ok(Identities::default());
        }
        let mut owners = [None; 5];
        for (slot, (_, dir)) in owners.iter_mut().zip(modules.modules()) {
            *slot = Some(owner_of(dir)?);
        }
        Ok(Identities { owners })
    }
}

fn owner_of(dir: &Path) -> Result<Owner, RsyncError> {
    let md = std::fs::metadata(dir).map_err(|source| RsyncError::Io {
        action: "read the owner of",
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(Owner {
        uid: md.uid(),
        gid: md.gid(),
    })
}

/// True when our effective uid is root's, read from `/proc/self/status`
/// (no `unsafe` needed).
fn running_as_root() -> Result<bool, RsyncError> {
    let path = Path::new("/proc/self/status");
    let status = std::fs::read_to_string(path).map_err(|source| RsyncError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let effective_uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u32>().ok());
    Ok(effective_uid == Some(0))
}

/// The configuration text.
pub fn render(modules: &ServerDirs, ids: &Identities) -> Result<String, RsyncError> {
    let mut out = String::new();
    out.push_str(
        "# sst-tunnel: rsync daemon configuration for one transfer, removed at its end\n\
         # (settings understood by rsync 3.1.3 and later)\n",
    );
    out.push_str("use chroot = no\n");
    out.push_str("read only = no\n");
    out.push_str("write only = yes\n");
    out.push_str("list = no\n");
    out.push_str("munge symlinks = yes\n");
    out.push_str("incoming chmod = Fug-s\n");
    // Writing to a String cannot fail.
    let _ = writeln!(out, "timeout = {DAEMON_TIMEOUT_SECS}");
    let protected: Vec<String> = PROTECTED_NAMES.iter().map(|n| format!("/{n}")).collect();
    let _ = writeln!(out, "exclude = .zfs {}", protected.join(" "));
    let _ = writeln!(out, "refuse options = {}", refuse_options_value());
    for ((name, dir), owner) in modules.modules().into_iter().zip(ids.owners) {
        let path = conf_path(dir)?;
        let _ = write!(out, "\n[{name}]\n    path = {path}\n");
        if let Some(o) = owner {
            let _ = write!(out, "    uid = {}\n    gid = {}\n", o.uid, o.gid);
        }
    }
    Ok(out)
}

/// A path as an rsyncd.conf value: absolute, one line, no surrounding
/// blanks (rsync strips them), `%` doubled (rsync expands `%VAR%`).
fn conf_path(path: &Path) -> Result<String, RsyncError> {
    let unsafe_path = |reason| RsyncError::UnsafePath {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_absolute() {
        return Err(unsafe_path("not absolute"));
    }
    let s = path
        .to_str()
        .ok_or_else(|| unsafe_path("not valid UTF-8"))?;
    if s.contains(['\n', '\r']) {
        return Err(unsafe_path("contains a line break"));
    }
    if s.trim() != s {
        return Err(unsafe_path("ends with white space"));
    }
    Ok(s.replace('%', "%%"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn modules(d: &str, l: &str) -> ServerDirs {
        ServerDirs::with_log_dir(d.into(), l.into())
    }

    #[test]
    fn renders_both_modules_and_the_restrictions() {
        let text = render(
            &modules("/var/lib/mysql", "/var/lib/mysql-log"),
            &Identities::default(),
        )
        .unwrap();
        for line in [
            "use chroot = no\n",
            "read only = no\n",
            "write only = yes\n",
            "list = no\n",
            "munge symlinks = yes\n",
            "incoming chmod = Fug-s\n",
            "timeout = 300\n",
            "exclude = .zfs /sst_in_progress /rsync_tunnel_sst.pid /rsync_tunnel_sst-socat.pid\n",
            "refuse options = 8-bit-output F P acls ",
        ] {
            assert!(text.contains(line), "{line:?} missing:\n{text}");
        }
        assert!(!text.contains("uid"), "{text}");
        assert!(
            text.contains("[rsync_tunnel_sst]\n    path = /var/lib/mysql\n"),
            "{text}"
        );
        assert!(
            text.contains("[rsync_tunnel_sst-log_dir]\n    path = /var/lib/mysql-log\n"),
            "{text}"
        );
        for absent in [
            "pid file",
            "xfer exec",
            "log file",
            "temp dir",
            "munge symlinks = no",
        ] {
            assert!(!text.contains(absent), "{absent}:\n{text}");
        }
    }

    #[test]
    fn each_module_gets_its_owner_when_root() {
        let mut ids = Identities::default();
        ids.owners[0] = Some(Owner { uid: 27, gid: 28 });
        ids.owners[1] = Some(Owner { uid: 0, gid: 0 });
        let text = render(&modules("/d", "/l"), &ids).unwrap();
        assert!(
            text.contains("[rsync_tunnel_sst]\n    path = /d\n    uid = 27\n    gid = 28\n"),
            "{text}"
        );
        assert!(
            text.contains("[rsync_tunnel_sst-log_dir]\n    path = /l\n    uid = 0\n    gid = 0\n"),
            "{text}"
        );
    }

    #[test]
    fn identities_follow_the_directory_owner_only_as_root() {
        let d = tempfile::tempdir().unwrap();
        let m = ServerDirs::with_log_dir(d.path().into(), d.path().into());
        let ids = Identities::for_modules(&m).unwrap();
        let md = std::fs::metadata(d.path()).unwrap();
        if running_as_root().unwrap() {
            let owner = Some(Owner {
                uid: md.uid(),
                gid: md.gid(),
            });
            assert_eq!(ids.owners, [owner; 5]);
        } else {
            assert_eq!(ids, Identities::default());
        }
    }

    #[test]
    fn hostile_paths_are_rejected_or_escaped() {
        let none = Identities::default();
        let err = render(&modules("/d\n[evil]", "/d"), &none).unwrap_err();
        assert!(err.to_string().contains("line break"), "{err}");
        assert_eq!(err.exit_code(), crate::exit::ExitCode::Invalid);
        assert!(render(&modules("relative", "/d"), &none).is_err());
        assert!(render(&modules("/d ", "/d"), &none).is_err());
        let text = render(&modules("/d/100%HOME%", "/d"), &none).unwrap();
        assert!(text.contains("path = /d/100%%HOME%%\n"), "{text}");
    }
}
