//! The manual commands: `sst-tunnel joiner`, `donor` and `demo`, from parsed
//! flags to an outcome. The SST method (`wsrep_sst_rsync_tunnel`) reuses the
//! same pieces from [`crate::sst`].

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::cli::{Command, DonorArgs, JoinerArgs};
use crate::config::Settings;
use crate::donor::{self, DonorConfig, FirstFailure, Target};
use crate::error::Error;
use crate::exit::ExitCode;
use crate::joiner::{self, Backend, JoinerConfig, JoinerOutcome};
use crate::meter::Meter;
use crate::relay::RelayOpts;
use crate::shutdown::Shutdown;
use crate::tls::{TlsClient, TlsServer};

/// The SST port when an address names none.
pub const DEFAULT_PORT: u16 = 4444;

/// Runs one manual command to its end and returns the exit code to use.
pub async fn run(command: Command, shutdown: Shutdown) -> Result<ExitCode, Error> {
    match command {
        Command::Joiner(args) => joiner_command(args, shutdown).await,
        Command::Donor(args) => donor_command(args, shutdown).await,
        Command::Demo(args) => crate::demo::run(args, shutdown).await,
    }
}

/// Prints one protocol line on stdout and flushes it.
pub fn say(line: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(Error::Stdout)
}

/// Splits `HOST`, `HOST:PORT`, `[V6]` or `[V6]:PORT` (a trailing `/module`
/// is dropped) into the host as written and the port.
pub fn split_address(text: &str, default_port: Option<u16>) -> Result<(String, u16), Error> {
    let bad = |why: &str| Error::Address {
        address: text.to_string(),
        reason: why.to_string(),
    };
    let text_no_path = text.split('/').next().unwrap_or("");
    let (host, port) = if let Some(rest) = text_no_path.strip_prefix('[') {
        let (inner, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(bad("unexpected text after ']'")),
        };
        (format!("[{inner}]"), port)
    } else {
        match text_no_path.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err(bad(
                    "an IPv6 address must be written in brackets, e.g. [::1]:4444",
                ))
            }
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (text_no_path.to_string(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(bad("no host"));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| bad("the port is not a number from 0 to 65535"))?,
        None => default_port.ok_or_else(|| bad("a port is required (HOST:PORT)"))?,
    };
    Ok((host, port))
}

/// The host without IPv6 brackets.
pub fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Binds the joiner's TLS listener; a taken port is [`ExitCode::Busy`].
pub async fn bind_listener(host: &str, port: u16) -> Result<TcpListener, Error> {
    let bare = unbracket(host);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|source| Error::Bind {
            address: format!("{host}:{port}"),
            source,
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, source) = match last {
        Some((a, e)) => (a.to_string(), e),
        None => (
            format!("{host}:{port}"),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the name resolved to no address",
            ),
        ),
    };
    Err(Error::Bind {
        address: addr,
        source,
    })
}

fn relay_opts(settings: &Settings, meter: &Arc<Meter>) -> RelayOpts {
    RelayOpts {
        buffer_size: crate::relay::DEFAULT_BUFFER,
        close_timeout: settings.timeouts.close,
        meter: Some(meter.clone()),
    }
}

fn load(config: &crate::cli::ConfigArgs) -> Result<Settings, Error> {
    let files = Settings::load_files(config)?;
    let settings = Settings::resolve(config, files)?;
    for w in &settings.tls.opts.warnings {
        warn!("[sst] sockopt: {w}");
    }
    let report = crate::tls::preflight::preflight(&settings.tls)?;
    info!("{report}");
    Ok(settings)
}

