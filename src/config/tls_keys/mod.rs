//! Which file each TLS slot uses (CA file, CA path, certificate, private
//! key) and the key that named it: the legacy `[sst]` keys, else the TLS
//! options MariaDB users already have (`ssl-cert`, ...), as MariaDB's own
//! SST scripts read them (MDEV-25418; the role-specific ones since 10.11.19).
//!
//! Precedence, for one role (joiner or donor):
//! 1. The legacy keys `tca`, `tcapath`, `tcert`, `tkey`: each flag
//!    (`--tca`, ...) or else its `[sst]` key. When any of the four is set
//!    this way, they are the whole TLS configuration: no `ssl-*` option is
//!    read (those that are set are reported as unused), so a legacy pair is
//!    never mixed with a server's files.
//! 2. Otherwise each slot on its own, the first non-empty value of:
//!    `[sst] ssl-server-X` (joiner) or `ssl-client-X` (donor), the same
//!    option in the server groups (`[mysqld]`, `[server]`, `[mariadb]`,
//!    `[galera]`, ... read together as `my_print_defaults --mysqld` does),
//!    then `[sst] ssl-X`, then `ssl-X` in the server groups; X is `ca`,
//!    `capath`, `cert`, `key`. The CA slots are skipped when `[sst] sockopt`
//!    holds `cafile=`/`capath=`: they stand in for `tca`/`tcapath`, which rank
//!    above every `ssl-*` option.
//!
//! MariaDB's scripts (10.11.19) read the server groups before `[sst]`, and
//! apply the role-specific options even over the legacy keys; we read
//! `[sst]` first (the group that is about the SST) and let the legacy keys
//! win whole, as issue 11 asks. Within a group the last occurrence counts,
//! and an empty value (`ssl-ca=`, which overrides a default) counts as not
//! set. A CA value that is a directory or ends with `/` is used as a CA path
//! (when no CA path is set), as MariaDB does. Without a role (callers that
//! have none) only the generic options are read.

use std::path::{Path, PathBuf};

use super::mycnf::{OptionFiles, MYSQLD};
use super::{ConfigArgs, ConfigError, GROUP};
use crate::tls::{CnfKey, FileKeys, SslOption, TlsRole};

/// The TLS files of one role, each with the key that named it.
#[derive(Debug)]
pub(super) struct TlsFiles {
    pub ca_file: Option<PathBuf>,
    pub ca_path: Option<PathBuf>,
    pub cert: PathBuf,
    pub key: Option<PathBuf>,
    pub keys: FileKeys,
}

/// One of the four files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Ca,
    Capath,
    Cert,
    Key,
}

const SLOTS: [Slot; 4] = [Slot::Ca, Slot::Capath, Slot::Cert, Slot::Key];

impl Slot {
    fn legacy(self) -> CnfKey {
        match self {
            Slot::Ca => CnfKey::Tca,
            Slot::Capath => CnfKey::Tcapath,
            Slot::Cert => CnfKey::Tcert,
            Slot::Key => CnfKey::Tkey,
        }
    }

    /// The `[sst]` key, which is also the flag's name.
    fn legacy_name(self) -> &'static str {
        match self {
            Slot::Ca => "tca",
            Slot::Capath => "tcapath",
            Slot::Cert => "tcert",
            Slot::Key => "tkey",
        }
    }

    fn flag(self, cli: &ConfigArgs) -> Option<&Path> {
        match self {
            Slot::Ca => cli.tca.as_deref(),
            Slot::Capath => cli.tcapath.as_deref(),
            Slot::Cert => cli.tcert.as_deref(),
            Slot::Key => cli.tkey.as_deref(),
        }
    }

    /// MariaDB's options for this slot, in the order they are tried: the
    /// role-specific one first, then the generic one.
    fn ssl_names(self, role: Option<TlsRole>) -> Vec<String> {
        let suffix = match self {
            Slot::Ca => "ca",
            Slot::Capath => "capath",
            Slot::Cert => "cert",
            Slot::Key => "key",
        };
        let specific = role.map(|r| format!("{}-{suffix}", r.ssl_prefix()));
        specific
            .into_iter()
            .chain([format!("ssl-{suffix}")])
            .collect()
    }
}

/// A file found for a slot, with its key and, for the legacy keys, where it
/// was set (`--tcert` or the option file): used to say why `ssl-*` was not read.
struct Found {
    path: PathBuf,
    key: CnfKey,
    origin: String,
}

/// The legacy value of a slot: the flag, else `[sst]`.
fn legacy(cli: &ConfigArgs, files: &OptionFiles, slot: Slot) -> Option<Found> {
    if let Some(p) = slot.flag(cli) {
        return Some(Found {
            path: p.to_path_buf(),
            key: slot.legacy(),
            origin: format!("--{}", slot.legacy_name()),
        });
    }
    super::lookup(files, slot.legacy_name()).map(|f| Found {
        path: PathBuf::from(f.value),
        key: slot.legacy(),
        origin: format!("[{GROUP}] {} ({})", slot.legacy_name(), f.origin),
    })
}

