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
//! The TLS checks are the pieces of [`mod@crate::tls::preflight`] that every SST
//! runs at start in both roles, so an SST logs the same warnings (key
//! permissions, expiry within 30 days, EKU, trust) without failing on them.
//!
//! The TLS files are resolved for each role, as an SST would
//! ([`Settings::resolve_role`]: MariaDB's `ssl-server-*` options apply to
//! the joiner, `ssl-client-*` to the donor). When both roles get the same
//! files (always, with the legacy `[sst]` keys) they are checked once, for
//! both; otherwise once per role, each run opening with a `tls files
//! (joiner)` / `(donor)` line naming every file and its key. `--peer`
//! handshakes as the donor, `--listen` as the joiner, each with its role's
//! files; the SST address's name check uses the joiner's certificate (the
//! one donors see).

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
use crate::tls::TlsRole;

use report::{Finding, Report};

/// Runs the check and returns its exit code (see `sst-tunnel check --help`).
pub async fn run(args: CheckArgs, shutdown: Shutdown) -> Result<ExitCode, Error> {
    let mut report = Report::new();
    let roles = local_checks(&args.config, &mut report).await;
    if let Some(target) = &args.peer {
        match &roles.donor {
            Some(s) => {
                let ours = crate::tls::files::certificates(&s.tls_keys.cert, &s.tls.cert)
                    .ok()
                    .and_then(|c| c.into_iter().next());
                peer::peer(s, target, ours.as_ref(), &mut report).await;
            }
            None => report.add(unresolved("--peer", TlsRole::Donor)),
        }
    }
    if let Some(spec) = &args.listen {
        match &roles.joiner {
            Some(s) => peer::listen(s, spec, args.once, &shutdown, &mut report).await,
            None => report.add(unresolved("--listen", TlsRole::Joiner)),
        }
    }
    Ok(report.exit_code())
}

fn unresolved(option: &str, role: TlsRole) -> Finding {
    Finding::fail(
        option,
        format!("no handshake attempted: the [sst] settings above do not resolve for the {role}"),
    )
}

/// The settings of each role, when they resolve.
#[derive(Debug, Default)]
pub struct RoleSettings {
    /// The joiner's (for `--listen`).
    pub joiner: Option<Settings>,
    /// The donor's (for `--peer`).
    pub donor: Option<Settings>,
}

/// Every check that needs no peer. Returns each role's settings when they
/// resolve (even if some check failed), for the handshake checks.
pub async fn local_checks(config: &ConfigArgs, report: &mut Report) -> RoleSettings {
    let files = match Settings::load_files(config) {
        Ok(f) => f,
        Err(e) => {
            report.add(Finding::fail("option files", crate::exit::chain(&e)));
            OptionFiles::default()
        }
    };
    environment::option_files(&files, report);
    environment::sst_method(&files, report);
    let (mut roles, sockopt_ok) = resolve(config, report);
    if sockopt_ok {
        if let Some(s) = roles.joiner.as_ref().or(roles.donor.as_ref()) {
            let origin = sockopt_origin(config, &s.files);
            tls::sockopt_findings(&s.tls.opts, &origin, report);
        }
    }
    let leaf = match (&roles.joiner, &roles.donor) {
        (Some(j), Some(d)) if same_files(j, d) => {
            tls::check(&j.tls, &j.tls_keys, None, report).leaf
        }
        (joiner, donor) => {
            let leaf = joiner
                .as_ref()
                .and_then(|j| tls::check(&j.tls, &j.tls_keys, Some(TlsRole::Joiner), report).leaf);
            if let Some(d) = donor {
                tls::check(&d.tls, &d.tls_keys, Some(TlsRole::Donor), report);
            }
            leaf
        }
    };
    if let Some(s) = roles.joiner.as_mut() {
        donors::check(s, leaf.as_deref(), report);
    }
    let target = address::derive(&files, report);
    match (&target, &leaf, &roles.joiner) {
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
    roles
}

/// Whether both roles use the same files, named by the same keys (the
/// lists of keys looked at or left unused may differ by role).
fn same_files(a: &Settings, b: &Settings) -> bool {
    let files = |s: &Settings| {
        let (t, k) = (&s.tls, &s.tls_keys);
        (
            t.ca_file.clone().map(|p| (p, k.ca_file.clone())),
            t.ca_path.clone().map(|p| (p, k.ca_path.clone())),
            (t.cert.clone(), k.cert.clone()),
            t.key.clone().map(|p| (p, k.key.clone())),
            k.only_role,
        )
    };
    files(a) == files(b)
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

/// [`Settings::resolve_role`] for both roles, with a bad `sockopt` reported
/// and then left out so that the other checks still run; the flag says
/// whether sockopt parsed. A failure common to both roles is reported once.
fn resolve(config: &ConfigArgs, report: &mut Report) -> (RoleSettings, bool) {
    let attempt = |c: &ConfigArgs, role| {
        Settings::load_files(c).and_then(|f| Settings::resolve_role(c, f, role))
    };
    let both = |c: &ConfigArgs| TlsRole::BOTH.map(|role| (role, attempt(c, role)));
    let mut results = both(config);
    let mut sockopt_ok = true;
    if let Some((_, Err(ConfigError::Sockopt { origin, source }))) = results
        .iter()
        .find(|(_, r)| matches!(r, Err(ConfigError::Sockopt { .. })))
    {
        report.add(tls::sockopt_error(origin, source));
        sockopt_ok = false;
        let without = ConfigArgs {
            sockopt: Some(String::new()),
            ..config.clone()
        };
        results = both(&without);
    }
    let mut roles = RoleSettings::default();
    let mut errors: Vec<(TlsRole, ConfigError)> = Vec::new();
    for (role, result) in results {
        match result {
            Ok(s) => match role {
                TlsRole::Joiner => roles.joiner = Some(s),
                TlsRole::Donor => roles.donor = Some(s),
            },
            // Already a FAIL line of the option-file check.
            Err(ConfigError::OptionFiles(_)) => {}
            Err(e) => errors.push((role, e)),
        }
    }
    match errors.as_slice() {
        [(_, a), (_, b)] if a.to_string() == b.to_string() => report.add(config_finding(a, None)),
        errors => {
            for (role, e) in errors {
                report.add(config_finding(e, Some(*role)));
            }
        }
    }
    (roles, sockopt_ok)
}

fn config_finding(e: &ConfigError, role: Option<TlsRole>) -> Finding {
    match e {
        ConfigError::MissingCert { .. } => match role {
            Some(role) => Finding::fail(format!("[sst] tcert ({role})"), e.to_string()),
            None => Finding::fail("[sst] tcert", e.to_string()),
        },
        ConfigError::BadValue { key, .. } => Finding::fail(key.as_str(), e.to_string()),
        _ => Finding::fail("[sst]", crate::exit::chain(e)),
    }
}
