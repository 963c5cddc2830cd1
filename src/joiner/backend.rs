//! Where a verified connection's decrypted bytes go: a fresh
//! `rsync --server --daemon` over pipes, or (`--forward`) a plaintext TCP
//! service; and the data directory prepared for the rsync daemon, whose
//! configuration lives in a private directory outside both modules (what
//! the donor can reach through the daemon: [`crate::rsync::conf`]).

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::error::{ConnectionError, JoinerError};
use super::JoinerConfig;
use crate::relay;
use crate::rsync::daemon::DaemonConfig;

/// Writes the first bytes already read from TLS, then pumps (local side
/// first, so the meter's inbound is what came out of TLS).
async fn feed<S, B>(
    tls: S,
    first: &[u8],
    mut backend: B,
    cfg: &JoinerConfig,
    token: &CancellationToken,
) -> Result<relay::Transfer, ConnectionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    backend
        .write_all(first)
        .await
        .map_err(ConnectionError::Backend)?;
    if let Some(m) = cfg.meter() {
        m.add_inbound(first.len() as u64);
    }
    let mut t = relay::pump(backend, tls, &cfg.relay, token).await?;
    t.b_to_a += first.len() as u64;
    Ok(t)
}

pub(super) async fn forward(
    cfg: &JoinerConfig,
    tls: crate::tls::TlsStream,
    first: &[u8],
    addr: SocketAddr,
    token: &CancellationToken,
) -> Result<relay::Transfer, ConnectionError> {
    let backend = TcpStream::connect(addr)
        .await
        .map_err(|source| ConnectionError::Forward { addr, source })?;
    backend
        .set_nodelay(true)
        .map_err(ConnectionError::NoDelay)?;
    feed(tls, first, backend, cfg, token).await
}

pub(super) async fn to_rsync(
    cfg: &JoinerConfig,
    tls: crate::tls::TlsStream,
    first: &[u8],
    conf: &DaemonConfig,
    token: &CancellationToken,
) -> Result<relay::Transfer, ConnectionError> {
    let mut server = crate::rsync::daemon::spawn_server(conf)?;
    let pumped = feed(tls, first, &mut server, cfg, token).await;
    // The pump ended (or failed): the server must be gone before we report,
    // so that "connection closed" means rsync has finished writing.
    // When the run is over (mariadbd gone, a signal, a timeout, a full
    // disk) rsync is killed outright: a grace period would let it go on
    // writing into the data directory. A failure of this connection alone
    // gives it SIGTERM's chance to tidy up.
    let exited = match &pumped {
        Ok(_) => server.wait().await,
        Err(_) if token.is_cancelled() => server.kill_now().await,
        Err(_) => server.kill().await,
    };
    let transfer = pumped?;
    exited?;
    Ok(transfer)
}

/// Creates every served directory if needed (the data directory, and the
/// InnoDB log, data-home and undo directories and the Aria log directory
/// where the server keeps them elsewhere), removes a stale marker and
/// writes the rsync daemon configuration.
pub fn prepare_datadir(
    modules: &crate::rsync::ServerDirs,
) -> Result<crate::rsync::daemon::DaemonConfig, JoinerError> {
    for (_, dir) in modules.modules() {
        std::fs::create_dir_all(dir).map_err(|source| JoinerError::Prepare {
            action: "create",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let marker = modules.datadir.join(crate::rsync::MARKER);
    match std::fs::remove_file(&marker) {
        Ok(()) => warn!(path = %marker.display(), "removed a stale completion marker"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(JoinerError::Prepare {
                action: "remove the stale marker",
                path: marker,
                source,
            })
        }
    }
    crate::rsync::find_rsync()?;
    Ok(crate::rsync::daemon::DaemonConfig::write(modules)?)
}
