//! The joiner's rsync daemon: its configuration file, written in a
//! private directory, and `rsync --server --daemon` per connection, over
//! pipes.
//!
//! The joiner has no plaintext listener: each verified TLS connection gets
//! its own `rsync --server --daemon --config=FILE .` (what MariaDB's stunnel
//! mode runs), whose stdin and stdout [`ServerProcess`] exposes as one
//! stream for [`crate::relay::pump`]. In this mode rsync writes no pid file
//! and opens no port, so the configuration carries no `pid file` or `port`.
//!
//! # What the peer can reach
//!
//! The configuration serves one module per directory the server keeps
//! files in ([`ServerDirs::modules`]: the data directory, the InnoDB log,
//! data-home and undo directories, the Aria log directory), write-only,
//! unlisted, with every option our donors do not send refused, symlinks
//! munged and setuid/setgid bits stripped ([`super::conf`] says why,
//! setting by setting). The file itself is written in a [`PrivateDir`]
//! outside every module: a configuration inside a writable module could be replaced by
//! the donor, and the next connection's rsync would run what it says
//! (`pre-xfer exec`).

use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::process::{ChildStdin, ChildStdout};

use super::conf::{render, Identities, Owner};
use super::private_dir::PrivateDir;
use super::{find_rsync, RsyncError, ServerDirs};
use crate::child::{ChildCommand, Output, Supervised};

/// Name of the configuration file, as the original script names it.
pub const CONFIG_FILE: &str = "rsync_tunnel_sst.conf";
/// rsync's own I/O timeout for the daemon, in seconds (as the original).
pub const DAEMON_TIMEOUT_SECS: u32 = 300;

/// A written daemon configuration; the file and its private directory are
/// removed on drop.
#[derive(Debug)]
pub struct DaemonConfig {
    path: PathBuf,
    modules: ServerDirs,
    ids: Identities,
    rsync: PathBuf,
    // Dropped after the fields above: removes the directory and the file.
    dir: PrivateDir,
}

impl DaemonConfig {
    /// Locates rsync, creates a [`PrivateDir`] outside both modules (which
    /// must exist) and writes [`CONFIG_FILE`] in it (mode 0600).
    pub fn write(modules: &ServerDirs) -> Result<DaemonConfig, RsyncError> {
        let rsync = find_rsync()?;
        let ids = Identities::for_modules(modules)?;
        let text = render(modules, &ids)?;
        log_identities(modules, &ids);
        let served: Vec<&Path> = modules.modules().iter().map(|(_, d)| *d).collect();
        let dir = PrivateDir::create(&served)?;
        let path = dir.path().join(CONFIG_FILE);
        let err = |source| RsyncError::Config {
            action: "write",
            path: path.clone(),
            source,
        };
        // create_new: the directory is fresh, nothing may be there yet.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(err)?;
        file.write_all(text.as_bytes()).map_err(err)?;
        file.sync_all().map_err(err)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
        tracing::debug!(path = %path.display(), "rsync daemon configuration written");
        Ok(DaemonConfig {
            path,
            modules: modules.clone(),
            ids,
            rsync,
            dir,
        })
    }

    /// The configuration file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The private directory holding it.
    pub fn private_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The served data directory (the server's working directory).
    pub fn datadir(&self) -> &Path {
        &self.modules.datadir
    }

    /// The directory the InnoDB log module receives into.
    pub fn log_dir(&self) -> &Path {
        &self.modules.log_dir
    }

    /// Every served directory.
    pub fn dirs(&self) -> &ServerDirs {
        &self.modules
    }

    /// The rsync binary the server runs.
    pub fn rsync(&self) -> &Path {
        &self.rsync
    }

    /// Re-creates a served directory that is gone (with the owner the
    /// daemon takes in it, when we run as root). The donor's top-level run
    /// removes the joiner's directories it does not have, with `--delete`,
    /// as the reference does: a module directory inside the data directory
    /// that the donor's layout lacks goes too, and the next connection's
    /// daemon could not enter it.
    pub fn restore_dirs(&self) -> Result<(), RsyncError> {
        for ((module, dir), owner) in self.modules.modules().into_iter().zip(self.ids.owners) {
            match std::fs::symlink_metadata(dir) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                _ => continue,
            }
            let err = |action, source| RsyncError::Io {
                action,
                path: dir.to_path_buf(),
                source,
            };
            std::fs::create_dir_all(dir).map_err(|e| err("re-create", e))?;
            if let Some(o) = owner {
                std::os::unix::fs::chown(dir, Some(o.uid), Some(o.gid))
                    .map_err(|e| err("give back to its owner", e))?;
            }
            tracing::info!(
                module, dir = %dir.display(),
                "re-created the module directory the donor's --delete removed \
                 (the donor keeps no such directory)"
            );
        }
        Ok(())
    }

    /// Removes the file and its directory now, reporting failure (already
    /// gone is fine).
    pub fn remove(self) -> Result<(), RsyncError> {
        self.dir.remove()
    }
}

/// One line per served directory when we run as root: which ids its
/// daemon takes, and a warning when that is root.
fn log_identities(modules: &ServerDirs, ids: &Identities) {
    let mut seen: Vec<&Path> = Vec::new();
    for ((module, dir), owner) in modules.modules().into_iter().zip(ids.owners) {
        if seen.contains(&dir) {
            continue;
        }
        seen.push(dir);
        match owner {
            Some(Owner { uid: 0, gid }) => tracing::warn!(
                module, dir = %dir.display(), gid,
                "the rsync daemon runs as root in this module because its directory is owned by root: \
                 a donor can create device nodes there; give the directory to the server's user"
            ),
            Some(Owner { uid, gid }) => tracing::info!(
                module, dir = %dir.display(), uid, gid,
                "the rsync daemon runs as the directory's owner"
            ),
            None => {}
        }
    }
}

/// Starts `rsync --server --daemon --config=FILE .` in the data directory,
/// with stdin and stdout piped.
/// A served directory that is gone is re-created first
/// ([`DaemonConfig::restore_dirs`]).
pub fn spawn_server(conf: &DaemonConfig) -> Result<ServerProcess, RsyncError> {
    conf.restore_dirs()?;
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
