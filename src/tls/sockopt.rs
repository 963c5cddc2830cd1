//! socat's OPENSSL option grammar for `[sst] sockopt`, with the support /
//! ignore-with-warning / reject decisions of tls-compat.md §0 item 4 and §2.
//!
//! Grammar: comma-separated `name[=value]` items; names are
//! case-insensitive and may use socat's long (`openssl-verify`) or short
//! (`verify`) spelling; empty items are skipped and whitespace around items,
//! names and values is trimmed (socat breaks on it, we do not). A value runs
//! to the next comma, so cipher strings with `:` and `!` pass through.
//! Booleans are numeric as in socat (`verify`, `verify=1`, `verify=0`).
//! A supported option given twice is an error, as in socat.
//!
//! The same string is applied on both roles; options that only make sense on
//! one side (`no-sni`, `snihost`, `connect-timeout` on the connector) are
//! parsed here and simply unused by the other side.
//!
//! What the socket items do on each side: `pf` (in `family`) picks the
//! address family the donor resolves and connects with and the joiner
//! binds with; `connect-timeout`, `retry`, `interval` and `forever` (in
//! `retry`, which states their precedence over `sst-connect-timeout` and
//! `sst-connect-retry`) drive the donor's connect loop and the joiner's
//! retries of a busy port; the TCP tuning items are [`SockOpts::apply_tcp`].
//!
//! `cafile`/`capath` here may only stand in for a missing `[sst] tca` /
//! `tcapath`: see [`super::TlsSettings::merge_sockopt_ca`].

mod family;
mod names;
mod retry;
mod value;

pub use family::{select_family, AddressFamily, FamilyError};
pub use retry::{Exhausted, RetryPlan, DEFAULT_PAUSE, SOCAT_INTERVAL};

use std::collections::HashSet;
use std::io;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use tokio::net::TcpStream;

use names::{lookup, Opt};
use value::{Item, Version};

/// A TLS protocol version we can negotiate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// `compress=`: both values are no-ops with OpenSSL 3, which never compresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compress {
    /// `compress=auto` or absent: leave OpenSSL alone.
    #[default]
    Auto,
    /// `compress=none`: set `SSL_OP_NO_COMPRESSION`.
    None,
}

/// Keepalive idle time used when `keepidle` is not given (Linux's 2 h default is useless here).
pub const DEFAULT_KEEPIDLE: Duration = Duration::from_secs(60);
/// Keepalive probe interval used when `keepintvl` is not given.
pub const DEFAULT_KEEPINTVL: Duration = Duration::from_secs(10);
/// Keepalive probe count used when `keepcnt` is not given.
pub const DEFAULT_KEEPCNT: u32 = 6;

/// Parsed `sockopt`: typed values plus the warnings the parse produced.
#[derive(Clone, Debug, PartialEq)]
pub struct SockOpts {
    /// `verify` (default on): require and check the peer certificate.
    pub verify: bool,
    /// `commonname`/`cn`: the name the peer must carry; `Some("")` = no name check.
    pub commonname: Option<String>,
    /// `cafile`: only allowed when `[sst] tca`/`tcapath` are not configured.
    pub cafile: Option<PathBuf>,
    /// `capath`: only allowed when `[sst] tca`/`tcapath` are not configured.
    pub capath: Option<PathBuf>,
    /// `cipher`: OpenSSL cipher string for TLS ≤ 1.2.
    pub cipher: Option<String>,
    /// Lowest protocol offered (default and floor TLS 1.2).
    pub min_version: TlsVersion,
    /// Highest protocol offered (default TLS 1.3).
    pub max_version: TlsVersion,
    /// `no-sni`: the connector sends no SNI.
    pub no_sni: bool,
    /// `snihost`: SNI value different from the checked name (connector only).
    pub snihost: Option<String>,
    /// `dhparam`: DH parameters file for DHE suites.
    pub dhparam: Option<PathBuf>,
    /// `compress`.
    pub compress: Compress,
    /// `pf`: the address family to resolve, connect and bind with; see
    /// [`select_family`].
    pub pf: Option<AddressFamily>,
    /// `keepalive` (default on here, unlike socat).
    pub keepalive: bool,
    /// `keepidle`; `None` = [`DEFAULT_KEEPIDLE`].
    pub keepidle: Option<Duration>,
    /// `keepintvl`; `None` = [`DEFAULT_KEEPINTVL`].
    pub keepintvl: Option<Duration>,
    /// `keepcnt`; `None` = [`DEFAULT_KEEPCNT`].
    pub keepcnt: Option<u32>,
    /// `nodelay` (default on here, unlike socat).
    pub nodelay: bool,
    /// `rcvbuf`: `SO_RCVBUF` bytes.
    pub rcvbuf: Option<usize>,
    /// `sndbuf`: `SO_SNDBUF` bytes.
    pub sndbuf: Option<usize>,
    /// `linger`: `SO_LINGER`.
    pub linger: Option<Duration>,
    /// `retry`: retries of a failed connect or dropped handshake (donor) or
    /// of a busy port (joiner); see [`SockOpts::connect_retry`].
    pub retry: Option<u32>,
    /// `interval`: pause between retries (socat default 1 s).
    pub interval: Option<Duration>,
    /// `forever`: retry without a count, still within `sst-connect-retry`.
    pub forever: bool,
    /// `connect-timeout`: one connect attempt (donor only); see
    /// [`SockOpts::attempt_timeout`].
    pub connect_timeout: Option<Duration>,
    /// One line per ignored or adjusted item, to be logged at start.
    pub warnings: Vec<String>,
}

