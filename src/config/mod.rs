//! Configuration: MariaDB option files ([`mycnf`]) merged with command-line
//! flags into validated [`Settings`].
//!
//! A flag overrides the option files. Every `[sst]` key this program reads
//! is listed in [`keys`] with its default, the one definition of both. The
//! TLS files come from the legacy `[sst]` keys or, when none is set, from
//! MariaDB's own `ssl-*` options; `tls_keys` has the order.

mod args;
pub mod donors;
pub mod keys;
pub mod mycnf;
mod tls_keys;

pub use args::ConfigArgs;

use std::time::Duration;

use crate::exit::ExitCode;
use crate::tls::TlsSettings;
use crate::tls::{sockopt, FileKeys, SockOpts, TlsClient, TlsError, TlsRole, TlsServer};
use donors::AllowedDonors;
use mycnf::{DefaultsArgs, MyCnfError, OptionFiles};

/// The option-file group this program reads.
pub const GROUP: &str = "sst";

/// Errors found while reading and validating the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An option file could not be read or parsed.
    #[error(transparent)]
    OptionFiles(#[from] MyCnfError),
    /// No certificate: the tunnel never runs in plaintext.
    #[error("no certificate configured: {looked_at} ({searched}); set tcert in the [sst] group or pass --tcert; sst-tunnel never transfers in plaintext")]
    MissingCert {
        /// The keys looked at, and why MariaDB's `ssl-*` options were not
        /// read when they were not.
        looked_at: String,
        /// The option files that were read, for the message.
        searched: String,
    },
    /// A value does not parse.
    #[error("{origin}: invalid value {value:?} for {key}: {reason}")]
    BadValue {
        /// The key (`[sst] sst-idle-timeout` or `--parallel`).
        key: String,
        /// The offending value.
        value: String,
        /// Where it came from (`/etc/my.cnf:12` or `command line`).
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `sst-allowed-donors = auto`, but no cluster address to take the hosts from.
    #[error("{origin}: sst-allowed-donors = auto, but wsrep_cluster_address is set neither in --mysqld-args nor in the server groups ({searched})")]
    NoClusterAddress {
        /// Where `auto` was set.
        origin: String,
        /// The option files that were read.
        searched: String,
    },
    /// `sockopt` contains an item we reject.
    #[error("{origin}")]
    Sockopt {
        /// Where the sockopt value came from.
        origin: String,
        /// The parser's error, naming the item.
        #[source]
        source: sockopt::SockoptError,
    },
}

impl ConfigError {
    /// The exit code this error ends the program with.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            ConfigError::MissingCert { .. } => ExitCode::Interrupted,
            ConfigError::OptionFiles(_) => ExitCode::NotFound,
            ConfigError::BadValue { .. }
            | ConfigError::NoClusterAddress { .. }
            | ConfigError::Sockopt { .. } => ExitCode::Invalid,
        }
    }
}

/// Bounded waits of one run.
#[derive(Clone, Debug)]
pub struct Timeouts {
    /// TLS handshake, per connection.
    pub handshake: Duration,
    /// One TCP connect attempt (donor).
    pub connect: Duration,
    /// Window during which the donor retries connecting to the joiner.
    pub connect_retry: Duration,
    /// Joiner: first connection must arrive within this (`None` = wait forever).
    pub initial: Option<Duration>,
    /// No byte moved for this long = stalled (`None` = never).
    pub idle: Option<Duration>,
    /// After one direction closed, the other gets this long.
    pub close: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            handshake: keys::HANDSHAKE_TIMEOUT,
            connect: keys::CONNECT_TIMEOUT,
            connect_retry: keys::CONNECT_RETRY,
            initial: Some(keys::INITIAL_TIMEOUT),
            idle: Some(keys::IDLE_TIMEOUT),
            close: keys::CLOSE_TIMEOUT,
        }
    }
}

/// Validated settings of one role (the TLS files may depend on it; the
/// rest is shared by both).
#[derive(Clone, Debug)]
pub struct Settings {
    /// TLS files and options.
    pub tls: TlsSettings,
    /// The key each TLS file came from (`[sst] tcert`, `[mysqld] ssl-cert`),
    /// for messages and the start-up log; pass it on with
    /// [`Settings::tls_server`] / [`Settings::tls_client`].
    pub tls_keys: FileKeys,
    /// Bounded waits.
    pub timeouts: Timeouts,
    /// Joiner: connections served at once.
    pub max_connections: usize,
    /// Donor: rsync `--bwlimit` in KiB/s.
    pub bwlimit_kib: Option<u64>,
    /// Donor: schema directories in parallel (`backup-threads`).
    pub parallel: Option<usize>,
    /// Donor: binlogs shipped.
    pub max_binlogs: i64,
    /// Joiner: the donor allow-list as configured (`auto` unresolved: see
    /// [`Settings::donor_names`]).
    pub allowed_donors: AllowedDonors,
    /// Where [`Self::allowed_donors`] was set (`/etc/my.cnf:12`, `command line`).
    pub allowed_donors_origin: String,
    /// The option files, kept for the server paths of the SST method.
    pub files: std::sync::Arc<OptionFiles>,
}

