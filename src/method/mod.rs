//! The SST method itself: what runs when mariadbd executes
//! `wsrep_sst_rsync_tunnel --role …`. Parses mariadbd's argv, installs the
//! `WSREP_SST:` log, reads `[sst]` with the defaults trio mariadbd passed,
//! runs the joiner or donor role, cleans up on every path and maps the
//! outcome to the exit-code table.
//!
//! - [`joiner`] and [`donor`]: the two roles, each over the data path of
//!   the same name ([`crate::joiner`], [`crate::donor`]).
//! - [`stdout`]: the one writer of mariadbd's stdout protocol, shared by a
//!   role and its progress task.

pub mod donor;
pub mod joiner;
pub mod stdout;

use std::ffi::OsString;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{error, info, warn};

use crate::config::mycnf::{OptionFiles, MYSQLD};
use crate::config::ConfigArgs;
use crate::config::Settings;
use crate::error::Error;
use crate::exit::ExitCode;
use crate::shutdown::{Shutdown, StopReason};
use crate::sst::args::{Role, SstArgs};
use crate::sst::files::{self, TempFiles};
use crate::sst::paths::ServerOptions;
use crate::sst::protocol::ProtocolWriter;
use crate::sst::Method;
use crate::tls::TlsRole;
use stdout::Protocol;

/// How often the joiner looks for mariadbd (the checklist asks for ≤ 1 s).
const PARENT_POLL: Duration = Duration::from_millis(250);

impl ServerOptions for OptionFiles {
    fn server_value(&self, key: &str) -> Option<String> {
        self.get(&[MYSQLD], key)
            .map(|e| e.value.clone().unwrap_or_default())
    }
}

/// Runs `method` with mariadbd's argv (without the program name) and
/// returns the exit code.
pub fn main(method: Method, argv: Vec<OsString>) -> ExitCode {
    if let Err(e) = crate::sst::log::init(tracing::level_filters::LevelFilter::INFO) {
        eprintln!("WSREP_SST: [ERROR] {e}");
    }
    let args = match SstArgs::parse(argv) {
        Ok(a) => a,
        Err(e) => {
            error!("{}", crate::exit::chain(&e));
            return e.exit_code();
        }
    };
    for unknown in &args.unknown {
        warn!("ignoring unknown option {unknown}");
    }
    let runtime = match crate::runtime::build() {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::Failure;
        }
    };
    let temp = TempFiles::new();
    let code = runtime.block_on(async {
        let shutdown = Shutdown::new();
        if let Err(e) = shutdown.listen_for_signals() {
            error!("cannot install signal handlers: {e}");
            return ExitCode::Failure;
        }
        match run(method, &args, &shutdown, &temp).await {
            Ok(code) => code,
            Err(e) => {
                // After a stop from outside, the reason decides the code.
                if let Some(reason) = shutdown.reason() {
                    warn!("{}", crate::exit::chain(&e));
                    reason.exit_code()
                } else {
                    error!("{}", crate::exit::chain(&e));
                    e.exit_code()
                }
            }
        }
    });
    // Children are killed (their groups) when their handles drop with the runtime.
    runtime.shutdown_timeout(Duration::from_secs(1));
    temp.cleanup();
    info!("exiting with {code}");
    code
}

async fn run(
    method: Method,
    args: &SstArgs,
    shutdown: &Shutdown,
    temp: &TempFiles,
) -> Result<ExitCode, Error> {
    let config = ConfigArgs {
        defaults_file: args.defaults.file.clone(),
        defaults_extra_file: args.defaults.extra_file.clone(),
        defaults_group_suffix: args.defaults.group_suffix.clone(),
        ..ConfigArgs::default()
    };
    let files = Settings::load_files(&config)?;
    for w in files.warnings() {
        warn!("{w}");
    }
    let tls_role = match args.role {
        Role::Joiner => TlsRole::Joiner,
        Role::Donor => TlsRole::Donor,
    };
    let mut settings = Settings::resolve_role(&config, files, tls_role)?;
    if args.role == Role::Joiner {
        crate::joiner::log_donor_names(
            settings
                .apply_donor_names(args.server.wsrep_cluster_address.as_deref())?
                .as_ref(),
        );
    }
    for w in &settings.tls.opts.warnings {
        warn!("[sst] sockopt: {w}");
    }
    let protocol: Protocol = Arc::new(Mutex::new(ProtocolWriter::stdout(args.progress)));
    match args.role {
        Role::Joiner => {
            // With --parent the pid says it first, with the message the
            // checklist asks for; the closed stdout is the fallback.
            if let Some(pid) = args.parent {
                tokio::spawn(watch_parent(pid, shutdown.clone()));
            } else {
                shutdown.watch_stdout_reader();
            }
            crate::method::joiner::run(args, &settings, &protocol, shutdown, temp).await
        }
        Role::Donor => {
            // mariadbd gives the donor no --parent: its closed stdout is the sign.
            shutdown.watch_stdout_reader();
            crate::method::donor::run(method, args, &settings, &protocol, shutdown, temp).await
        }
    }
}

/// Stops the run when mariadbd (`--parent`) is gone: at once through a
/// pidfd where the kernel has them, and by polling `/proc` in any case.
async fn watch_parent(pid: u32, shutdown: Shutdown) {
    let mut tick = tokio::time::interval(PARENT_POLL);
    let exited = crate::shutdown::process_exit(pid);
    let has_pidfd = exited.is_some();
    let exited = async move {
        match exited {
            Some(f) => f.await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(exited);
    let mut seen_exit = false;
    loop {
        tokio::select! {
            _ = shutdown.token().cancelled() => return,
            () = &mut exited, if has_pidfd && !seen_exit => seen_exit = true,
            _ = tick.tick() => {}
        }
        if seen_exit || !files::process_alive(pid) {
            error!("Parent mysqld process (PID: {pid}) terminated unexpectedly.");
            shutdown.stop(StopReason::ParentDied(pid));
            return;
        }
    }
}
