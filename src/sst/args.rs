//! mariadbd's argv for the SST method (sst-protocol.md §1.2–§1.6), parsed into
//! a typed [`SstArgs`].
//!
//! mariadbd runs the method through `sh -c`, so what arrives is a clean argv:
//! quoting (10.4-era `'%d'` numbers, 10.11's bare ones) is already removed.
//! Options come in any order, as `--opt value` or `--opt=value`, with `_` and
//! `-` equivalent in names. Everything after `--mysqld-args` belongs to
//! mysqld; it is mined for the server paths ([`ServerArgs`]) with mysqld's
//! own rules and otherwise left alone.
//!
//! Unknown options are tolerated and collected in [`SstArgs::unknown`] so the
//! caller can log them. mariadbd passes every option as `--opt value` except
//! the flag `--bypass`, so an unknown `--opt` followed by a word that does not
//! start with `-` takes that word as its value (an unknown flag followed by a
//! stray positional word is far less likely than a new value-taking option).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::exit::ExitCode;
use crate::sst::protocol::{State, StateError};

mod mysqld;

pub use mysqld::{mine_mysqld_args, LogBin, ServerArgs};
use mysqld::{non_empty, server_opt, set_server, split_long, strip_trailing_slashes, ServerOpt};

/// Which side of the transfer mariadbd asked for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// The node receiving the state.
    Joiner,
    /// The node sending the state.
    Donor,
}

/// The MariaDB option-file trio, passed only when mariadbd itself got them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefaultsFiles {
    /// `--defaults-file`: read only this file.
    pub file: Option<PathBuf>,
    /// `--defaults-extra-file`: read this file after the global ones.
    pub extra_file: Option<PathBuf>,
    /// `--defaults-group-suffix`: also read `[<group><suffix>]`.
    pub group_suffix: Option<String>,
}

/// The method's argv, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SstArgs {
    /// `--role`.
    pub role: Role,
    /// `--address`, verbatim (parse it with [`crate::sst::address::SstAddress::parse`]).
    pub address: String,
    /// `--datadir` with trailing `/` stripped (falls back to the one in `--mysqld-args`).
    pub datadir: PathBuf,
    /// `--defaults-file`, `--defaults-extra-file`, `--defaults-group-suffix`.
    pub defaults: DefaultsFiles,
    /// `--parent`: mariadbd's pid (the joiner watches it; our parent is `sh`).
    pub parent: Option<u32>,
    /// `--progress 1`: `total`/`complete` lines are wanted (absent before 10.11).
    pub progress: bool,
    /// `--local-port`: the donor's SQL port.
    pub local_port: Option<u16>,
    /// `--socket`: the donor's unix socket.
    pub socket: Option<PathBuf>,
    /// `--gtid`: `uuid:seqno`, verbatim (see [`SstArgs::gtid_state`]).
    pub gtid: Option<String>,
    /// `--gtid-domain-id`.
    pub gtid_domain_id: Option<u32>,
    /// `--binlog`: the binlog base name as configured (set only when `log_bin` is on).
    pub binlog: Option<PathBuf>,
    /// `--binlog-index`.
    pub binlog_index: Option<PathBuf>,
    /// `--bypass`: IST, no data transfer.
    pub bypass: bool,
    /// Server paths from the command line (top-level forms over `--mysqld-args`).
    pub server: ServerArgs,
    /// Everything after `--mysqld-args`, verbatim.
    pub mysqld_args: Vec<OsString>,
    /// Unknown words before `--mysqld-args` (options with the value they took), for logging.
    pub unknown: Vec<String>,
    /// Recognised options this method does not use (`--auth`, `--password`, …): names only,
    /// their values are dropped because some carry secrets.
    pub ignored: Vec<String>,
}

