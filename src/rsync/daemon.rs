//! The joiner's rsync daemon configuration and `rsync --server --daemon`
//! per connection, over pipes.
//!
//! The joiner has no plaintext listener: each verified TLS connection gets
//! its own `rsync --server --daemon --config=FILE .` (what MariaDB's stunnel
//! mode runs), whose stdin and stdout [`ServerProcess`] exposes as one
//! stream for [`crate::relay::pump`]. In this mode rsync writes no pid file
//! and opens no port, so the configuration carries no `pid file` or `port`.
//!
//! The configuration (sst-protocol.md §5.2) serves [`MODULE`] (the data
//! directory) and [`LOG_MODULE`] (the InnoDB log directory). When we run as
//! root, `uid`/`gid` are set to our own ids: a root daemon otherwise drops
//! to `nobody` and fails with "Permission denied" in a mysql-owned datadir.
//! As another user they are left out, because a non-root rsync that is told
//! to switch group fails in `setgroups`. `munge symlinks = no` keeps
//! symlinks as the donor has them (rsync munges them by default without
//! chroot).

use std::io::{self, Write as _};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::process::{ChildStdin, ChildStdout};

use super::{find_rsync, RsyncError, LOG_MODULE, MODULE};
use crate::child::{ChildCommand, Output, Supervised};

/// Name of the configuration file, as the original script names it.
pub const CONFIG_FILE: &str = "rsync_tunnel_sst.conf";
/// rsync's own I/O timeout for the daemon, in seconds (as the original).
pub const DAEMON_TIMEOUT_SECS: u32 = 300;

/// The directories the daemon serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Modules {
    /// Served as [`MODULE`].
    pub datadir: PathBuf,
    /// Served as [`LOG_MODULE`].
    pub log_dir: PathBuf,
}

/// A written daemon configuration; the file is removed on drop.
#[derive(Debug)]
pub struct DaemonConfig {
    path: PathBuf,
    datadir: PathBuf,
    log_dir: PathBuf,
    rsync: PathBuf,
    removed: bool,
}

impl DaemonConfig {
    /// Locates rsync, then writes [`CONFIG_FILE`] in `dir` (mode 0600,
    /// through a temporary file renamed into place).
    pub fn write(dir: &Path, modules: &Modules) -> Result<DaemonConfig, RsyncError> {
        let rsync = find_rsync()?;
        let text = render(modules, root_ids()?)?;
        let path = dir.join(CONFIG_FILE);
        let err = |source| RsyncError::Config {
            action: "write",
            path: path.clone(),
            source,
        };
        // tempfile creates the file with mode 0600.
        let mut tmp = tempfile::Builder::new()
            .prefix(".rsync_tunnel_sst.conf.")
            .tempfile_in(dir)
            .map_err(err)?;
        tmp.write_all(text.as_bytes()).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
        tmp.persist(&path).map_err(|e| err(e.error))?;
        tracing::debug!(path = %path.display(), "rsync daemon configuration written");
        Ok(DaemonConfig {
            path,
            datadir: modules.datadir.clone(),
            log_dir: modules.log_dir.clone(),
            rsync,
            removed: false,
        })
    }

    /// The configuration file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The served data directory (the server's working directory).
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// The directory the InnoDB log module receives into.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// The rsync binary the server runs.
    pub fn rsync(&self) -> &Path {
        &self.rsync
    }

    /// Removes the file now, reporting failure (a file already gone is fine).
    pub fn remove(mut self) -> Result<(), RsyncError> {
        self.removed = true;
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(RsyncError::Config {
                action: "remove",
                path: self.path.clone(),
                source,
            }),
        }
    }
}

impl Drop for DaemonConfig {
    fn drop(&mut self) {
        if !self.removed {
            if let Err(e) = std::fs::remove_file(&self.path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot remove rsync daemon configuration");
                }
            }
        }
    }
}

