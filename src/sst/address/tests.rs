//! Tests for [`super`]: the address forms both roles are given (IPv4,
//! bracketed and bare IPv6, hostnames, auth prefixes, modules), the `ready`
//! address, and the refusals with their exit codes.

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
