//! The `sst-tunnel` binary. Invoked as `wsrep_sst_rsync_tunnel` it is
//! mariadbd's SST method; otherwise it is the manual command line.
//! Everything happens in the library; this file only wires it up.

use std::process::ExitCode;

use clap::Parser;
use sst_tunnel::cli::Cli;
use sst_tunnel::shutdown::Shutdown;

fn main() -> ExitCode {
    let mut argv = std::env::args_os();
    let argv0 = argv.next().unwrap_or_default();
    if let Some(method) = sst_tunnel::sst::method_of(&argv0) {
        return ExitCode::from(sst_tunnel::method::main(method, argv.collect()).code());
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; a usage error
            // gets our own EINVAL, never clap's 2 (which mysqld reads as ENOENT).
            let code = if e.use_stderr() {
                sst_tunnel::ExitCode::Invalid.code()
            } else {
                0
            };
            let _printed = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.command.default_log_level());
    let runtime = match sst_tunnel::runtime::build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sst-tunnel: cannot start the runtime: {e}");
            return ExitCode::from(sst_tunnel::ExitCode::Failure.code());
        }
    };
    let code = runtime.block_on(async {
        let shutdown = Shutdown::new();
        if let Err(e) = shutdown.listen_for_signals() {
            eprintln!("sst-tunnel: cannot install signal handlers: {e}");
            return sst_tunnel::ExitCode::Failure;
        }
        match sst_tunnel::run(cli.command, shutdown).await {
            Ok(code) => code,
            Err(e) => {
                tracing::error!("{}", sst_tunnel::exit::chain(&e));
                e.exit_code()
            }
        }
    });
    ExitCode::from(code.code())
}

/// Logs to stderr, above a live progress line when one is shown;
/// `SST_TUNNEL_LOG` overrides the command's default level.
fn init_logging(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SST_TUNNEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sst_tunnel::progress::StderrWriter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
