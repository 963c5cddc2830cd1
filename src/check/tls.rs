//! The TLS findings: certificate, key and CA readable and parsable, the key
//! matching the certificate, the validity window, the chain against the CA,
//! the extended key usage, the key file's permissions, `sockopt` (with a
//! WARN for each item weakening the identity check: `verify=0`, an empty
//! `commonname=`), and that both roles' TLS contexts build (a `cipher=`
//! leaving no authenticated suite is a FAIL there). Each check reuses the piece of
//! [`fn@crate::tls::preflight`] an SST runs at start, so both judge alike.
//! The first line lists every file with the key it came from (`[sst] tcert`,
//! or the MariaDB option standing in for it, `[mysqld] ssl-cert … (from
//! /etc/my.cnf:3)`), and every line after it names the file by that key.

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use super::report::{Finding, Level, Report};
use crate::exit::chain;
use crate::tls::files;
use crate::tls::policy::{subject_line, CertNames};
use crate::tls::preflight::{self, DateStatus};
use crate::tls::{FileKeys, SockOpts, TlsClient, TlsError, TlsRole, TlsServer, TlsSettings};

/// What the TLS checks leave for the others: our leaf, when it could be read.
pub struct TlsOutcome {
    /// The leaf certificate (first of the tcert file).
    pub leaf: Option<X509>,
    /// Whether any TLS check failed.
    pub failed: bool,
}

fn error_finding(e: &TlsError) -> Finding {
    Finding::from_message(Level::Fail, &chain(e))
}

/// The roles one run of the checks is for: `None` = both.
fn roles_text(role: Option<TlsRole>) -> String {
    match role {
        Some(r) => r.name().to_string(),
        None => "joiner and donor".to_string(),
    }
}

/// Runs the TLS checks on resolved settings, for `role` (`None`: the
/// settings serve both roles), each file named by its key in `keys`.
pub fn check(
    settings: &TlsSettings,
    keys: &FileKeys,
    role: Option<TlsRole>,
    report: &mut Report,
) -> TlsOutcome {
    let before = report.count(Level::Fail);
    report.add(Finding::ok(
        format!("tls files ({})", roles_text(role)),
        keys.describe(settings),
    ));
    let cert_subject = keys.cert.at(&settings.cert).to_string();
    let chain_certs = match files::certificates(&keys.cert, &settings.cert) {
        Ok(c) => {
            report.add(Finding::ok(&cert_subject, describe_chain(&c)));
            Some(c)
        }
        Err(e) => {
            report.add(error_finding(&e));
            None
        }
    };
    let key = check_key(settings, keys, report);
    if let (Some(c), Some(k)) = (&chain_certs, &key) {
        let source = preflight::key_source(settings, keys);
        match preflight::key_mismatch(settings, keys, &c[0], k) {
            Some(e) => report.add(error_finding(&e)),
            None => report.add(Finding::ok(
                source.key.at(&source.path).to_string(),
                format!(
                    "the private key matches the certificate in {}",
                    keys.cert.at(&settings.cert)
                ),
            )),
        }
    }
    if let Some(c) = &chain_certs {
        check_dates(settings, &c[0], &cert_subject, report);
        check_chain(settings, keys, c, &cert_subject, report);
    }
    if report.count(Level::Fail) == before {
        check_contexts(settings, keys, role, report);
    }
    TlsOutcome {
        leaf: chain_certs.and_then(|c| c.into_iter().next()),
        failed: report.count(Level::Fail) > before,
    }
}

fn describe_chain(chain: &[X509]) -> String {
    let leaf = &chain[0];
    let names = CertNames::from_cert(leaf).display_list();
    let extra = match chain.len() - 1 {
        0 => String::new(),
        1 => ", plus 1 intermediate".to_string(),
        n => format!(", plus {n} intermediates"),
    };
    format!(
        "certificate readable and parsable: subject {}, issuer {}, names [{}]{extra}",
        subject_line(leaf.subject_name()),
        subject_line(leaf.issuer_name()),
        names.join(", ")
    )
}

fn check_key(
    settings: &TlsSettings,
    keys: &FileKeys,
    report: &mut Report,
) -> Option<PKey<Private>> {
    let source = preflight::key_source(settings, keys);
    let subject = source.key.at(&source.path).to_string();
    let key = match source.load() {
        Ok(k) => k,
        Err(e) => {
            report.add(error_finding(&e));
            return None;
        }
    };
    report.add(Finding::ok(
        &subject,
        format!("private key readable and parsable ({} bits)", key.bits()),
    ));
    match preflight::key_permissions(&source.key, &source.path) {
        Some(w) => report.add(Finding::from_message(Level::Warn, &w)),
        None => report.add(Finding::ok(
            &subject,
            "the private key file is not readable by group or others",
        )),
    }
    Some(key)
}

