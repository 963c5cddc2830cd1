//! `pf`: the address family the donor resolves and connects with, and the
//! joiner binds with (socat's `pf`, tls-compat.md §2b).
//!
//! Without `pf` the family comes from the address: an IP literal is used as
//! written, a name gives every address the resolver returns, in its order.
//! With `pf` a name keeps only the addresses of that family (a name with
//! none of them is an error naming the item), and an IP literal of the
//! other family is a configuration error naming the item and the address:
//! socat 1.7.4 fails there too ("Address family for hostname not
//! supported"), and quietly using the literal would hide a wrong setting.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::exit::ExitCode;

/// `pf=`: the address family to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressFamily {
    /// `pf=ip4` (`ipv4`, `inet`, `inet4`, `2`).
    Ipv4,
    /// `pf=ip6` (`ipv6`, `inet6`, `10`).
    Ipv6,
}

impl AddressFamily {
    /// The family of `ip`.
    pub fn of(ip: IpAddr) -> AddressFamily {
        match ip {
            IpAddr::V4(_) => AddressFamily::Ipv4,
            IpAddr::V6(_) => AddressFamily::Ipv6,
        }
    }
}

impl fmt::Display for AddressFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressFamily::Ipv4 => "IPv4",
            AddressFamily::Ipv6 => "IPv6",
        })
    }
}

/// An address that `pf` rules out.
#[derive(Debug, thiserror::Error)]
pub enum FamilyError {
    /// `pf` names one family and the address is an IP literal of the other.
    #[error(
        "[sst] sockopt item `pf` asks for {wanted}, but {address} is an {} address; \
         remove `pf` or give an {wanted} address", other(*wanted)
    )]
    Conflict {
        /// The address as given (`[::1]:4444`).
        address: String,
        /// The family `pf` asks for.
        wanted: AddressFamily,
    },
    /// The name resolved, but to no address of the family `pf` asks for.
    #[error("{address} resolves to no {wanted} address ([sst] sockopt item `pf`)")]
    NoAddress {
        /// The address as given (`db2.example:4444`).
        address: String,
        /// The family `pf` asks for.
        wanted: AddressFamily,
    },
}

impl FamilyError {
    /// A conflict is a configuration error (22); a name without an address
    /// of the family is reported as unreachable (111), as any name that
    /// does not resolve.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            FamilyError::Conflict { .. } => ExitCode::Invalid,
            FamilyError::NoAddress { .. } => ExitCode::Unreachable,
        }
    }
}

fn other(family: AddressFamily) -> AddressFamily {
    match family {
        AddressFamily::Ipv4 => AddressFamily::Ipv6,
        AddressFamily::Ipv6 => AddressFamily::Ipv4,
    }
}

/// The addresses to use for `host` under `pf`, from those it resolved to
/// (`resolved`; an IP literal resolves to itself). `address` is `host:port`
/// as given, for the messages.
pub fn select_family(
    pf: Option<AddressFamily>,
    host: &str,
    address: &str,
    resolved: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, FamilyError> {
    let Some(wanted) = pf else {
        return Ok(resolved.into_iter().collect());
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        if AddressFamily::of(ip) != wanted {
            return Err(FamilyError::Conflict {
                address: address.to_string(),
                wanted,
            });
        }
    }
    let mut any = false;
    let kept: Vec<SocketAddr> = resolved
        .into_iter()
        .inspect(|_| any = true)
        .filter(|a| AddressFamily::of(a.ip()) == wanted)
        .collect();
    if any && kept.is_empty() {
        return Err(FamilyError::NoAddress {
            address: address.to_string(),
            wanted,
        });
    }
    Ok(kept)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn both() -> Vec<SocketAddr> {
        vec![sa("[::1]:4444"), sa("127.0.0.1:4444")]
    }

    #[test]
    fn without_pf_everything_in_resolver_order() {
        let got = select_family(None, "db", "db:4444", both()).unwrap();
        assert_eq!(got, both());
    }

    #[test]
    fn pf_keeps_its_family_of_a_name() {
        let v4 = select_family(Some(AddressFamily::Ipv4), "db", "db:4444", both()).unwrap();
        assert_eq!(v4, vec![sa("127.0.0.1:4444")]);
        let v6 = select_family(Some(AddressFamily::Ipv6), "db", "db:4444", both()).unwrap();
        assert_eq!(v6, vec![sa("[::1]:4444")]);
    }

    #[test]
    fn a_literal_of_the_other_family_is_a_configuration_error() {
        let e = select_family(
            Some(AddressFamily::Ipv4),
            "::1",
            "[::1]:4444",
            [sa("[::1]:4444")],
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::Invalid);
        let text = e.to_string();
        assert!(text.contains("sockopt item `pf`"), "{text}");
        assert!(text.contains("[::1]:4444"), "{text}");
        assert!(text.contains("asks for IPv4"), "{text}");
        assert!(text.contains("an IPv6 address"), "{text}");
        let e = select_family(
            Some(AddressFamily::Ipv6),
            "127.0.0.1",
            "127.0.0.1:4444",
            [sa("127.0.0.1:4444")],
        )
        .unwrap_err();
        assert!(matches!(e, FamilyError::Conflict { .. }), "{e}");
        // The same family is fine.
        let ok = select_family(Some(AddressFamily::Ipv6), "::1", "[::1]:1", [sa("[::1]:1")]);
        assert_eq!(ok.unwrap(), vec![sa("[::1]:1")]);
    }

    #[test]
    fn a_name_without_an_address_of_the_family_names_the_item() {
        let e = select_family(
            Some(AddressFamily::Ipv6),
            "db",
            "db:4444",
            [sa("127.0.0.1:4444")],
        )
        .unwrap_err();
        assert!(matches!(e, FamilyError::NoAddress { .. }), "{e}");
        assert_eq!(e.exit_code(), ExitCode::Unreachable);
        assert_eq!(
            e.to_string(),
            "db:4444 resolves to no IPv6 address ([sst] sockopt item `pf`)"
        );
    }
}
