//! The manual command line (clap derive): raw values only, no I/O. The
//! values are validated into [`crate::config::Settings`] by
//! [`crate::config::Settings::resolve`].

// The doc comments below are clap's --help text, where `[sst]` and
// `[IPv6]` are option-file groups and addresses, not intra-doc links.
#![allow(rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::ConfigArgs;

/// Text shown after `--help`: a my.cnf example and the exit-code table.
fn after_help() -> String {
    let mut keys = String::from("[sst] keys:\n");
    for k in crate::config::keys::keys() {
        keys.push_str(&format!(
            "  {:<22} {} (default: {})\n",
            k.name, k.meaning, k.default
        ));
    }
    format!(
        "Configuration is read from the [sst] group of the MariaDB option files, as\n\
         my_print_defaults reads them; flags override it. Example:\n\n  \
         [sst]\n  tca   = /etc/mysql/ssl/ca.pem\n  tcert = /etc/mysql/ssl/node.crt\n  \
         tkey  = /etc/mysql/ssl/node.key\n\n\
         SST methods ([mysqld] wsrep_sst_method; mariadbd runs wsrep_sst_<method>,\n\
         a link to this binary):\n  \
         rsync_tunnel      whole files (--whole-file): the fastest on a LAN\n  \
         rsync_tunnel_wan  rsync's delta algorithm: only what differs from the\n                    \
         joiner's copy, for a joiner that holds most of the data\n                    \
         behind a slow link\n\n{keys}\n{}\n{}",
        crate::config::keys::FALLBACK_HELP,
        crate::exit::help_table()
    )
}

/// The text after `sst-tunnel check --help`.
fn check_help() -> String {
    format!(
        "Each finding is one line on stdout:\n\
         \x20 OK    checked and fine\n\
         \x20 WARN  works, but deserves attention (an SST logs the TLS ones at start)\n\
         \x20 FAIL  an SST with this configuration would fail, or not be authenticated\n\
         followed by what was checked (the [sst] or [mysqld] key and its file) and\n\
         the result or cause.\n\n\
         Checked: the option files; tcert, tkey and tca (or the ssl-* options standing\n\
         in for them, per role: a `tls files` line names each file's key) readable and parsable; the\n\
         key matches the certificate; the chain verifies against the CA (with the\n\
         intermediates of the tcert file); validity (expired or not yet valid: FAIL;\n\
         expiring within {days} days, or a CA or intermediate that does: WARN); the\n\
         EKU allows serverAuth and clientAuth; the key file is not readable by group\n\
         or others (WARN); sockopt; the SST address derived from\n\
         wsrep_sst_receive_address / wsrep_node_address / bind_address as mariadbd\n\
         derives it, covered by the certificate (socat's name rules); rsync and its\n\
         version; the SST port free; the donor allow-list (sst-allowed-donors) and\n\
         whether this node's certificate passes it. --peer HOST:PORT adds a real mutual-TLS\n\
         handshake with a joiner or `sst-tunnel check --listen` on another node.\n\n\
         Exit status: 0 when no line is FAIL (warnings allowed), {code} ({name}) when\n\
         at least one is; a usage error is also {usage}.",
        days = crate::tls::preflight::EXPIRY_WARN_DAYS,
        code = crate::exit::CHECK_FAILED.code(),
        name = crate::exit::CHECK_FAILED.name(),
        usage = crate::exit::ExitCode::Invalid.code(),
    )
}

/// Encrypted State Snapshot Transfer tunnel for MariaDB Galera clusters.
///
/// Invoked as `wsrep_sst_rsync_tunnel` it is mariadbd's SST method; invoked
/// as `sst-tunnel` it runs a joiner or donor by hand, or the demo.
#[derive(Debug, Parser)]
#[command(name = "sst-tunnel", version, after_long_help = after_help(), after_help = after_help())]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive a data directory (or forward decrypted bytes) over mutual TLS.
    Joiner(JoinerArgs),
    /// Send a data directory to a joiner, or relay rsync connections to it.
    Donor(DonorArgs),
    /// Run a complete encrypted transfer on loopback with throwaway certificates.
    Demo(DemoArgs),
    /// Preflight this node's SST configuration: certificates, names, port, rsync; optionally a handshake with a peer.
    #[command(after_help = check_help(), after_long_help = check_help())]
    Check(CheckArgs),
    /// Print the sst-tunnel(1) manual page (roff) on stdout; used by packaging.
    #[command(hide = true)]
    Man,
}

/// `sst-tunnel joiner`.
#[derive(Debug, Clone, Args)]
pub struct JoinerArgs {
    /// Address to listen on: HOST, HOST:PORT, [IPv6]:PORT (default port 4444; 0 = ephemeral).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub address: String,
    /// Data directory that receives the transfer (required unless --forward).
    #[arg(long, value_name = "DIR", required_unless_present = "forward")]
    pub datadir: Option<PathBuf>,
    /// Directory that receives the InnoDB redo log (default: the data directory).
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Forward decrypted bytes to this plaintext TCP service instead of rsync
    /// (diagnostics, benchmarks); runs until interrupted.
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "datadir")]
    pub forward: Option<String>,
    /// Configuration sources and TLS overrides.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `sst-tunnel donor`.