fn check_dates(settings: &TlsSettings, leaf: &X509, subject: &str, report: &mut Report) {
    let status = match preflight::date_status(leaf) {
        Ok(s) => s,
        Err(e) => return report.add(error_finding(&e)),
    };
    // With verify=0 no peer checks the dates, as the SST's own preflight judges.
    let level = if settings.opts.verify {
        Level::Fail
    } else {
        Level::Warn
    };
    if let Some(p) = status.problem() {
        return report.add(Finding::new(level, subject, p));
    }
    if let Some(w) = status.expiry_warning() {
        return report.add(Finding::warn(subject, w));
    }
    if let DateStatus::Valid {
        not_after,
        days_left,
    } = status
    {
        report.add(Finding::ok(
            subject,
            format!("certificate valid until {not_after} ({days_left} days left)"),
        ));
    }
}

fn check_chain(
    settings: &TlsSettings,
    keys: &FileKeys,
    chain: &[X509],
    subject: &str,
    report: &mut Report,
) {
    let r = match preflight::chain_report(settings, keys, chain) {
        Ok(r) => r,
        Err(e) => return report.add(error_finding(&e)),
    };
    let verify = settings.opts.verify;
    for w in &r.identity {
        report.add(Finding::warn(
            format!("[sst] sockopt {}", w.option),
            w.text.as_str(),
        ));
    }
    for w in &r.warnings {
        if w.starts_with('[') {
            report.add(Finding::from_message(Level::Warn, w));
        } else {
            report.add(Finding::warn("[sst] tca", w.as_str()));
        }
    }
    match &r.chain {
        Some(why) => {
            let level = if verify && r.configured {
                Level::Fail
            } else {
                Level::Warn
            };
            report.add(Finding::new(
                level,
                subject,
                format!(
                    "certificate does not chain to {}: {why}; peers using the same CA will \
                     refuse it",
                    r.trust
                ),
            ));
            return;
        }
        None => report.add(Finding::ok(
            subject,
            format!(
                "chain verifies against {}{}",
                r.trust,
                if chain.len() > 1 {
                    " (with the intermediates from the certificate file)"
                } else {
                    ""
                }
            ),
        )),
    }
    if r.roles.is_empty() {
        report.add(Finding::ok(
            subject,
            match keys.only_role {
                None => "extended key usage allows both serverAuth (joiner) and clientAuth (donor)",
                Some(TlsRole::Joiner) => {
                    "extended key usage allows serverAuth (joiner), the one role this \
                     certificate serves (the donor has its own)"
                }
                Some(TlsRole::Donor) => {
                    "extended key usage allows clientAuth (donor), the one role this \
                     certificate serves (the joiner has its own)"
                }
            },
        ));
    }
    for (role, why) in &r.roles {
        // The same certificate serves both roles: a peer that checks the
        // purpose (every verifying peer) refuses this node in that role.
        let level = if verify { Level::Fail } else { Level::Warn };
        report.add(Finding::new(
            level,
            subject,
            preflight::eku_reason(role, why),
        ));
    }
}

/// Builds the contexts of `role` (`None`: both) as an SST would (cipher
/// strings, DH parameters and protocol range are only judged by OpenSSL
/// there; a `cipher=` leaving no authenticated suite fails here, naming the
/// item). Their start-up warnings were reported above, so they are not
/// logged again.
fn check_contexts(
    settings: &TlsSettings,
    keys: &FileKeys,
    role: Option<TlsRole>,
    report: &mut Report,
) {
    let built =
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            if role != Some(TlsRole::Donor) {
                TlsServer::with_keys(settings, keys)?;
            }
            if role != Some(TlsRole::Joiner) {
                TlsClient::with_keys(settings, keys, "localhost")?;
            }
            Ok::<(), TlsError>(())
        });
    match built {
        Ok(()) => report.add(Finding::ok(
            "[sst] sockopt",
            match role {
                None => "the joiner and donor TLS contexts build with these settings".to_string(),
                Some(r) => format!("the {r} TLS context builds with these settings"),
            },
        )),
        Err(e) => report.add(error_finding(&e)),
    }
}

/// The `sockopt` findings of a string that parsed: each ignored or adjusted item, or OK.
pub fn sockopt_findings(opts: &SockOpts, origin: &str, report: &mut Report) {
    let subject = if origin.is_empty() {
        "[sst] sockopt".to_string()
    } else {
        format!("[sst] sockopt ({origin})")
    };
    let mut warned = false;
    for w in &opts.warnings {
        // verify=0 is reported once, with the identity findings.
        if w.starts_with("verify=0") {
            continue;
        }
        warned = true;
        report.add(Finding::warn(&subject, w.as_str()));
    }
    if !warned {
        let detail = if origin.is_empty() {
            "not set: socat's defaults (verify on)"
        } else {
            "every item understood"
        };
        report.add(Finding::ok(&subject, detail));
    }
}

/// The `sockopt` finding of a string that did not parse.
pub fn sockopt_error(origin: &str, e: &crate::tls::SockoptError) -> Finding {
    Finding::fail(
        format!("[sst] sockopt ({origin})"),
        format!("item `{}`: {}", e.item, e.reason),
    )
}