/// A value found in flags or option files, with where it came from.
struct Found {
    value: String,
    origin: String,
}

fn lookup(files: &OptionFiles, key: &str) -> Option<Found> {
    let entry = files.get(&[GROUP], key)?;
    let value = entry.value.clone()?;
    if value.is_empty() {
        return None;
    }
    Some(Found {
        value,
        origin: format!("{}:{}", entry.path.display(), entry.line),
    })
}

fn parse_number<T: std::str::FromStr>(found: &Found, key: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    found
        .value
        .trim()
        .parse::<T>()
        .map_err(|e| ConfigError::BadValue {
            key: format!("[{GROUP}] {key}"),
            value: found.value.clone(),
            origin: found.origin.clone(),
            reason: e.to_string(),
        })
}

fn seconds(files: &OptionFiles, key: &str, default: Duration) -> Result<Duration, ConfigError> {
    let Some(found) = lookup(files, key) else {
        return Ok(default);
    };
    let secs: f64 = parse_number(&found, key)?;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(ConfigError::BadValue {
            key: format!("[{GROUP}] {key}"),
            value: found.value,
            origin: found.origin,
            reason: "expected a number of seconds, 0 or more".into(),
        });
    }
    Ok(Duration::from_secs_f64(secs))
}

fn optional_seconds(
    files: &OptionFiles,
    key: &str,
    default: Duration,
) -> Result<Option<Duration>, ConfigError> {
    let d = seconds(files, key, default)?;
    Ok((!d.is_zero()).then_some(d))
}

impl Settings {
    /// Pump settings from the configuration, counting into `meter`.
    pub fn relay_opts(
        &self,
        meter: &std::sync::Arc<crate::meter::Meter>,
    ) -> crate::relay::RelayOpts {
        crate::relay::RelayOpts {
            buffer_size: crate::relay::DEFAULT_BUFFER,
            close_timeout: self.timeouts.close,
            meter: Some(meter.clone()),
            pace: None,
        }
    }

    /// Reads the option files the flags name (or the default search path).
    pub fn load_files(cli: &ConfigArgs) -> Result<OptionFiles, ConfigError> {
        if cli.no_defaults {
            return Ok(OptionFiles::default());
        }
        let args = DefaultsArgs {
            defaults_file: cli.defaults_file.clone(),
            extra_file: cli.defaults_extra_file.clone(),
            group_suffix: cli.defaults_group_suffix.clone(),
        };
        Ok(OptionFiles::load(&args)?)
    }

    /// The joiner's TLS acceptor from these settings, each file named by
    /// its key ([`Settings::tls_keys`]).
    pub fn tls_server(&self) -> Result<TlsServer, TlsError> {
        TlsServer::with_keys(&self.tls, &self.tls_keys)
    }

    /// The donor's TLS connector to `target_host`, each file named by its
    /// key ([`Settings::tls_keys`]).
    pub fn tls_client(&self, target_host: &str) -> Result<TlsClient, TlsError> {
        TlsClient::with_keys(&self.tls, &self.tls_keys, target_host)
    }

    /// Merges flags over option files and validates the result, without a
    /// role: the TLS files come from the legacy `[sst]` keys or MariaDB's
    /// generic `ssl-*` options, never the role-specific `ssl-server-*` /
    /// `ssl-client-*`. The SST and the manual commands use
    /// [`Settings::resolve_role`].
    pub fn resolve(cli: &ConfigArgs, files: OptionFiles) -> Result<Settings, ConfigError> {
        Self::resolve_for(cli, files, None)
    }

    /// Merges flags over option files and validates the result for `role`,
    /// whose TLS files may come from MariaDB's role-specific options (the
    /// precedence is in the `tls_keys` module's documentation).
    pub fn resolve_role(
        cli: &ConfigArgs,
        files: OptionFiles,
        role: TlsRole,
    ) -> Result<Settings, ConfigError> {
        Self::resolve_for(cli, files, Some(role))
    }