#[derive(Debug, Clone, Args)]
pub struct DonorArgs {
    /// The joiner: HOST:PORT or [IPv6]:PORT, as printed in its `ready` line
    /// (a trailing /module is ignored). The joiner's certificate must carry HOST.
    #[arg(long, value_name = "HOST:PORT")]
    pub address: String,
    /// Data directory to send (required unless --relay-only).
    #[arg(long, value_name = "DIR", required_unless_present = "relay_only")]
    pub datadir: Option<PathBuf>,
    /// Directory holding the InnoDB redo log (default: the data directory).
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// State written into the completion marker (`UUID:SEQNO [DOMAIN]`).
    #[arg(long, value_name = "UUID:SEQNO")]
    pub state: Option<String>,
    /// How many rsync streams carry the schema phase, its files dealt out by
    /// bytes (default: [sst] backup-threads, else CPUs).
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Send only what differs from the joiner's copy (rsync's delta
    /// algorithm, as the `rsync_tunnel_wan` method) instead of whole files.
    #[arg(long)]
    pub delta: bool,
    /// Only relay connections to the joiner, without running rsync; prints `relay ADDR`.
    #[arg(long, conflicts_with_all = ["datadir", "state", "parallel", "delta"])]
    pub relay_only: bool,
    /// Loopback address for the relay (default 127.0.0.1 on an ephemeral port).
    #[arg(long, value_name = "127.0.0.1:PORT")]
    pub listen: Option<String>,
    /// Configuration sources and TLS overrides.
    #[command(flatten)]
    pub config: ConfigArgs,
}

impl Command {
    /// The log level when `SST_TUNNEL_LOG` does not say: the demo prints
    /// its own short summary and logs only problems unless `--verbose`;
    /// every other command logs what it does.
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Demo(args) if !args.verbose => "warn",
            _ => "info",
        }
    }
}

impl DonorArgs {
    /// Cross-flag rules clap cannot express (a `SetTrue` flag always counts as present).
    pub fn validate(&self) -> Result<(), UsageError> {
        if self.listen.is_some() && !self.relay_only {
            return Err(UsageError::ListenWithoutRelayOnly);
        }
        Ok(())
    }
}

/// A command-line combination clap cannot rule out by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// `donor --listen` without `--relay-only`.
    #[error("--listen only applies with --relay-only")]
    ListenWithoutRelayOnly,
    /// `joiner` with neither `--datadir` nor `--forward`.
    #[error("joiner needs --datadir or --forward")]
    JoinerWithoutTarget,
    /// `donor` without `--datadir` (and without `--relay-only`).
    #[error("donor needs --datadir")]
    DonorWithoutDatadir,
}

/// `sst-tunnel check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Also run a real mutual-TLS handshake with another node's joiner or
    /// `sst-tunnel check --listen`, as a donor would (its certificate must carry HOST).
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "listen")]
    pub peer: Option<String>,
    /// After the local checks, accept check handshakes on [HOST:]PORT (default
    /// host 0.0.0.0; port 0 = ephemeral) and report each client's certificate,
    /// until interrupted.
    #[arg(long, value_name = "[HOST:]PORT")]
    pub listen: Option<String>,
    /// With --listen: stop after the first successful handshake.
    #[arg(long, requires = "listen")]
    pub once: bool,
    /// Configuration sources and TLS overrides.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `sst-tunnel demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Also log every connection and step (as SST_TUNNEL_LOG=info would).
    #[arg(short, long)]
    pub verbose: bool,
    /// Size of the sample data directory in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 100)]
    pub size_mib: u64,
    /// Keep the temporary directory (certificates, both data directories) and print its path.
    #[arg(long)]
    pub keep: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joiner_needs_datadir_or_forward() {
        assert!(Cli::try_parse_from(["sst-tunnel", "joiner", "--address", "h"]).is_err());
        assert!(
            Cli::try_parse_from(["sst-tunnel", "joiner", "--address", "h", "--datadir", "d"])
                .is_ok()
        );
        assert!(Cli::try_parse_from([
            "sst-tunnel",
            "joiner",
            "--address",
            "h",
            "--forward",
            "127.0.0.1:9"
        ])
        .is_ok());
    }

    #[test]
    fn relay_only_excludes_transfer_options() {
        let r = Cli::try_parse_from([
            "sst-tunnel",
            "donor",
            "--address",
            "h:1",
            "--relay-only",
            "--datadir",
            "d",
        ]);
        assert!(r.is_err());
        let ok = Cli::try_parse_from(["sst-tunnel", "donor", "--address", "h:1", "--relay-only"]);
        assert!(ok.is_ok());
    }

    #[test]
    fn listen_requires_relay_only() {
        let r = Cli::try_parse_from([
            "sst-tunnel",
            "donor",
            "--address",
            "h:1",
            "--datadir",
            "d",
            "--listen",
            "127.0.0.1:5",
        ]);
        match r.map(|c| c.command) {
            Ok(Command::Donor(d)) => {
                assert_eq!(d.validate(), Err(UsageError::ListenWithoutRelayOnly))
            }
            other => panic!("unexpected parse: {other:?}"),
        }
    }

    #[test]
    fn help_shows_exit_codes() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("EPROTO"), "{help}");
        assert!(help.contains("sst-initial-timeout"), "{help}");
    }
}
