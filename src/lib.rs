//! sst-tunnel: an encrypted State Snapshot Transfer tunnel for MariaDB Galera.
//!
//! # Layout
//!
//! The joiner (the node that receives) listens with TLS, verifies each
//! donor's client certificate inside the connection's own task, and pumps the
//! decrypted bytes into one `rsync --server --daemon` per connection, over
//! pipes: no plaintext listener exists on the joiner. The donor runs a
//! loopback relay that serves only its own uid; each relay connection
//! becomes one TLS connection to the joiner, whose certificate and name are
//! checked with socat's rules. docs/architecture.md draws it.
//!
//! The modules form layers; each imports only from the layers below it
//! (and, inside layer 2 and 7, from the ones listed before it):
//!
//! 0. [`exit`]: the exit-code table, and the one-line rendering of an error chain.
//! 1. Process and OS helpers: [`child`] (supervised child processes),
//!    [`shutdown`] (signals, a dead parent), [`sockowner`] (which uid owns a
//!    loopback peer), [`mount`] (which file system holds a path), [`meter`]
//!    (byte counters) and [`progress`] (what people see of them), [`pki`]
//!    (throwaway certificates), [`runtime`] (the accepting runtime and the
//!    connection workers, one current-thread runtime per CPU).
//! 2. Transport: [`tls`] (acceptor, connector, identity policy, sockopt,
//!    preflight, what TLS runs over), [`relay`] (the byte pump, the
//!    connection log line), [`rsync`] (the joiner's daemon and what it
//!    refuses, the donor's transfer sequence).
//! 3. [`config`]: option files, the `[sst]` keys and their defaults, the
//!    validated [`config::Settings`].
//! 4. [`sst`]: the contract with mariadbd (argv, address forms, stdout
//!    protocol, data-directory files, server paths, binlogs, log format).
//! 5. The two data paths: [`joiner`] and [`donor`], each taking an already
//!    bound listener and a cancellation token, each built from `Settings`
//!    in one place ([`joiner::JoinerConfig::new`], [`donor::donor_config`],
//!    [`donor::transfer_plan`]).
//! 6. [`cli`]: the manual command line's clap definitions, raw values only.
//! 7. The entry points, thin adapters over layer 5: [`error`] (their error
//!    type), [`method`] (the SST method mariadbd runs), [`manual`] (`sst-tunnel
//!    joiner|donor`), [`check`] (the operator's preflight, a leaf nothing
//!    else calls), [`manpage`], then [`demo`].
//! 8. [`run`] here, and `main.rs`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod check;
pub mod child;
pub mod cli;
pub mod config;
pub mod demo;
pub mod donor;
pub mod error;
pub mod exit;
pub mod joiner;
pub mod manpage;
pub mod manual;
pub mod meter;
pub mod method;
pub mod mount;
pub mod pki;
pub mod progress;
pub mod relay;
pub mod rsync;
pub mod runtime;
pub mod shutdown;
pub mod sockowner;
pub mod sst;
pub mod tls;

pub use error::Error;
pub use exit::ExitCode;

/// Runs one subcommand of the manual command line to its end and returns
/// the exit code to use (`main` prints an error's chain once).
pub async fn run(command: cli::Command, shutdown: shutdown::Shutdown) -> Result<ExitCode, Error> {
    use std::io::Write as _;
    match command {
        cli::Command::Joiner(args) => manual::joiner(args, shutdown).await,
        cli::Command::Donor(args) => manual::donor(args, shutdown).await,
        cli::Command::Demo(args) => demo::run(args, shutdown).await,
        cli::Command::Check(args) => check::run(args, shutdown).await,
        cli::Command::Man => {
            let mut out = std::io::stdout().lock();
            manpage::write(&mut out)
                .and_then(|()| out.flush())
                .map_err(Error::Stdout)?;
            Ok(ExitCode::Success)
        }
    }
}
