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
//! checked with socat's rules.
//!
//! - [`config`]: MariaDB option files ([`config::mycnf`]) and the validated [`config::Settings`].
//! - [`tls`]: acceptor and connector, the peer-name [`tls::policy`], socat's
//!   `sockopt` grammar ([`tls::sockopt`]) and the start-up [`tls::preflight`].
//! - [`relay`]: the byte pump with half-close, close timeout and counters.
//! - [`joiner`] and [`donor`]: the two data paths, each taking an already
//!   bound listener and a cancellation token.
//! - [`rsync`]: the joiner's daemon configuration and per-connection server,
//!   the donor's transfer sequence; [`child`] supervises every child process.
//! - [`sockowner`]: which uid owns the other end of a loopback TCP connection.
//! - [`sst`]: the contract with mariadbd (argv, stdout lines, files).
//! - [`exit`]: the exit-code table; [`error`]: the error type that maps to it.
//! - [`pki`]: throwaway certificates for the demo and the tests.
//! - [`check`]: `sst-tunnel check`, the operator's preflight of one node.
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
