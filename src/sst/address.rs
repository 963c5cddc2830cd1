//! The SST address forms (sst-protocol.md §3.1, §4): `--address` as mariadbd
//! gives it to either role, the joiner's bind target, and the `ready` address
//! the donor will be handed.
//!
//! Form: `[user:pw@]host[:port][/module[/…]]`, where host is an IPv4 address,
//! a bracketed IPv6 address or a hostname. The joiner normally gets a bare
//! host (port 4444 by default); the donor gets what the joiner advertised
//! minus any `user:pw@` prefix (mariadbd strips it at the last `@`).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use crate::exit::ExitCode;
use crate::sst::MODULE;

/// The port used when the address names none (as `wsrep_sst_common`).
pub const DEFAULT_PORT: u16 = 4444;

/// A `user:secret@` prefix (stock scripts put `CN:hex` there in VERIFY modes).
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteAuth {
    /// The part before `:`.
    pub user: String,
    secret: String,
}

impl RemoteAuth {
    /// The part after `:`.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for RemoteAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteAuth")
            .field("user", &self.user)
            .field("secret", &"***")
            .finish()
    }
}

/// A parsed SST address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SstAddress {
    /// The `user:secret@` prefix, if any.
    pub auth: Option<RemoteAuth>,
    /// The host as given, brackets kept for IPv6 (`[::1]`).
    pub host: String,
    /// The host without brackets (`::1`), for resolving and certificate checks.
    pub host_unbracketed: String,
    /// The port, [`DEFAULT_PORT`] when none was given.
    pub port: u16,
    /// The first path segment after the port (`rsync_tunnel_sst`), if any.
    pub module: Option<String>,
}

/// What the joiner should listen on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindTarget {
    /// The host is an IP literal.
    Ip(SocketAddr),
    /// The host is a name, to be resolved (e.g. with `tokio::net::lookup_host`).
    Name {
        /// The hostname.
        host: String,
        /// The port.
        port: u16,
    },
}

impl BindTarget {
    /// `host:port` in the form `lookup_host`/`to_socket_addrs` accept.
    pub fn lookup_string(&self) -> String {
        match self {
            BindTarget::Ip(addr) => addr.to_string(),
            BindTarget::Name { host, port } => format!("{host}:{port}"),
        }
    }
}

/// Why an address cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// Nothing where the host should be.
    #[error("sst address '{address}' has no host")]
    NoHost {
        /// The address given.
        address: String,
    },
    /// `[` without a matching `]`, or junk after it.
    #[error("sst address '{address}' has a malformed bracketed ipv6 host")]
    Brackets {
        /// The address given.
        address: String,
    },
    /// More than one `:` outside brackets that is not a whole IPv6 address:
    /// `fe80::1:4444` could be a host with a port or a longer address.
    #[error("sst address '{address}' has an ipv6 host with a port but no brackets; write it as [addr]:port")]
    UnbracketedIpv6 {
        /// The address given.
        address: String,
    },
    /// The port is not a number from 0 to 65535.
    #[error("sst address '{address}' has a malformed port '{port}'")]
    Port {
        /// The address given.
        address: String,
        /// The port text.
        port: String,
    },
    /// The `user:secret@` prefix is not two `[A-Za-z0-9._-]` parts.
    #[error("sst address '{address}' has an auth prefix mariadbd would refuse")]
    Auth {
        /// The address with its secret masked.
        address: String,
    },
    /// A character outside `[A-Za-z0-9._:/[]-]`: mariadbd would refuse the address.
    #[error("sst address '{address}' contains '{ch}', which mariadbd refuses (allowed: A-Z a-z 0-9 . _ : / [ ] -)")]
    UnsafeChar {
        /// The address.
        address: String,
        /// The first offending character.
        ch: char,
    },
}

impl AddressError {
    /// Characters mariadbd would refuse are exit 21 (as the original's
    /// unsafe-value check); malformed addresses are EINVAL.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            AddressError::UnsafeChar { .. } | AddressError::Auth { .. } => ExitCode::UnsafeValue,
            _ => ExitCode::Invalid,
        }
    }
}

fn address_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '/' | '[' | ']' | '-')
}

fn auth_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Checks an address against the character class mariadbd enforces on the
/// donor (`[A-Za-z0-9._:/[]-]`), naming the first bad character.
pub fn check_address_chars(address: &str) -> Result<(), AddressError> {
    match address.chars().find(|&c| !address_char_ok(c)) {
        Some(ch) => Err(AddressError::UnsafeChar {
            address: address.to_owned(),
            ch,
        }),
        None => Ok(()),
    }
}