/// Our effective uid and gid when they are root's, read from
/// `/proc/self/status` (no `unsafe` needed).
fn root_ids() -> Result<Option<(u32, u32)>, RsyncError> {
    let path = Path::new("/proc/self/status");
    let status = std::fs::read_to_string(path).map_err(|source| RsyncError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let effective = |key: &str| -> Option<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    match (effective("Uid:"), effective("Gid:")) {
        (Some(0), Some(gid)) => Ok(Some((0, gid))),
        _ => Ok(None),
    }
}

/// The configuration text; `ids` are written as `uid`/`gid` when given.
pub fn render(modules: &Modules, ids: Option<(u32, u32)>) -> Result<String, RsyncError> {
    let datadir = conf_path(&modules.datadir)?;
    let log_dir = conf_path(&modules.log_dir)?;
    let mut out = String::new();
    out.push_str("# sst-tunnel: rsync daemon configuration for one transfer, removed at its end\n");
    out.push_str("use chroot = no\n");
    out.push_str("read only = no\n");
    // Without chroot rsync defaults to munging symlinks ("/rsyncd-munged/"
    // prefix), which would corrupt MyISAM DATA DIRECTORY links; the donor is
    // an authenticated cluster member that may rewrite the datadir anyway.
    out.push_str("munge symlinks = no\n");
    out.push_str(&format!("timeout = {DAEMON_TIMEOUT_SECS}\n"));
    if let Some((uid, gid)) = ids {
        out.push_str(&format!("uid = {uid}\n"));
        out.push_str(&format!("gid = {gid}\n"));
    }
    out.push_str(&format!(
        "\n[{MODULE}]\n    path = {datadir}\n    exclude = .zfs\n"
    ));
    out.push_str(&format!("\n[{LOG_MODULE}]\n    path = {log_dir}\n"));
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

/// Starts `rsync --server --daemon --config=FILE .` in the data directory,
/// with stdin and stdout piped.
pub fn spawn_server(conf: &DaemonConfig) -> Result<ServerProcess, RsyncError> {
    let step = "daemon";
    let mut config_arg = std::ffi::OsString::from("--config=");
    config_arg.push(conf.path());
    let mut cmd = ChildCommand::new("rsync daemon", conf.rsync());
    cmd.args(["--server", "--daemon"])
        .arg(config_arg)
        .arg(".")
        .current_dir(conf.datadir())
        .stdin_piped()
        .stdout(Output::Piped);
    let mut child = cmd.spawn().map_err(|source| RsyncError::Child {
        step: step.into(),
        source,
    })?;
    let missing = |what: &str| RsyncError::Child {
        step: step.into(),
        source: crate::child::ChildError::Spawn {
            program: "rsync daemon".into(),
            source: io::Error::other(format!("no {what} pipe")),
        },
    };
    let stdin = child.take_stdin().ok_or_else(|| missing("stdin"))?;
    let stdout = child.take_stdout().ok_or_else(|| missing("stdout"))?;
    Ok(ServerProcess {
        child,
        stdout,
        stdin: Some(stdin),
    })
}

/// One `rsync --server --daemon` child, readable (its stdout) and writable
/// (its stdin). Shutting down the write half closes its stdin. Dropping it
/// kills the child's process group.
#[derive(Debug)]
pub struct ServerProcess {
    child: Supervised,
    stdout: ChildStdout,
    stdin: Option<ChildStdin>,
}

impl ServerProcess {
    /// The server's pid (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Waits for the server to exit; a failure status is an error carrying
    /// its stderr tail.
    pub async fn wait(&mut self) -> Result<(), RsyncError> {
        self.stdin = None;
        let exit = self
            .child
            .wait()
            .await
            .map_err(|source| RsyncError::Child {
                step: "daemon".into(),
                source,
            })?;
        if exit.status.success() {
            Ok(())
        } else {
            Err(RsyncError::Failed {
                step: "daemon".into(),
                status: exit.status,
                stderr_tail: exit.stderr_tail,
            })
        }
    }

    /// Kills the server's process group with `SIGKILL` at once and reaps it.
    pub async fn kill_now(&mut self) -> Result<(), RsyncError> {
        self.stdin = None;
        self.child
            .kill_now()
            .await
            .map(drop)
            .map_err(|source| RsyncError::Child {
                step: "daemon".into(),
                source,
            })
    }

    /// Kills the server's process group (`SIGTERM`, then `SIGKILL`) and
    /// reaps it.
    pub async fn kill(&mut self) -> Result<(), RsyncError> {
        self.stdin = None;
        self.child
            .kill()
            .await
            .map(drop)
            .map_err(|source| RsyncError::Child {
                step: "daemon".into(),
                source,
            })
    }
}

impl AsyncRead for ServerProcess {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for ServerProcess {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_write(cx, buf),
            None => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "rsync daemon stdin already closed",
            ))),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(stdin) = self.stdin.as_mut() {
            std::task::ready!(Pin::new(stdin).poll_flush(cx))?;
        }
        // Dropping the pipe is what closes the child's stdin.
        self.stdin = None;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn modules(d: &str, l: &str) -> Modules {
        Modules {
            datadir: d.into(),
            log_dir: l.into(),
        }
    }

    #[test]
    fn renders_both_modules_and_globals() {
        let text = render(&modules("/var/lib/mysql", "/var/lib/mysql-log"), None).unwrap();
        assert!(text.contains("use chroot = no\n"), "{text}");
        assert!(text.contains("read only = no\n"), "{text}");
        assert!(text.contains("timeout = 300\n"), "{text}");
        assert!(text.contains("munge symlinks = no\n"), "{text}");
        assert!(!text.contains("uid"), "{text}");
        assert!(
            text.contains("[rsync_tunnel_sst]\n    path = /var/lib/mysql\n"),
            "{text}"
        );
        assert!(
            text.contains("[rsync_tunnel_sst-log_dir]\n    path = /var/lib/mysql-log\n"),
            "{text}"
        );
        assert!(!text.contains("pid file"), "{text}");
    }

    #[test]
    fn root_gets_explicit_ids() {
        let text = render(&modules("/d", "/d"), Some((0, 0))).unwrap();
        assert!(text.contains("uid = 0\ngid = 0\n"), "{text}");
    }

    #[test]
    fn hostile_paths_are_rejected_or_escaped() {
        let err = render(&modules("/d\n[evil]", "/d"), None).unwrap_err();
        assert!(err.to_string().contains("line break"), "{err}");
        assert_eq!(err.exit_code(), crate::exit::ExitCode::Invalid);
        assert!(render(&modules("relative", "/d"), None).is_err());
        assert!(render(&modules("/d ", "/d"), None).is_err());
        let text = render(&modules("/d/100%HOME%", "/d"), None).unwrap();
        assert!(text.contains("path = /d/100%%HOME%%\n"), "{text}");
    }
}