/// Why mariadbd's argv could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// `--role` was neither `joiner` nor `donor`.
    #[error("unrecognized role '{value}' (expected joiner or donor)")]
    Role {
        /// The value given.
        value: String,
    },
    /// No `--datadir` anywhere (the original exits ENOENT).
    #[error("--datadir not given")]
    MissingDatadir,
    /// A mandatory option is absent.
    #[error("{option} not given")]
    MissingOption {
        /// The option, with its dashes.
        option: &'static str,
    },
    /// A value-taking option ended the argv.
    #[error("{option} needs a value")]
    MissingValue {
        /// The option, with its dashes.
        option: String,
    },
    /// A numeric option's value is not a number in range.
    #[error("{option} '{value}' is not a valid number")]
    BadNumber {
        /// The option, with its dashes.
        option: &'static str,
        /// The value given.
        value: String,
        /// The parse failure.
        #[source]
        source: std::num::ParseIntError,
    },
    /// A textual option's value is not UTF-8.
    #[error("{option} value is not valid UTF-8")]
    NotUnicode {
        /// The option, with its dashes.
        option: &'static str,
    },
    /// `--gtid` does not hold a `uuid:seqno`.
    #[error("--gtid is unusable")]
    Gtid(#[source] StateError),
}

impl ArgsError {
    /// Missing `--datadir` is ENOENT as in the original; everything else EINVAL.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            ArgsError::MissingDatadir => ExitCode::NotFound,
            _ => ExitCode::Invalid,
        }
    }
}

/// How a top-level option consumes its argument.
enum Known {
    Value(Opt),
    Flag,
    Ignored,
}

/// The value-taking top-level options we use.
#[derive(Copy, Clone)]
enum Opt {
    Role,
    Address,
    Datadir,
    DefaultsFile,
    DefaultsExtraFile,
    DefaultsGroupSuffix,
    Parent,
    Progress,
    LocalPort,
    Socket,
    Gtid,
    GtidDomainId,
    Binlog,
    BinlogIndex,
    Server(ServerOpt),
}

fn known(name: &str) -> Option<Known> {
    Some(Known::Value(match name {
        "role" => Opt::Role,
        "address" => Opt::Address,
        "datadir" => Opt::Datadir,
        "defaults-file" => Opt::DefaultsFile,
        "defaults-extra-file" => Opt::DefaultsExtraFile,
        "defaults-group-suffix" => Opt::DefaultsGroupSuffix,
        "parent" => Opt::Parent,
        "progress" => Opt::Progress,
        "local-port" => Opt::LocalPort,
        "socket" => Opt::Socket,
        "gtid" => Opt::Gtid,
        "gtid-domain-id" => Opt::GtidDomainId,
        "binlog" => Opt::Binlog,
        "binlog-index" => Opt::BinlogIndex,
        "bypass" => return Some(Known::Flag),
        // Parsed by wsrep_sst_common but never passed to rsync methods by 10.11.
        "auth"
        | "host"
        | "port"
        | "user"
        | "password"
        | "innodb-buffer-pool-filename"
        | "innodb-buffer-pool-size" => return Some(Known::Ignored),
        other => Opt::Server(server_opt(other)?),
    }))
}

fn text(option: &'static str, value: OsString) -> Result<String, ArgsError> {
    value
        .into_string()
        .map_err(|_| ArgsError::NotUnicode { option })
}

/// Parses a number, tolerating one pair of literal quotes (argv built without a shell).
fn number<T: std::str::FromStr<Err = std::num::ParseIntError>>(
    option: &'static str,
    value: OsString,
) -> Result<T, ArgsError> {
    let raw = text(option, value)?;
    let trimmed = raw.trim();
    let unquoted = ['\'', '"']
        .iter()
        .find_map(|q| {
            trimmed
                .strip_prefix(*q)
                .and_then(|rest| rest.strip_suffix(*q))
        })
        .unwrap_or(trimmed);
    unquoted.parse().map_err(|source| ArgsError::BadNumber {
        option,
        value: raw.clone(),
        source,
    })
}

impl SstArgs {
    /// Parses the method's arguments (argv without the program name, e.g.
    /// `std::env::args_os().skip(1)`).
    pub fn parse<I, T>(argv: I) -> Result<SstArgs, ArgsError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let mut words = argv.into_iter().map(Into::into);
        let mut role = None;
        let mut address = None;
        let mut datadir = None;
        let mut defaults = DefaultsFiles::default();
        let mut parent = None;
        let mut progress = false;
        let mut local_port = None;
        let mut socket = None;
        let mut gtid = None;
        let mut gtid_domain_id = None;
        let mut binlog = None;
        let mut binlog_index = None;
        let mut bypass = false;
        let mut top = ServerArgs::default();
        let mut mysqld_args = Vec::new();
        let mut unknown = Vec::new();
        let mut ignored = Vec::new();

