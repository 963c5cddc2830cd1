//! `sst-tunnel check`: the preflight an operator runs on each node before
//! trusting an SST. It reads the option files an SST would read (the same
//! `--defaults-*` trio, [`Settings::load_files`]) and prints one line per
//! finding on stdout, `OK`, `WARN` or `FAIL`, each naming what was checked
//! (the `[sst]`/`[mysqld]` key and its file) and the result or cause.
//!
//! - [`report`]: findings, their lines and the exit code ([`crate::exit::CHECK_FAILED`]).
//! - [`tls`]: certificate, key, CA, chain, dates, EKU, key permissions, sockopt.
//! - [`address`]: the SST address as mariadbd derives it, and the donor's name check.
//! - [`environment`]: option files, `wsrep_sst_method`, rsync, the SST port.
//! - [`peer`]: `--peer` / `--listen`, a real mutual-TLS handshake.
//!
//! The TLS checks are the pieces of [`crate::tls::preflight`] that every SST
//! runs at start in both roles, so an SST logs the same warnings (key
//! permissions, expiry within 30 days, EKU, trust) without failing on them.

pub mod address;
pub mod donors;
pub mod environment;
pub mod peer;
pub mod report;
pub mod tls;

use crate::cli::CheckArgs;
use crate::config::mycnf::OptionFiles;
use crate::config::ConfigArgs;
use crate::config::{ConfigError, Settings};
use crate::error::Error;
use crate::exit::ExitCode;
use crate::shutdown::Shutdown;

use report::{Finding, Report};

/// Runs the check and returns its exit code (see `sst-tunnel check --help`).
pub async fn run(args: CheckArgs, shutdown: Shutdown) -> Result<ExitCode, Error> {
    let mut report = Report::new();
    let settings = local_checks(&args.config, &mut report).await;
    if args.peer.is_some() || args.listen.is_some() {
        match &settings {
            Some(s) => {
                if let Some(target) = &args.peer {
                    let ours =
                        crate::tls::files::certificates(crate::tls::CnfKey::Tcert, &s.tls.cert)
                            .ok()
                            .and_then(|c| c.into_iter().next());
                    peer::peer(s, target, ours.as_ref(), &mut report).await;
                }
                if let Some(spec) = &args.listen {
                    peer::listen(s, spec, args.once, &shutdown, &mut report).await;
                }
            }
            None => report.add(Finding::fail(
                if args.peer.is_some() {
                    "--peer"
                } else {
                    "--listen"
                },
                "no handshake attempted: the [sst] settings above do not resolve",
            )),
        }
    }
    Ok(report.exit_code())
}

/// Every check that needs no peer. Returns the settings when they resolve
/// (even if some check failed), for the handshake checks.
pub async fn local_checks(config: &ConfigArgs, report: &mut Report) -> Option<Settings> {
    let files = match Settings::load_files(config) {
        Ok(f) => f,
        Err(e) => {
            report.add(Finding::fail("option files", crate::exit::chain(&e)));
            OptionFiles::default()
        }
    };
    environment::option_files(&files, report);
    environment::sst_method(&files, report);
    let (mut settings, sockopt_ok) = match resolve(config, report) {
        Some((s, ok)) => (Some(s), ok),
        None => (None, false),
    };
    let leaf = match &settings {
        Some(s) => {
            if sockopt_ok {
                let origin = sockopt_origin(config, &s.files);
                tls::sockopt_findings(&s.tls.opts, &origin, report);
            }
            tls::check(&s.tls, report).leaf
        }
        None => None,
    };
    if let Some(s) = settings.as_mut() {
        donors::check(s, leaf.as_deref(), report);
    }
    let target = address::derive(&files, report);
    match (&target, &leaf, &settings) {
        (Some(t), Some(leaf), Some(s)) => report.add(address::name_check(
            &crate::tls::policy::CertNames::from_cert(leaf),
            s.tls.opts.commonname.as_deref(),
            &t.address.host_unbracketed,
            &t.origin,
        )),
        (Some(t), _, _) => report.add(Finding::warn(
            &t.origin,
            "the certificate could not be read, so its names were not checked against this \
             address",
        )),
        (None, _, _) => {}
    }
    environment::port(target.as_ref(), report).await;
    environment::rsync(report).await;
    settings
}

fn sockopt_origin(config: &ConfigArgs, files: &OptionFiles) -> String {
    if config.sockopt.is_some() {
        return "command line --sockopt".to_string();
    }
    files
        .get(&[crate::config::GROUP], "sockopt")
        .map(|e| format!("{}:{}", e.path.display(), e.line))
        .unwrap_or_default()
}

/// [`Settings::resolve`], with a bad `sockopt` reported and then left out so
/// that the other checks still run; the flag says whether sockopt parsed.
fn resolve(config: &ConfigArgs, report: &mut Report) -> Option<(Settings, bool)> {
    let attempt = |c: &ConfigArgs| Settings::load_files(c).and_then(|f| Settings::resolve(c, f));
    match attempt(config) {
        Ok(s) => Some((s, true)),
        Err(ConfigError::Sockopt { origin, source }) => {
            report.add(tls::sockopt_error(&origin, &source));
            let without = ConfigArgs {
                sockopt: Some(String::new()),
                ..config.clone()
            };
            match attempt(&without) {
                Ok(s) => Some((s, false)),
                Err(e) => {
                    report.add(config_finding(&e));
                    None
                }
            }
        }
        Err(ConfigError::OptionFiles(_)) => None,
        Err(e) => {
            report.add(config_finding(&e));
            None
        }
    }
}

fn config_finding(e: &ConfigError) -> Finding {
    match e {
        ConfigError::MissingCert { .. } => Finding::fail("[sst] tcert", e.to_string()),
        ConfigError::BadValue { key, .. } => Finding::fail(key.as_str(), e.to_string()),
        _ => Finding::fail("[sst]", crate::exit::chain(e)),
    }
}