impl Default for SockOpts {
    fn default() -> Self {
        SockOpts {
            verify: true,
            commonname: None,
            cafile: None,
            capath: None,
            cipher: None,
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            no_sni: false,
            snihost: None,
            dhparam: None,
            compress: Compress::Auto,
            pf: None,
            keepalive: true,
            keepidle: None,
            keepintvl: None,
            keepcnt: None,
            nodelay: true,
            rcvbuf: None,
            sndbuf: None,
            linger: None,
            retry: None,
            interval: None,
            forever: false,
            connect_timeout: None,
            warnings: Vec::new(),
        }
    }
}

/// What kind of problem a `sockopt` item has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockoptErrorKind {
    /// Not a socat option we know.
    Unknown,
    /// A socat option we refuse on purpose.
    Rejected,
    /// A known option with a value we cannot use.
    BadValue,
    /// The same option twice (socat aborts on this too).
    Duplicate,
    /// The item repeats something configured elsewhere (`[sst] tca`).
    Conflict,
}

/// A `sockopt` item we cannot accept; the message names the item.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("[sst] sockopt item `{item}`: {reason}")]
pub struct SockoptError {
    /// The item as written (trimmed).
    pub item: String,
    /// The kind of problem.
    pub kind: SockoptErrorKind,
    /// What is wrong and what to do instead.
    pub reason: String,
}

/// The options we support, for the "unknown option" message.
pub const SUPPORTED: &str = "verify, commonname (cn), cafile, capath, cipher, min-version, \
     max-version, method, no-sni, snihost, dhparam, compress, pf, keepalive, keepidle, keepintvl, \
     keepcnt, nodelay, rcvbuf, sndbuf, linger, retry, interval, forever, connect-timeout \
     (accepted and ignored: fork, reuseaddr, egd, pseudo)";

/// Parses a `sockopt` string; the same as [`SockOpts::parse`].
pub fn parse(s: &str) -> Result<SockOpts, SockoptError> {
    SockOpts::parse(s)
}

impl FromStr for SockOpts {
    type Err = SockoptError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SockOpts::parse(s)
    }
}