        let mut pending: Option<OsString> = None;
        while let Some(word) = pending.take().or_else(|| words.next()) {
            if word.as_bytes() == b"--mysqld-args" {
                mysqld_args.extend(words.by_ref());
                break;
            }
            let Some((name, inline)) = split_long(&word) else {
                unknown.push(word.to_string_lossy().into_owned());
                continue;
            };
            let Some(kind) = known(&name) else {
                // Unknown: take an inline value, or the next word unless it is an option.
                let mut shown = word.to_string_lossy().into_owned();
                if inline.is_none() {
                    if let Some(next) = words.next() {
                        if next.as_bytes().starts_with(b"-") {
                            pending = Some(next);
                        } else {
                            shown.push(' ');
                            shown.push_str(&next.to_string_lossy());
                        }
                    }
                }
                unknown.push(shown);
                continue;
            };
            let opt = match kind {
                Known::Flag => {
                    bypass = true;
                    continue;
                }
                Known::Ignored => {
                    if inline.is_none() && words.next().is_none() {
                        return Err(ArgsError::MissingValue {
                            option: format!("--{name}"),
                        });
                    }
                    ignored.push(format!("--{name}"));
                    continue;
                }
                Known::Value(opt) => opt,
            };
            // Like wsrep_sst_common, the word after a value-taking option is its value.
            let value = match inline.or_else(|| words.next()) {
                Some(v) => v,
                None => {
                    return Err(ArgsError::MissingValue {
                        option: format!("--{name}"),
                    })
                }
            };
            match opt {
                Opt::Role => role = Some(text("--role", value)?),
                Opt::Address => address = Some(text("--address", value)?),
                Opt::Datadir => datadir = non_empty(value).map(strip_trailing_slashes),
                Opt::DefaultsFile => defaults.file = non_empty(value).map(PathBuf::from),
                Opt::DefaultsExtraFile => defaults.extra_file = non_empty(value).map(PathBuf::from),
                Opt::DefaultsGroupSuffix => {
                    defaults.group_suffix = non_empty(value)
                        .map(|v| text("--defaults-group-suffix", v))
                        .transpose()?
                }
                Opt::Parent => parent = Some(number::<u32>("--parent", value)?),
                Opt::Progress => progress = number::<u64>("--progress", value)? != 0,
                Opt::LocalPort => local_port = Some(number::<u16>("--local-port", value)?),
                Opt::Socket => socket = non_empty(value).map(PathBuf::from),
                Opt::Gtid => gtid = non_empty(value).map(|v| text("--gtid", v)).transpose()?,
                Opt::GtidDomainId => {
                    gtid_domain_id = Some(number::<u32>("--gtid-domain-id", value)?)
                }
                Opt::Binlog => binlog = non_empty(value).map(PathBuf::from),
                Opt::BinlogIndex => binlog_index = non_empty(value).map(PathBuf::from),
                Opt::Server(s) => set_server(&mut top, s, Some(value)),
            }
        }

        let role = match role.as_deref() {
            Some("joiner") => Role::Joiner,
            Some("donor") => Role::Donor,
            Some(other) => {
                return Err(ArgsError::Role {
                    value: other.to_owned(),
                })
            }
            None => return Err(ArgsError::MissingOption { option: "--role" }),
        };
        let server = top.or(mine_mysqld_args(&mysqld_args));
        let datadir = datadir
            .or_else(|| server.datadir.clone())
            .ok_or(ArgsError::MissingDatadir)?;
        let address = address.ok_or(ArgsError::MissingOption {
            option: "--address",
        })?;
        Ok(SstArgs {
            role,
            address,
            datadir,
            defaults,
            parent,
            progress,
            local_port,
            socket,
            gtid,
            gtid_domain_id,
            binlog,
            binlog_index,
            bypass,
            server,
            mysqld_args,
            unknown,
            ignored,
        })
    }

    /// The state `--gtid` + `--gtid-domain-id` describe: what an IST donor
    /// reports (`done <state>`) and sends in the marker.
    pub fn gtid_state(&self) -> Result<State, ArgsError> {
        let gtid = self
            .gtid
            .as_deref()
            .ok_or(ArgsError::MissingOption { option: "--gtid" })?;
        State::from_gtid(gtid, self.gtid_domain_id).map_err(ArgsError::Gtid)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
