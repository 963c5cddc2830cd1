//! The donor role of the SST method: one TLS handshake with the joiner
//! first, then `flush tables` and the wait for `tables_flushed` (SST), the
//! binlog tar, the rsync sequence through the relay, `continue`, the marker
//! last, the tunnel closed, and `done`.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::info;

use super::stdout::{say, Protocol};
use crate::config::Settings;
use crate::donor;
use crate::error::Error;
use crate::exit::ExitCode;
use crate::meter::Meter;
use crate::progress::{self, Counter};
use crate::shutdown::Shutdown;
use crate::sst::args::SstArgs;
use crate::sst::binlog::{self, MaxBinlogs};
use crate::sst::files::{self, TempFiles};
use crate::sst::paths::ServerPaths;
use crate::sst::Method;
use crate::sst::SstError;

/// Runs the donor role to its end.
pub async fn run(
    method: Method,
    args: &SstArgs,
    settings: &Settings,
    protocol: &Protocol,
    shutdown: &Shutdown,
    temp: &TempFiles,
) -> Result<ExitCode, Error> {
    let started = std::time::Instant::now();
    let datadir = &args.datadir;
    let token = shutdown.token();
    let paths = ServerPaths::resolve(args, &*settings.files);
    crate::rsync::find_rsync()?;
    let meter = Arc::new(Meter::new());
    let cfg = Arc::new(donor::donor_config(settings, &args.address, &meter)?);
    info!(joiner = %cfg.target, bypass = args.bypass, "donor: sending state snapshot");
    let relay = donor::Relay::start(cfg.clone(), None, token).await?;
    // Prove the joiner's certificate before locking the donor's tables.
    donor::preflight(&cfg, token).await?;

    let state = if args.bypass {
        args.gtid_state().map_err(SstError::from)?
    } else {
        files::remove_stale_flush_files(datadir).map_err(SstError::from)?;
        say(protocol, |w| w.flush_tables())?;
        let state = files::wait_tables_flushed(datadir, token, None)
            .await
            .map_err(SstError::from)?;
        temp.register(datadir.join(files::TABLES_FLUSHED));
        info!(state = %state, "donor: tables flushed");
        crate::rsync::client::step_done("flush", started);
        if let Some(binlog_paths) = &paths.binlog {
            let max = MaxBinlogs::from_setting(settings.max_binlogs);
            if let Some(tar) = binlog::pack(datadir, binlog_paths, max).map_err(SstError::from)? {
                temp.register(tar);
            }
        }
        state
    };

    let mut plan = donor::transfer_plan(settings, paths.dirs(), relay.addr, None)?;
    plan.whole_file = method == Method::Tunnel;
    if !plan.whole_file {
        info!(
            "donor: {}: rsync sends only what differs from the joiner's copy",
            method.name()
        );
    }
    let progress_stop = CancellationToken::new();
    let result: Result<(), Error> = async {
        if !args.bypass {
            let total = plan.source_bytes();
            say(protocol, |w| w.total(total))?;
            tokio::spawn(progress::log_lines(
                meter.clone(),
                Counter::Sent,
                Some(total),
                progress::LOG_INTERVAL,
                progress_stop.clone(),
            ));
            relay
                .step(crate::rsync::client::send_data(&plan, token))
                .await?;
            say(protocol, |w| w.complete(total))?;
        }
        say(protocol, |w| w.continue_())?;
        relay
            .step(crate::rsync::client::send_marker(
                &plan,
                &state.to_string(),
                token,
            ))
            .await?;
        Ok(())
    }
    .await;
    progress_stop.cancel();
    // After a failure nothing open has anything left to deliver: end it now
    // instead of granting the close timeout to a dead network.
    let closed = relay.close(result.is_ok()).await;
    result?;
    closed?;
    // Nothing of ours may linger when mariadbd starts the next SST.
    files::remove_if_present(&datadir.join(binlog::BINLOG_TAR)).map_err(SstError::from)?;
    files::remove_if_present(&datadir.join(files::TABLES_FLUSHED)).map_err(SstError::from)?;
    info!(
        bytes = meter.outbound(),
        elapsed_ms = u64::try_from(meter.elapsed().as_millis()).unwrap_or(u64::MAX),
        state = %state,
        "donor: state snapshot sent"
    );
    say(protocol, |w| w.done(&state))?;
    Ok(ExitCode::Success)
}