impl SstAddress {
    /// Parses `[user:pw@]host[:port][/module[/…]]`.
    pub fn parse(address: &str) -> Result<SstAddress, AddressError> {
        let (auth, rest) = match address.rsplit_once('@') {
            Some((auth, rest)) => (Some(parse_auth(address, auth)?), rest),
            None => (None, address),
        };
        let (host, host_unbracketed, after_host) = if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']').ok_or_else(|| AddressError::Brackets {
                address: address.to_owned(),
            })?;
            let bare = &inner[..end];
            let after = &inner[end + 1..];
            if bare.is_empty() || !(after.is_empty() || after.starts_with([':', '/'])) {
                return Err(AddressError::Brackets {
                    address: address.to_owned(),
                });
            }
            (format!("[{bare}]"), bare.to_owned(), after)
        } else {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let authority = &rest[..authority_end];
            if authority.matches(':').count() > 1 && authority.parse::<Ipv6Addr>().is_ok() {
                // A bare IPv6 literal (mariadbd brackets them, people may not): no port.
                (
                    format!("[{authority}]"),
                    authority.to_owned(),
                    &rest[authority_end..],
                )
            } else {
                let host_end = authority.rfind(':').unwrap_or(authority.len());
                let host = &authority[..host_end];
                if host.contains(':') {
                    // Written back with another port it would read differently.
                    return Err(AddressError::UnbracketedIpv6 {
                        address: address.to_owned(),
                    });
                }
                (host.to_owned(), host.to_owned(), &rest[host_end..])
            }
        };
        if host_unbracketed.is_empty() {
            return Err(AddressError::NoHost {
                address: address.to_owned(),
            });
        }
        let (port_text, path) = match after_host.strip_prefix(':') {
            Some(p) => match p.split_once('/') {
                Some((port, path)) => (Some(port), Some(path)),
                None => (Some(p), None),
            },
            None => (None, after_host.strip_prefix('/')),
        };
        let port = match port_text {
            Some(text) => text.parse::<u16>().map_err(|_| AddressError::Port {
                address: address.to_owned(),
                port: text.to_owned(),
            })?,
            None => DEFAULT_PORT,
        };
        let module = path
            .and_then(|p| p.split('/').next())
            .filter(|m| !m.is_empty())
            .map(str::to_owned);
        Ok(SstAddress {
            auth,
            host,
            host_unbracketed,
            port,
            module,
        })
    }

    /// True when the host is a bracketed IPv6 address.
    pub fn is_ipv6(&self) -> bool {
        self.host.starts_with('[')
    }

    /// The same address with another port (after binding port 0).
    pub fn with_port(&self, port: u16) -> SstAddress {
        SstAddress {
            port,
            ..self.clone()
        }
    }

    /// `host:port`, brackets kept.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Where the joiner listens: the IP literal, or a name to resolve.
    /// Whether to bind all interfaces for a non-local host (NAT) is the
    /// joiner's decision.
    pub fn bind_target(&self) -> BindTarget {
        match self.host_unbracketed.parse::<IpAddr>() {
            Ok(ip) => BindTarget::Ip(SocketAddr::new(ip, self.port)),
            Err(_) => BindTarget::Name {
                host: self.host_unbracketed.clone(),
                port: self.port,
            },
        }
    }

    /// The joiner's `ready` address, `HOST:PORT/rsync_tunnel_sst`, checked
    /// against the characters mariadbd accepts.
    pub fn ready_address(&self) -> Result<String, AddressError> {
        let ready = format!("{}:{}/{}", self.host, self.port, MODULE);
        check_address_chars(&ready)?;
        Ok(ready)
    }
}

fn parse_auth(address: &str, auth: &str) -> Result<RemoteAuth, AddressError> {
    let masked = || AddressError::Auth {
        address: match address.rsplit_once('@') {
            Some((a, rest)) => {
                let user = a.split(':').next().unwrap_or("");
                format!("{user}:***@{rest}")
            }
            None => address.to_owned(),
        },
    };
    let (user, secret) = auth.split_once(':').ok_or_else(masked)?;
    let ok = |s: &str| !s.is_empty() && s.chars().all(auth_char_ok);
    if !ok(user) || !ok(secret) {
        return Err(masked());
    }
    Ok(RemoteAuth {
        user: user.to_owned(),
        secret: secret.to_owned(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
