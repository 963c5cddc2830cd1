//! The manual commands: `sst-tunnel joiner`, `donor` and `demo`, from parsed
//! flags to an outcome. The SST method (`wsrep_sst_rsync_tunnel`) reuses the
//! same pieces from [`crate::sst`].

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
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
use crate::sst::address::SstAddress;
use crate::tls::{TlsClient, TlsServer};

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

/// Parses an address as mariadbd writes them (`HOST`, `HOST:PORT`,
/// `[V6]:PORT`, with an optional `/module`); port 4444 when none is given.
pub fn parse_address(text: &str) -> Result<SstAddress, Error> {
    SstAddress::parse(text).map_err(|e| Error::Address {
        address: text.to_string(),
        reason: crate::error::chain(&e),
    })
}

/// Binds the joiner's TLS listener. A port in use is [`ExitCode::Busy`]
/// with the holder named when it can be found; an address that is not on
/// this host (NAT: the advertised address belongs to a router) falls back
/// to all interfaces, as MariaDB's own rsync method does.
pub async fn bind_listener(address: &SstAddress) -> Result<TcpListener, Error> {
    let port = address.port;
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((address.host_unbracketed.as_str(), port))
        .await
        .map_err(|source| Error::Bind {
            held_by: String::new(),
            address: address.authority(),
            source,
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
                let any: SocketAddr = if addr.is_ipv6() {
                    (std::net::Ipv6Addr::UNSPECIFIED, port).into()
                } else {
                    (std::net::Ipv4Addr::UNSPECIFIED, port).into()
                };
                warn!(address = %addr, "not an address of this host, listening on all interfaces");
                match TcpListener::bind(any).await {
                    Ok(l) => return Ok(l),
                    Err(e) => last = Some((any, e)),
                }
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, source) = match last {
        Some((a, e)) => (a.to_string(), e),
        None => (
            address.authority(),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the name resolved to no address",
            ),
        ),
    };
    let held_by = if source.kind() == std::io::ErrorKind::AddrInUse {
        crate::sockowner::listener_owner(port)
            .map(|o| format!(" (held by {o})"))
            .unwrap_or_default()
    } else {
        String::new()
    };
    Err(Error::Bind {
        held_by,
        address: addr,
        source,
    })
}

/// Pump settings from the configuration, counting into `meter`.
pub fn relay_opts(settings: &Settings, meter: &Arc<Meter>) -> RelayOpts {
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
    Ok(settings)
}

async fn joiner_command(args: JoinerArgs, shutdown: Shutdown) -> Result<ExitCode, Error> {
    let settings = load(&args.config)?;
    let address = parse_address(&args.address)?;
    let meter = Arc::new(Meter::new());
    let tls = Arc::new(TlsServer::new(&settings.tls)?);
    let (backend, marker_dir, _conf) = match (&args.forward, &args.datadir) {
        (Some(fwd), _) => {
            let target = parse_address(fwd)?;
            let addr = tokio::net::lookup_host((target.host_unbracketed.as_str(), target.port))
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
            let datadir = &absolute(datadir)?;
            let log_dir = absolute(args.log_dir.as_ref().unwrap_or(datadir))?;
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
    let listener = bind_listener(&address).await?;
    let bound = listener.local_addr().map_err(|source| Error::Bind {
        held_by: String::new(),
        address: address.authority(),
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
    let ready = address
        .with_port(bound.port())
        .ready_address()
        .map_err(|e| Error::Address {
            address: args.address.clone(),
            reason: e.to_string(),
        })?;
    say(&format!("ready {ready}"))?;
    match joiner::run_joiner(cfg, listener, shutdown.token().clone()).await? {
        JoinerOutcome::Complete(state) => {
            info!(
                bytes = meter.inbound(),
                elapsed_ms = meter.elapsed().as_millis() as u64,
                "transfer complete"
            );
            if let Some(dir) = &args.datadir {
                // The marker is a protocol artefact, not part of the data.
                let marker = absolute(dir)?.join(crate::rsync::MARKER);
                std::fs::remove_file(&marker).map_err(|source| Error::Io {
                    what: format!("cannot remove the marker {}", marker.display()),
                    source,
                })?;
            }
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

/// `path` made absolute against the working directory (rsync's daemon
/// configuration needs absolute paths).
pub fn absolute(path: &Path) -> Result<std::path::PathBuf, Error> {
    std::path::absolute(path).map_err(|source| Error::Io {
        what: format!("cannot resolve {}", path.display()),
        source,
    })
}

/// Creates the data and log directories if needed, removes a stale marker
/// and writes the rsync daemon configuration.
pub fn prepare_datadir(
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
    crate::rsync::find_rsync()?;
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
    let address = parse_address(address)?;
    let tls = Arc::new(TlsClient::new(&settings.tls, &address.host_unbracketed)?);
    Ok(DonorConfig {
        tls,
        sockopts: settings.tls.opts.clone(),
        target: Target {
            host: address.host_unbracketed.clone(),
            port: address.port,
        },
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
        held_by: String::new(),
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
        crate::rsync::find_rsync()?;
    }
    let listener = bind_relay(args.listen.as_deref()).await?;
    let relay_addr = listener.local_addr().map_err(|source| Error::Bind {
        held_by: String::new(),
        address: "relay".into(),
        source,
    })?;
    donor::preflight(&cfg, shutdown.token()).await?;
    let failures = FirstFailure::default();
    let relay_token = CancellationToken::new();
    let relay = tokio::spawn(donor::run_relay(
        cfg.clone(),
        listener,
        failures.clone(),
        relay_token.clone(),
        shutdown.token().clone(),
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
    let mut plan = crate::rsync::client::TransferPlan::new(
        datadir.clone(),
        args.log_dir.clone().unwrap_or(datadir),
        relay_addr,
    )?;
    plan.bwlimit_kib = settings.bwlimit_kib;
    plan.parallel = args.parallel.or(settings.parallel).unwrap_or(plan.parallel);
    let token = shutdown.token();
    let sent = async {
        send_with_tunnel_errors(&failures, crate::rsync::client::send_data(&plan, token)).await?;
        send_with_tunnel_errors(
            &failures,
            crate::rsync::client::send_marker(&plan, &state, token),
        )
        .await
    }
    .await;
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

/// Runs one rsync step; when it fails and the relay met a tunnel failure
/// (TLS, names included), that failure is reported instead of rsync's
/// "did not see server greeting".
pub async fn send_with_tunnel_errors<T>(
    failures: &FirstFailure,
    step: impl std::future::Future<Output = Result<T, crate::rsync::RsyncError>>,
) -> Result<T, Error> {
    match step.await {
        Ok(v) => Ok(v),
        Err(e) => match failures.get() {
            Some(tunnel) => Err(Error::Tunnel {
                tunnel,
                rsync: crate::error::chain(&e),
            }),
            None => Err(e.into()),
        },
    }
}

/// Waits for the relay task and surfaces its error.
pub async fn join_relay(
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