async fn joiner_command(args: JoinerArgs, shutdown: Shutdown) -> Result<ExitCode, Error> {
    let settings = load(&args.config)?;
    let (host, port) = split_address(&args.address, Some(DEFAULT_PORT))?;
    let meter = Arc::new(Meter::new());
    let tls = Arc::new(TlsServer::new(&settings.tls)?);
    let (backend, marker_dir, _conf) = match (&args.forward, &args.datadir) {
        (Some(fwd), _) => {
            let (fh, fp) = split_address(fwd, None)?;
            let addr = tokio::net::lookup_host((unbracket(&fh), fp))
                .await
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| Error::Address {
                    address: fwd.clone(),
                    reason: "does not resolve".into(),
                })?;
            (Backend::Forward(addr), None, None)
        }
        (None, Some(datadir)) => {
            let log_dir = args.log_dir.clone().unwrap_or_else(|| datadir.clone());
            let conf = Arc::new(prepare_datadir(datadir, &log_dir)?);
            (
                Backend::Rsync(conf.clone()),
                Some(datadir.clone()),
                Some(conf),
            )
        }
        (None, None) => {
            return Err(Error::Usage("joiner needs --datadir or --forward".into()));
        }
    };
    let listener = bind_listener(&host, port).await?;
    let bound = listener.local_addr().map_err(|source| Error::Bind {
        address: format!("{host}:{port}"),
        source,
    })?;
    let cfg = JoinerConfig {
        tls,
        sockopts: settings.tls.opts.clone(),
        backend,
        marker_dir,
        timeouts: settings.timeouts.clone(),
        max_connections: settings.max_connections,
        relay: relay_opts(&settings, &meter),
    };
    info!(address = %bound, "joiner listening");
    say(&format!(
        "ready {host}:{}/{}",
        bound.port(),
        crate::rsync::MODULE
    ))?;
    match joiner::run_joiner(cfg, listener, shutdown.token().clone()).await? {
        JoinerOutcome::Complete(state) => {
            info!(
                bytes = meter.inbound(),
                elapsed_ms = meter.elapsed().as_millis() as u64,
                "transfer complete"
            );
            say(&state)?;
            Ok(ExitCode::Success)
        }
        JoinerOutcome::Stopped => Ok(stopped_code(&shutdown)),
    }
}

fn stopped_code(shutdown: &Shutdown) -> ExitCode {
    match shutdown.reason() {
        Some(r) => {
            warn!("{r}");
            r.exit_code()
        }
        None => ExitCode::Interrupted,
    }
}

/// Creates the data and log directories if needed, removes a stale marker
/// and writes the rsync daemon configuration.
fn prepare_datadir(
    datadir: &Path,
    log_dir: &Path,
) -> Result<crate::rsync::daemon::DaemonConfig, Error> {
    for dir in [datadir, log_dir] {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            what: format!("cannot create {}", dir.display()),
            source,
        })?;
    }
    let marker = datadir.join(crate::rsync::MARKER);
    match std::fs::remove_file(&marker) {
        Ok(()) => warn!(path = %marker.display(), "removed a stale completion marker"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(Error::Io {
                what: format!("cannot remove the stale marker {}", marker.display()),
                source,
            })
        }
    }
    crate::rsync::locate()?;
    let modules = crate::rsync::daemon::Modules {
        datadir: datadir.to_path_buf(),
        log_dir: log_dir.to_path_buf(),
    };
    Ok(crate::rsync::daemon::DaemonConfig::write(
        datadir, &modules,
    )?)
}

/// Builds the donor side for `address`: connector with the expected name.
pub fn donor_config(
    settings: &Settings,
    address: &str,
    meter: &Arc<Meter>,
) -> Result<DonorConfig, Error> {
    let (host, port) = split_address(address, Some(DEFAULT_PORT))?;
    let bare = unbracket(&host).to_string();
    let tls = Arc::new(TlsClient::new(&settings.tls, &bare)?);
    Ok(DonorConfig {
        tls,
        sockopts: settings.tls.opts.clone(),
        target: Target { host: bare, port },
        timeouts: settings.timeouts.clone(),
        relay: relay_opts(settings, meter),
    })
}

/// Binds the donor's relay on loopback (`127.0.0.1:0` unless `listen` names one).
pub async fn bind_relay(listen: Option<&str>) -> Result<TcpListener, Error> {
    let addr: SocketAddr = match listen {
        None => SocketAddr::from(([127, 0, 0, 1], 0)),
        Some(text) => text.parse().map_err(|_| Error::Address {
            address: text.to_string(),
            reason: "expected a loopback IP:PORT such as 127.0.0.1:4445".into(),
        })?,
    };
    if !addr.ip().is_loopback() {
        return Err(Error::Address {
            address: addr.to_string(),
            reason: "the relay listens on loopback only".into(),
        });
    }
    TcpListener::bind(addr).await.map_err(|source| Error::Bind {
        address: addr.to_string(),
        source,
    })
}