    fn resolve_for(
        cli: &ConfigArgs,
        files: OptionFiles,
        role: Option<TlsRole>,
    ) -> Result<Settings, ConfigError> {
        let searched = || match files.files_read_list() {
            Some(read) => format!("read: {read}"),
            None => "no option file was read".to_string(),
        };
        let (sockopt_text, sockopt_origin) = match &cli.sockopt {
            Some(s) => (s.clone(), "command line --sockopt".to_string()),
            None => match lookup(&files, "sockopt") {
                Some(f) => (f.value, f.origin),
                None => (String::new(), String::new()),
            },
        };
        let opts: SockOpts =
            sockopt::parse(&sockopt_text).map_err(|source| ConfigError::Sockopt {
                origin: sockopt_origin,
                source,
            })?;
        let sockopt_ca = opts.cafile.is_some() || opts.capath.is_some();
        let found = tls_keys::resolve(cli, &files, role, sockopt_ca, searched)?;
        let tls = TlsSettings {
            ca_file: found.ca_file,
            ca_path: found.ca_path,
            cert: found.cert,
            key: found.key,
            opts,
            // Off until the `[sst] sst-allowed-donors` key is wired in.
            allowed_donors: Vec::new(),
        };

        let defaults = Timeouts::default();
        let timeouts = Timeouts {
            handshake: seconds(&files, "sst-handshake-timeout", defaults.handshake)?,
            connect: seconds(&files, "sst-connect-timeout", defaults.connect)?,
            connect_retry: seconds(&files, "sst-connect-retry", defaults.connect_retry)?,
            initial: optional_seconds(&files, "sst-initial-timeout", keys::INITIAL_TIMEOUT)?,
            idle: optional_seconds(&files, "sst-idle-timeout", keys::IDLE_TIMEOUT)?,
            close: seconds(&files, "sst-close-timeout", defaults.close)?,
        };
        let max_connections = match lookup(&files, "sst-max-connections") {
            Some(f) => parse_number::<usize>(&f, "sst-max-connections")?.max(1),
            None => keys::MAX_CONNECTIONS,
        };
        let bwlimit_kib = match lookup(&files, "sst-bwlimit") {
            Some(f) => Some(parse_number::<u64>(&f, "sst-bwlimit")?),
            None => Some(keys::BWLIMIT_KIB),
        }
        .filter(|v| *v > 0);
        let parallel = match lookup(&files, "backup-threads") {
            Some(f) => Some(parse_number::<usize>(&f, "backup-threads")?.max(1)),
            None => None,
        };
        let max_binlogs = match lookup(&files, "sst-max-binlogs") {
            Some(f) => parse_number::<i64>(&f, "sst-max-binlogs")?,
            None => keys::MAX_BINLOGS,
        };
        let donors = match &cli.allowed_donors {
            Some(v) => Some(Found {
                value: v.clone(),
                origin: "command line --allowed-donors".into(),
            }),
            None => lookup(&files, "sst-allowed-donors"),
        };
        let (allowed_donors, allowed_donors_origin) = match donors {
            Some(f) => {
                let parsed = AllowedDonors::parse(&f.value).map_err(|e| ConfigError::BadValue {
                    key: format!("[{GROUP}] sst-allowed-donors"),
                    value: f.value.clone(),
                    origin: f.origin.clone(),
                    reason: e.to_string(),
                })?;
                (parsed, f.origin)
            }
            None => (AllowedDonors::Off, String::new()),
        };
        Ok(Settings {
            tls,
            tls_keys: found.keys,
            timeouts,
            max_connections,
            bwlimit_kib,
            parallel,
            max_binlogs,
            allowed_donors,
            allowed_donors_origin,
            files: std::sync::Arc::new(files),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn missing_cert_is_exit_3_and_never_plaintext() {
        let err = Settings::resolve(&ConfigArgs::default(), OptionFiles::default())
            .err()
            .map(|e| (e.exit_code(), e.to_string()));
        let (code, text) = err.unwrap_or((ExitCode::Success, String::new()));
        assert_eq!(code, ExitCode::Interrupted);
        assert!(text.contains("tcert"), "{text}");
        assert!(text.contains("plaintext"), "{text}");
    }

    #[test]
    fn flags_give_defaults_for_everything_else() {
        let cli = ConfigArgs {
            tcert: Some("/x/cert.pem".into()),
            ..ConfigArgs::default()
        };
        let s = Settings::resolve(&cli, OptionFiles::default());
        let s = match s {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(s.tls.cert, PathBuf::from("/x/cert.pem"));
        assert_eq!(s.timeouts.initial, Some(Duration::from_secs(300)));
        assert_eq!(s.max_connections, 64);
        assert_eq!(s.max_binlogs, 1);
        assert_eq!(s.allowed_donors, AllowedDonors::Off);
        assert!(matches!(s.donor_names(None), Ok(None)));
    }
}
