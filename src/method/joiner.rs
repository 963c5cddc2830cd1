//! The joiner role of the SST method: `sst_in_progress`, the TLS listener
//! and `ready` line, rsync per connection until the marker arrives, the
//! binlogs installed, and the state printed for mariadbd.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::stdout::{say, Protocol};
use crate::config::Settings;
use crate::error::Error;
use crate::exit::ExitCode;
use crate::joiner::{self, Backend, JoinerConfig, JoinerOutcome};
use crate::meter::Meter;
use crate::progress::{self, Counter};
use crate::rsync::ServerDirs;
use crate::shutdown::Shutdown;
use crate::sst::address::SstAddress;
use crate::sst::args::SstArgs;
use crate::sst::binlog;
use crate::sst::files::{self, InProgress, TempFiles};
use crate::sst::paths::ServerPaths;
use crate::sst::protocol::State;
use crate::sst::SstError;

/// Runs the joiner role to its end.
pub async fn run(
    args: &SstArgs,
    settings: &Settings,
    protocol: &Protocol,
    shutdown: &Shutdown,
    temp: &TempFiles,
) -> Result<ExitCode, Error> {
    let datadir = &args.datadir;
    // A previous transfer's processes may still be ending (a joiner whose
    // mariadbd died takes up to 2 s): wait for them as the stock scripts
    // do, then exit 114.
    let stale_deadline = tokio::time::Instant::now() + files::STALE_WAIT;
    files::wait_stale_processes(datadir, shutdown.token(), stale_deadline)
        .await
        .map_err(SstError::from)?;
    let _in_progress = InProgress::create(datadir).map_err(SstError::from)?;
    let paths = ServerPaths::resolve(args, &*settings.files);
    // Before `ready`: once the donor writes, the index is its word, not ours.
    let old_binlogs = match &paths.binlog {
        Some(b) => Some(binlog::OldBinlogs::read(datadir, b).map_err(SstError::from)?),
        None => None,
    };
    let modules = paths.dirs();
    info!(
        datadir = %datadir.display(), log_dir = %paths.log_dir.display(),
        "joiner: receiving state snapshot"
    );
    log_layout(&modules);
    let tls = Arc::new(settings.tls_server()?);

    let pid_file = datadir.join(files::RSYNC_PID);
    files::write_pid_file(&pid_file).map_err(SstError::from)?;
    temp.register(&pid_file);
    temp.register(datadir.join(files::MARKER));
    // A failed transfer may leave the donor's binlog tar half received;
    // a successful one unpacks and removes it before the end.
    temp.register(datadir.join(binlog::BINLOG_TAR));
    let conf = Arc::new(joiner::prepare_datadir(&modules)?);
    // Dropping `conf` removes its private directory; the final clean-up
    // does too, should a connection task still hold it then.
    temp.register(conf.private_dir());
    temp.register(conf.path());

    let address = SstAddress::parse(&args.address).map_err(SstError::from)?;
    joiner::warn_own_name(tls.preflight(), &settings.tls.opts, &address);
    let (listener, bound) = joiner::bind_listener_with(
        &address,
        &settings.tls.opts,
        settings.timeouts.connect_retry,
        shutdown.token(),
    )
    .await?;
    let ready = address
        .with_port(bound.port())
        .ready_address()
        .map_err(SstError::from)?;
    let meter = Arc::new(Meter::new());
    let cfg = JoinerConfig::new(
        settings,
        tls,
        Backend::Rsync(conf.clone()),
        Some(datadir.clone()),
        &meter,
    );
    info!(address = %bound, "joiner: listening with TLS");
    say(protocol, |w| w.ready(&ready))?;

    let progress_stop = CancellationToken::new();
    tokio::spawn(progress::log_lines(
        meter.clone(),
        Counter::Received,
        None,
        progress::LOG_INTERVAL,
        progress_stop.clone(),
    ));
    let outcome = joiner::run_joiner(cfg, listener, shutdown.token().clone()).await;
    progress_stop.cancel();
    drop(conf);
    let line = match outcome? {
        JoinerOutcome::Complete(line) => line,
        JoinerOutcome::Stopped => {
            let code = shutdown
                .reason()
                .map_or(ExitCode::Interrupted, |r| r.exit_code());
            return Ok(code);
        }
    };
    let state: State = State::from_first_line(&line).map_err(SstError::from)?;
    if let (Some(binlog_paths), Some(old)) = (&paths.binlog, &old_binlogs) {
        if binlog::tar_arrived(datadir) {
            binlog::install(datadir, binlog_paths, old).map_err(SstError::from)?;
        } else {
            binlog::vet_index(datadir, binlog_paths).map_err(SstError::from)?;
        }
    } else if binlog::tar_arrived(datadir) {
        warn!("the donor sent binlogs but log-bin is off here; removing them");
        files::remove_if_present(&datadir.join(binlog::BINLOG_TAR)).map_err(SstError::from)?;
    }
    files::remove_if_present(&datadir.join(files::MARKER)).map_err(SstError::from)?;
    info!(
        bytes = meter.inbound(),
        elapsed_ms = u64::try_from(meter.elapsed().as_millis()).unwrap_or(u64::MAX),
        state = %state,
        "joiner: state snapshot received"
    );
    say(protocol, |w| w.state(&state))?;
    Ok(ExitCode::Success)
}

/// Says at start where each kind of file goes when the server keeps it
/// outside the data directory, and what a socat-based donor cannot honour:
/// it knows only the data and redo-log modules, so it sends the system and
/// undo tablespaces and the Aria logs into the data directory.
fn log_layout(modules: &ServerDirs) {
    let elsewhere: Vec<String> = [
        ("innodb_data_home_dir", "ibdata*", &modules.data_home_dir),
        ("innodb_undo_directory", "undo*", &modules.undo_dir),
        ("aria_log_dir_path", "aria_log*", &modules.aria_log_dir),
    ]
    .into_iter()
    .filter(|(_, _, dir)| **dir != modules.datadir)
    .map(|(key, files, dir)| format!("{key} {} ({files})", dir.display()))
    .collect();
    if elsewhere.is_empty() {
        return;
    }
    info!(
        "joiner: files outside the data directory: {}; an sst-tunnel donor sends them there, \
         a socat-based donor cannot (it sends them into the data directory)",
        elsewhere.join(", ")
    );
}