async fn donor_command(args: DonorArgs, shutdown: Shutdown) -> Result<ExitCode, Error> {
    args.validate().map_err(Error::Usage)?;
    let settings = load(&args.config)?;
    let meter = Arc::new(Meter::new());
    let cfg = Arc::new(donor_config(&settings, &args.address, &meter)?);
    if !args.relay_only {
        crate::rsync::locate()?;
    }
    let listener = bind_relay(args.listen.as_deref()).await?;
    let relay_addr = listener.local_addr().map_err(|source| Error::Bind {
        address: "relay".into(),
        source,
    })?;
    donor::preflight(&cfg, shutdown.token()).await?;
    let failures = FirstFailure::default();
    let relay_token = shutdown.token().child_token();
    let relay = tokio::spawn(donor::run_relay(
        cfg.clone(),
        listener,
        failures.clone(),
        relay_token.clone(),
    ));
    if args.relay_only {
        info!(relay = %relay_addr, joiner = %cfg.target, "relaying");
        say(&format!("relay {relay_addr}"))?;
        shutdown.token().cancelled().await;
        relay_token.cancel();
        join_relay(relay).await?;
        return Ok(stopped_code(&shutdown));
    }
    let datadir = args
        .datadir
        .clone()
        .ok_or_else(|| Error::Usage("donor needs --datadir".into()))?;
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000:-1 0".to_string());
    let plan = crate::rsync::client::TransferPlan {
        datadir: datadir.clone(),
        log_dir: args.log_dir.clone().unwrap_or(datadir),
        url: format!("rsync://{relay_addr}"),
        parallel: args
            .parallel
            .or(settings.parallel)
            .unwrap_or_else(default_parallel),
        bwlimit_kib: settings.bwlimit_kib,
    };
    let sent = send_all(&plan, &state, &shutdown, &failures).await;
    relay_token.cancel();
    join_relay(relay).await?;
    sent?;
    info!(
        bytes = meter.outbound(),
        elapsed_ms = meter.elapsed().as_millis() as u64,
        "transfer complete"
    );
    Ok(ExitCode::Success)
}

/// Sends the data then the marker; a relay-side failure (TLS) is reported
/// in place of rsync's own message.
async fn send_all(
    plan: &crate::rsync::client::TransferPlan,
    state: &str,
    shutdown: &Shutdown,
    failures: &FirstFailure,
) -> Result<(), Error> {
    let token = shutdown.token();
    let result = async {
        crate::rsync::client::send_data(plan, token).await?;
        crate::rsync::client::send_marker(plan, state, token).await?;
        Ok::<(), crate::rsync::RsyncError>(())
    }
    .await;
    match result {
        Ok(()) => Ok(()),
        Err(e) => match failures.get() {
            Some(tunnel) => Err(Error::Tunnel {
                tunnel,
                rsync: crate::error::chain(&e),
            }),
            None => Err(e.into()),
        },
    }
}

async fn join_relay(
    relay: tokio::task::JoinHandle<Result<(), donor::DonorError>>,
) -> Result<(), Error> {
    match relay.await {
        Ok(r) => Ok(r?),
        Err(e) => Err(Error::Task(e.to_string())),
    }
}

/// Parallel rsync streams when neither flag nor `backup-threads` says: the CPU count.
pub fn default_parallel() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_like_mariadb_writes_them() {
        let ok = |s: &str| split_address(s, Some(4444)).map_err(|e| e.to_string());
        assert_eq!(ok("10.0.0.2"), Ok(("10.0.0.2".into(), 4444)));
        assert_eq!(ok("node1.example:4567"), Ok(("node1.example".into(), 4567)));
        assert_eq!(
            ok("[::1]:4444/rsync_tunnel_sst"),
            Ok(("[::1]".into(), 4444))
        );
        assert_eq!(ok("[fe80::1]"), Ok(("[fe80::1]".into(), 4444)));
        assert!(ok("::1").is_err_and(|e| e.contains("brackets")));
        assert!(ok("host:99999").is_err_and(|e| e.contains("port")));
        assert!(ok(":4444").is_err());
        assert_eq!(unbracket("[::1]"), "::1");
    }
}