/// The first MariaDB option that sets `slot` for `role`, in the order of
/// the module documentation.
fn fallback(files: &OptionFiles, slot: Slot, role: Option<TlsRole>) -> Option<Found> {
    slot.ssl_names(role).into_iter().find_map(|name| {
        [GROUP, MYSQLD].into_iter().find_map(|group| {
            let entry = files.get(&[group], &name)?;
            let value = entry.value.as_deref()?.trim();
            let origin = format!("{}:{}", entry.path.display(), entry.line);
            Some(Found {
                path: PathBuf::from(value),
                key: CnfKey::Ssl(Box::new(SslOption {
                    name: name.clone(),
                    group: entry.group.clone(),
                    origin: Some(origin.clone()),
                })),
                origin,
            })
        })
    })
}

/// `a, b or c` (with `conj` = `or`).
fn list(names: &[String], conj: &str) -> String {
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} {conj} {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Resolves the four files for `role`; `sockopt_ca` says whether `[sst]
/// sockopt` names a CA (then the `ssl-ca`/`ssl-capath` options are not
/// read); `searched` describes the option files read, for the error.
pub(super) fn resolve(
    cli: &ConfigArgs,
    files: &OptionFiles,
    role: Option<TlsRole>,
    sockopt_ca: bool,
    searched: impl Fn() -> String,
) -> Result<TlsFiles, ConfigError> {
    let legacy_set: Vec<(Slot, Found)> = SLOTS
        .into_iter()
        .filter_map(|slot| legacy(cli, files, slot).map(|f| (slot, f)))
        .collect();
    let mut keys = FileKeys::default();
    let mut found: Vec<(Slot, Found)> = Vec::new();
    let fallback_mode = legacy_set.is_empty();
    if fallback_mode {
        for slot in SLOTS {
            let skip = sockopt_ca && matches!(slot, Slot::Ca | Slot::Capath);
            if let Some(f) = fallback(files, slot, role).filter(|_| !skip) {
                found.push((slot, f));
            }
        }
        let names: Vec<String> = std::iter::once(format!("[{GROUP}] tkey"))
            .chain(Slot::Key.ssl_names(role))
            .collect();
        keys.key_names = list(&names, "or");
    } else {
        // MariaDB logs the options it leaves aside; so do we, with the role's start line.
        for slot in SLOTS {
            let used = legacy_set
                .iter()
                .find(|(s, _)| *s == slot)
                .map(|(_, f)| &f.path);
            if let Some(f) = fallback(files, slot, role) {
                if used != Some(&f.path) {
                    keys.unused.push(f.key.at(&f.path).to_string());
                }
            }
        }
        found = legacy_set;
    }
    let mut take = |slot: Slot| {
        let i = found.iter().position(|(s, _)| *s == slot)?;
        Some(found.swap_remove(i).1)
    };
    let (ca_file, ca_path, key) = (take(Slot::Ca), take(Slot::Capath), take(Slot::Key));
    let Some(cert) = take(Slot::Cert) else {
        return Err(missing_cert(cli, files, role, searched()));
    };
    let (ca_file, ca_path) = match (ca_file, ca_path) {
        // As MariaDB's scripts do: a CA that is a directory is a CA path.
        (Some(f), None)
            if f.path.is_dir() || f.path.as_os_str().to_string_lossy().ends_with('/') =>
        {
            (None, Some(f))
        }
        other => other,
    };
    let unpack = |f: Option<Found>, slot: &mut CnfKey| {
        f.map(|f| {
            *slot = f.key;
            f.path
        })
    };
    let ca_file = unpack(ca_file, &mut keys.ca_file);
    let ca_path = unpack(ca_path, &mut keys.ca_path);
    let key = unpack(key, &mut keys.key);
    // A certificate of this role's own, when the other role resolves to
    // another one: only this role's purpose applies to it.
    if let Some(role) = role.filter(|_| fallback_mode) {
        let theirs = fallback(files, Slot::Cert, Some(role.other()));
        if theirs.map(|f| f.path).as_ref() != Some(&cert.path) {
            keys.only_role = Some(role);
        }
    }
    keys.cert = cert.key;
    Ok(TlsFiles {
        ca_file,
        ca_path,
        cert: cert.path,
        key,
        keys,
    })
}

/// The error for no certificate at all, naming every key looked at.
fn missing_cert(
    cli: &ConfigArgs,
    files: &OptionFiles,
    role: Option<TlsRole>,
    searched: String,
) -> ConfigError {
    let set: Vec<String> = SLOTS
        .into_iter()
        .filter_map(|slot| legacy(cli, files, slot))
        .map(|f| f.origin)
        .collect();
    let cert_names = Slot::Cert.ssl_names(role);
    let looked_at = if set.is_empty() {
        format!(
            "looked for --tcert, [{GROUP}] tcert, then {} in [{GROUP}] and in the server groups \
             ({})",
            list(&cert_names, "and"),
            server_groups()
        )
    } else {
        format!(
            "neither --tcert nor [{GROUP}] tcert is set, and {} not read because {} set \
             (the legacy [{GROUP}] keys win whole when any is set, as in MariaDB's scripts)",
            match cert_names.as_slice() {
                [one] => format!("{one} is"),
                many => format!("{} are", list(many, "and")),
            },
            match set.as_slice() {
                [one] => format!("{one} is"),
                many => format!("{} are", many.join(", ")),
            }
        )
    };
    ConfigError::MissingCert {
        looked_at,
        searched,
    }
}

/// `[mysqld], [server], ...` for messages.
fn server_groups() -> String {
    super::mycnf::MYSQLD_GROUPS
        .iter()
        .map(|g| format!("[{g}]"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
