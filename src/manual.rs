//! The manual commands `sst-tunnel joiner` and `sst-tunnel donor`: from
//! parsed flags to a transfer, over the same data paths the SST method uses,
//! printing `ready ADDR` / `relay ADDR` and the state on stdout.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cli::{DonorArgs, JoinerArgs, UsageError};
use crate::config::Settings;
use crate::donor;
use crate::error::Error;
use crate::exit::ExitCode;
use crate::joiner::{self, Backend, JoinerConfig, JoinerOutcome};
use crate::meter::Meter;
use crate::progress::{self, Counter, Display};
use crate::rsync::ServerDirs;
use crate::shutdown::Shutdown;
use crate::sst::address::SstAddress;
use crate::tls::TlsRole;

/// Prints one protocol line on stdout and flushes it.
pub fn say(line: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(Error::Stdout)
}

fn load(config: &crate::config::ConfigArgs, role: TlsRole) -> Result<Settings, Error> {
    let files = Settings::load_files(config)?;
    let settings = Settings::resolve_role(config, files, role)?;
    for w in &settings.tls.opts.warnings {
        warn!("[sst] sockopt: {w}");
    }
    Ok(settings)
}

/// `sst-tunnel joiner`: receives a data directory (or forwards decrypted
/// bytes) until the marker arrives or it is interrupted.
pub async fn joiner(args: JoinerArgs, shutdown: Shutdown) -> Result<ExitCode, Error> {
    let mut settings = load(&args.config, TlsRole::Joiner)?;
    joiner::log_donor_names(settings.apply_donor_names(None)?.as_ref());
    let address = SstAddress::parse(&args.address)?;
    let meter = Arc::new(Meter::new());
    let tls = Arc::new(settings.tls_server()?);
    joiner::warn_own_name(tls.preflight(), &settings.tls.opts, &address);
    let (backend, marker_dir, _conf) = match (&args.forward, &args.datadir) {
        (Some(fwd), _) => {
            let target = SstAddress::parse(fwd)?;
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
            let modules = ServerDirs::with_log_dir(datadir.clone(), log_dir);
            let conf = Arc::new(joiner::prepare_datadir(&modules)?);
            (
                Backend::Rsync(conf.clone()),
                Some(datadir.clone()),
                Some(conf),
            )
        }
        (None, None) => {
            return Err(UsageError::JoinerWithoutTarget.into());
        }
    };
    let (listener, bound) = joiner::bind_listener_with(
        &address,
        &settings.tls.opts,
        settings.timeouts.connect_retry,
        shutdown.token(),
    )
    .await?;
    let cfg = JoinerConfig::new(&settings, tls, backend, marker_dir, &meter);
    info!(address = %bound, "joiner listening");
    let ready = address
        .with_port(bound.port())
        .ready_address()
        .map_err(|e| Error::Address {
            address: args.address.clone(),
            reason: e.to_string(),
        })?;
    say(&format!("ready {ready}"))?;
    let progress = CancellationToken::new();
    tokio::spawn(progress::show(
        meter.clone(),
        Counter::Received,
        None,
        Display::for_stderr(),
        progress.clone(),
    ));
    let outcome = joiner::run_joiner(cfg, listener, shutdown.token().clone()).await;
    progress.cancel();
    match outcome? {
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
                    action: "remove the marker",
                    path: marker.clone(),
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
        action: "resolve",
        path: path.to_path_buf(),
        source,
    })
}

/// `sst-tunnel donor`: sends a data directory, or only relays rsync
/// connections (`--relay-only`).
pub async fn donor(args: DonorArgs, shutdown: Shutdown) -> Result<ExitCode, Error> {
    args.validate()?;
    let settings = load(&args.config, TlsRole::Donor)?;
    let meter = Arc::new(Meter::new());
    let cfg = Arc::new(donor::donor_config(&settings, &args.address, &meter)?);
    if !args.relay_only {
        crate::rsync::find_rsync()?;
    }
    let relay = donor::Relay::start(cfg.clone(), args.listen.as_deref(), shutdown.token()).await?;
    let relay_addr = relay.addr;
    donor::preflight(&cfg, shutdown.token()).await?;
    if args.relay_only {
        info!(relay = %relay_addr, joiner = %cfg.target, "relaying");
        say(&format!("relay {relay_addr}"))?;
        shutdown.token().cancelled().await;
        relay.finish().await?;
        return Ok(stopped_code(&shutdown));
    }
    let datadir = args
        .datadir
        .clone()
        .ok_or(UsageError::DonorWithoutDatadir)?;
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| "00000000-0000-0000-0000-000000000000:-1 0".to_string());
    let log_dir = args.log_dir.clone().unwrap_or_else(|| datadir.clone());
    let mut plan = donor::transfer_plan(
        &settings,
        ServerDirs::with_log_dir(datadir, log_dir),
        relay_addr,
        args.parallel,
    )?;
    plan.whole_file = !args.delta;
    let progress = CancellationToken::new();
    tokio::spawn(progress::show(
        meter.clone(),
        Counter::Sent,
        Some(plan.source_bytes()),
        Display::for_stderr(),
        progress.clone(),
    ));
    let sent = relay.send(&plan, &state, shutdown.token()).await;
    progress.cancel();
    let closed = relay.close(sent.is_ok()).await;
    sent?;
    closed?;
    info!(
        bytes = meter.outbound(),
        elapsed_ms = meter.elapsed().as_millis() as u64,
        "transfer complete"
    );
    Ok(ExitCode::Success)
}
