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
mod tests {
    use super::*;

    fn parse(s: &str) -> SstAddress {
        SstAddress::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn joiner_bare_ipv4_defaults_to_4444() {
        let a = parse("127.0.0.1");
        assert_eq!(a.host, "127.0.0.1");
        assert_eq!(a.port, 4444);
        assert_eq!(a.module, None);
        assert_eq!(
            a.bind_target(),
            BindTarget::Ip("127.0.0.1:4444".parse().unwrap())
        );
        assert_eq!(
            a.ready_address().unwrap(),
            "127.0.0.1:4444/rsync_tunnel_sst"
        );
    }

    #[test]
    fn donor_address_with_port_and_module() {
        let a = parse("10.0.0.2:4444/rsync_tunnel_sst");
        assert_eq!((a.host.as_str(), a.port), ("10.0.0.2", 4444));
        assert_eq!(a.module.as_deref(), Some("rsync_tunnel_sst"));
        let a = parse("10.0.0.2:5555/xtrabackup_sst//1");
        assert_eq!(a.port, 5555);
        assert_eq!(a.module.as_deref(), Some("xtrabackup_sst"));
        assert_eq!(a.authority(), "10.0.0.2:5555");
    }

    #[test]
    fn ipv6_keeps_brackets_in_host_and_ready() {
        let a = parse("[::1]");
        assert_eq!(a.host, "[::1]");
        assert_eq!(a.host_unbracketed, "::1");
        assert_eq!(a.port, 4444);
        assert!(a.is_ipv6());
        assert_eq!(
            a.bind_target(),
            BindTarget::Ip("[::1]:4444".parse().unwrap())
        );
        assert_eq!(a.ready_address().unwrap(), "[::1]:4444/rsync_tunnel_sst");

        let a = parse("[fe80::1]:4567/rsync_tunnel_sst");
        assert_eq!((a.host.as_str(), a.port), ("[fe80::1]", 4567));
        assert_eq!(a.module.as_deref(), Some("rsync_tunnel_sst"));
        assert_eq!(a.bind_target().lookup_string(), "[fe80::1]:4567");

        let a = parse("[2001:db8::5]/rsync_tunnel_sst");
        assert_eq!(a.port, 4444);
        assert_eq!(a.module.as_deref(), Some("rsync_tunnel_sst"));
    }

    #[test]
    fn bare_ipv6_is_bracketed() {
        let a = parse("2001:db8::5");
        assert_eq!(a.host, "[2001:db8::5]");
        assert_eq!(a.port, 4444);
        assert_eq!(
            a.ready_address().unwrap(),
            "[2001:db8::5]:4444/rsync_tunnel_sst"
        );
    }

    #[test]
    fn hostnames_resolve_later() {
        let a = parse("node1.example:4444");
        assert_eq!(
            a.bind_target(),
            BindTarget::Name {
                host: "node1.example".into(),
                port: 4444
            }
        );
        assert_eq!(a.bind_target().lookup_string(), "node1.example:4444");
        assert!(!a.is_ipv6());
    }

    #[test]
    fn auth_prefix_is_split_at_the_last_at_and_masked() {
        let a = parse("node2:4f3abf1e3a0e31b27e42ac9a2bb8b8d6@10.0.0.2:4444/rsync_sst");
        let auth = a.auth.clone().unwrap();
        assert_eq!(auth.user, "node2");
        assert_eq!(auth.secret(), "4f3abf1e3a0e31b27e42ac9a2bb8b8d6");
        assert_eq!(a.host, "10.0.0.2");
        assert!(!format!("{a:?}").contains("4f3abf"));
        let e = SstAddress::parse("us er:pw@h").unwrap_err();
        assert_eq!(e.exit_code().code(), 21);
        assert!(!e.to_string().contains("pw"), "{e}");
    }

    #[test]
    fn port_zero_then_real_port() {
        let a = parse("127.0.0.1:0");
        assert_eq!(a.port, 0);
        assert_eq!(
            a.with_port(40001).ready_address().unwrap(),
            "127.0.0.1:40001/rsync_tunnel_sst"
        );
    }

    #[test]
    fn malformed_addresses_are_einval() {
        for (s, want) in [
            ("", "has no host"),
            (":4444", "has no host"),
            ("[::1", "malformed bracketed"),
            ("[]:4444", "malformed bracketed"),
            ("[::1]x", "malformed bracketed"),
            ("host:", "malformed port ''"),
            ("host:99999", "malformed port '99999'"),
            ("host:44a4/m", "malformed port '44a4'"),
        ] {
            let e = SstAddress::parse(s).unwrap_err();
            assert!(e.to_string().contains(want), "{s:?}: {e}");
            assert_eq!(e.exit_code(), ExitCode::Invalid, "{s:?}");
        }
    }

    #[test]
    fn unbracketed_ipv6_with_a_port_is_refused() {
        // Found by the sst_address fuzzer: `e::000202` read as host `e:`
        // port 202, which written back (`e::202`) is an IPv6 address.
        for s in ["e::000202", "fe80::1:12345", "1:2:3:4:5:6:7:12345", "a:b:5"] {
            let e = SstAddress::parse(s).unwrap_err();
            assert!(
                matches!(e, AddressError::UnbracketedIpv6 { .. }),
                "{s:?}: {e:?}"
            );
            assert!(e.to_string().contains("[addr]:port"), "{s:?}: {e}");
            assert_eq!(e.exit_code(), ExitCode::Invalid, "{s:?}");
        }
        // A whole unbracketed IPv6 address is still a host without a port.
        assert_eq!(parse("fe80::1:4444").host, "[fe80::1:4444]");
    }

    #[test]
    fn addresses_mariadbd_would_refuse_name_the_character() {
        let a = parse("[fe80::1%eth0]");
        let e = a.ready_address().unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::UnsafeValue);
        assert_eq!(e.exit_code().code(), 21);
        assert!(e.to_string().contains("contains '%'"), "{e}");
        let e = parse("höst").ready_address().unwrap_err();
        assert!(e.to_string().contains("contains 'ö'"), "{e}");
        assert!(check_address_chars("a_b-c.d:1/[x]").is_ok());
        assert!(check_address_chars("a b").is_err());
    }
}