impl SockOpts {
    /// Parses a `sockopt` string (an empty string gives the defaults).
    pub fn parse(s: &str) -> Result<SockOpts, SockoptError> {
        let mut opts = SockOpts::default();
        let mut seen = HashSet::new();
        for raw in s.split(',') {
            let item = raw.trim();
            if item.is_empty() {
                continue;
            }
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (item, None),
            };
            let lname = name.to_ascii_lowercase();
            let it = Item { item, name, value };
            let opt = lookup(&lname).ok_or_else(|| {
                it.error(
                    SockoptErrorKind::Unknown,
                    format!("unknown option `{name}`; supported: {SUPPORTED}"),
                )
            })?;
            match opt {
                Opt::Ignored(why) => {
                    opts.warnings
                        .push(format!("sockopt item `{item}` ignored: {why}"));
                    continue;
                }
                Opt::Rejected(why) => {
                    return Err(it.error(SockoptErrorKind::Rejected, why.to_string()))
                }
                _ => {}
            }
            if !seen.insert(opt) {
                return Err(it.error(
                    SockoptErrorKind::Duplicate,
                    format!("`{name}` is given twice (socat aborts on this too)"),
                ));
            }
            opts.apply(opt, &it)?;
        }
        if opts.min_version > opts.max_version {
            return Err(SockoptError {
                item: "min-version".to_string(),
                kind: SockoptErrorKind::BadValue,
                reason: "min-version is above max-version".to_string(),
            });
        }
        if !opts.verify {
            opts.warnings.push(
                "verify=0: peer certificates are not checked; the transfer is encrypted but \
                 NOT authenticated"
                    .to_string(),
            );
        }
        Ok(opts)
    }

    fn apply(&mut self, opt: Opt, it: &Item<'_>) -> Result<(), SockoptError> {
        match opt {
            Opt::Verify => self.verify = it.boolean()?,
            Opt::CommonName => self.commonname = Some(it.value.unwrap_or("").to_string()),
            Opt::CaFile => self.cafile = Some(PathBuf::from(it.string()?)),
            Opt::CaPath => self.capath = Some(PathBuf::from(it.string()?)),
            Opt::Cipher => self.cipher = Some(it.string()?.to_string()),
            Opt::MinVersion => match it.version()? {
                Version::Old => {
                    self.warnings.push(format!(
                        "sockopt item `{}`: versions below TLS1.2 are never offered; \
                         the floor stays TLS1.2",
                        it.item
                    ));
                    self.min_version = TlsVersion::Tls12;
                }
                Version::Tls(v) => self.min_version = v,
            },
            Opt::MaxVersion => match it.version()? {
                Version::Old => {
                    return Err(it.error(
                        SockoptErrorKind::Rejected,
                        "a max-version below TLS1.2 is not supported (TLS 1.0/1.1 fail at \
                         OpenSSL security level 2)"
                            .to_string(),
                    ))
                }
                Version::Tls(v) => self.max_version = v,
            },
            Opt::Method => self.method(it)?,
            Opt::NoSni => self.no_sni = it.boolean()?,
            Opt::SniHost => self.snihost = Some(it.string()?.to_string()),
            Opt::DhParam => self.dhparam = Some(PathBuf::from(it.string()?)),
            Opt::Compress => {
                self.compress = match it.string()?.to_ascii_lowercase().as_str() {
                    "none" => Compress::None,
                    "auto" => Compress::Auto,
                    _ => {
                        return Err(it.error(
                            SockoptErrorKind::BadValue,
                            "unknown compression method; use compress=none or compress=auto"
                                .to_string(),
                        ))
                    }
                }
            }
            Opt::Pf => {
                self.pf = Some(match it.string()?.to_ascii_lowercase().as_str() {
                    "ip4" | "ipv4" | "inet" | "inet4" | "2" => AddressFamily::Ipv4,
                    "ip6" | "ipv6" | "inet6" | "10" => AddressFamily::Ipv6,
                    _ => {
                        return Err(it.error(
                            SockoptErrorKind::BadValue,
                            "unknown protocol family; use pf=ip4 or pf=ip6".to_string(),
                        ))
                    }
                })
            }
            Opt::KeepAlive => self.keepalive = it.boolean()?,
            Opt::KeepIdle => self.keepidle = Some(Duration::from_secs(it.number()?)),
            Opt::KeepIntvl => self.keepintvl = Some(Duration::from_secs(it.number()?)),
            Opt::KeepCnt => self.keepcnt = Some(it.small()?),
            Opt::NoDelay => self.nodelay = it.boolean()?,
            Opt::RcvBuf => self.rcvbuf = Some(it.size()?),
            Opt::SndBuf => self.sndbuf = Some(it.size()?),
            Opt::Linger => self.linger = Some(Duration::from_secs(it.number()?)),
            Opt::Retry => self.retry = Some(it.small()?),
            Opt::Interval => self.interval = Some(it.seconds()?),
            Opt::Forever => self.forever = it.boolean()?,
            Opt::ConnectTimeout => self.connect_timeout = Some(it.seconds()?),
            Opt::Ignored(_) | Opt::Rejected(_) => {}
        }
        Ok(())
    }

    fn method(&mut self, it: &Item<'_>) -> Result<(), SockoptError> {
        let v = it.string()?.to_ascii_lowercase().replace('v', "");
        match v.as_str() {
            "tls1.2" => {
                self.min_version = TlsVersion::Tls12;
                self.max_version = TlsVersion::Tls12;
                self.warnings.push(format!(
                    "sockopt item `{}`: pins TLS 1.2; prefer min-version=TLS1.2,max-version=TLS1.2",
                    it.item
                ));
            }
            "ssl23" => self.warnings.push(format!(
                "sockopt item `{}`: means the default (TLS 1.2 to 1.3); use min-version/max-version",
                it.item
            )),
            _ => {
                return Err(it.error(
                    SockoptErrorKind::Rejected,
                    "only method=TLS1.2 or method=SSL23 are accepted; use min-version and \
                     max-version"
                        .to_string(),
                ))
            }
        }
        Ok(())
    }

    /// Applies the TCP options to a connected socket: keepalive (on by
    /// default, 60 s idle, 10 s interval, 6 probes unless configured),
    /// `TCP_NODELAY` (on unless `nodelay=0`), `rcvbuf`/`sndbuf`, `linger`.
    pub fn apply_tcp(&self, tcp: &TcpStream) -> io::Result<()> {
        let sock = SockRef::from(tcp);
        sock.set_nodelay(self.nodelay)?;
        if self.keepalive {
            let ka = TcpKeepalive::new()
                .with_time(self.keepidle.unwrap_or(DEFAULT_KEEPIDLE))
                .with_interval(self.keepintvl.unwrap_or(DEFAULT_KEEPINTVL))
                .with_retries(self.keepcnt.unwrap_or(DEFAULT_KEEPCNT));
            sock.set_tcp_keepalive(&ka)?;
        } else {
            sock.set_keepalive(false)?;
        }
        if let Some(n) = self.rcvbuf {
            sock.set_recv_buffer_size(n)?;
        }
        if let Some(n) = self.sndbuf {
            sock.set_send_buffer_size(n)?;
        }
        if let Some(d) = self.linger {
            sock.set_linger(Some(d))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
