//! The matrix of tls-compat.md §3.3, row by row, plus the case relaxation.

use super::*;
use crate::pki::{Ca, LeafSpec};

fn cn(cn: &str) -> CertNames {
    CertNames {
        sans: Vec::new(),
        cns: vec![cn.to_string()],
    }
}

fn with(cns: &[&str], sans: &[San]) -> CertNames {
    CertNames {
        sans: sans.to_vec(),
        cns: cns.iter().map(|s| s.to_string()).collect(),
    }
}

fn dns(s: &str) -> San {
    San::Dns(s.to_string())
}

fn ip(s: &str) -> San {
    San::Ip(s.parse().unwrap())
}

fn ok(names: &CertNames, expected: &str) -> NameMatch {
    match_names(names, expected).unwrap_or_else(|e| panic!("{expected}: {e}"))
}

fn fails(names: &CertNames, expected: &str) -> NameMismatch {
    match match_names(names, expected) {
        Ok(m) => panic!("{expected} unexpectedly matched {m:?}"),
        Err(e) => e,
    }
}

#[test]
fn cn_only_matches_its_own_name_and_not_the_ip() {
    let n = cn("localhost");
    assert_eq!(
        ok(&n, "localhost").rule,
        MatchRule::CommonName {
            wildcard: Wildcard::None,
            despite_san: false
        }
    );
    fails(&n, "127.0.0.1");
}

#[test]
fn cn_holding_an_ip_matches_that_ip_as_text() {
    let n = cn("127.0.0.1");
    ok(&n, "127.0.0.1");
    fails(&n, "localhost");
}

#[test]
fn san_dns_and_san_ip_both_match() {
    let n = with(&["othername"], &[dns("localhost"), ip("127.0.0.1")]);
    assert_eq!(ok(&n, "localhost").rule, MatchRule::SanDns(Wildcard::None));
    assert_eq!(ok(&n, "127.0.0.1").rule, MatchRule::SanIp);
    fails(&n, "othername.test");
}

#[test]
fn cn_is_used_even_when_sans_exist_and_flagged_non_rfc() {
    let n = with(&["localhost"], &[dns("something.else")]);
    let m = ok(&n, "localhost");
    assert_eq!(
        m.rule,
        MatchRule::CommonName {
            wildcard: Wildcard::None,
            despite_san: true
        }
    );
    assert!(m.non_rfc_reason().is_some());
}

#[test]
fn san_ipv4_matches_the_address_only() {
    let n = with(&["nomatch"], &[ip("127.0.0.1")]);
    ok(&n, "127.0.0.1");
    fails(&n, "localhost");
}

#[test]
fn san_ipv6_matches_in_binary_with_or_without_brackets() {
    let n = with(&["nomatch"], &[ip("::1")]);
    ok(&n, "::1");
    ok(&n, "0:0:0:0:0:0:0:1");
    ok(&n, "[::1]");
    // A hostname is never resolved: it simply does not match.
    fails(&n, "nomatch2");
    fails(&n, "localhost");
}

#[test]
fn cn_wildcard_covers_one_label_and_the_base_domain() {
    let n = cn("*.example.test");
    assert_eq!(
        ok(&n, "host.example.test").rule,
        MatchRule::CommonName {
            wildcard: Wildcard::OneLabel,
            despite_san: false
        }
    );
    let base = ok(&n, "example.test");
    assert_eq!(
        base.rule,
        MatchRule::CommonName {
            wildcard: Wildcard::BaseDomain,
            despite_san: false
        }
    );
    assert!(base.non_rfc_reason().is_some());
    fails(&n, "a.b.example.test");
    fails(&n, ".example.test");
    // socat fails this one (case-sensitive); we deliberately accept it.
    ok(&n, "host.EXAMPLE.test");
}

#[test]
fn san_wildcard_covers_one_label_and_the_base_domain() {
    let n = with(&["nomatch"], &[dns("*.example.test")]);
    assert_eq!(
        ok(&n, "example.test").rule,
        MatchRule::SanDns(Wildcard::BaseDomain)
    );
    assert_eq!(
        ok(&n, "x.example.test").rule,
        MatchRule::SanDns(Wildcard::OneLabel)
    );
    assert!(ok(&n, "x.example.test").non_rfc_reason().is_none());
    fails(&n, "a.b.example.test");
}

#[test]
fn names_are_compared_without_ascii_case() {
    ok(&cn("LOCALHOST"), "localhost");
    ok(
        &with(&[], &[dns("Node1.Example.TEST")]),
        "node1.example.test",
    );
}

#[test]
fn only_the_first_cn_counts() {
    let n = with(&["first.name", "localhost"], &[]);
    fails(&n, "localhost");
    ok(&n, "first.name");
}

#[test]
fn mismatch_names_the_expected_and_presented_names() {
    let n = with(&["nomatch"], &[dns("a.test"), ip("10.0.0.1")]);
    let e = fails(&n, "b.test");
    let text = e.to_string();
    assert!(text.contains("`b.test`"), "{text}");
    assert!(text.contains("DNS:a.test"), "{text}");
    assert!(text.contains("IP:10.0.0.1"), "{text}");
    assert!(text.contains("CN=nomatch"), "{text}");
}

#[test]
fn certificate_without_names_fails_cleanly() {
    let e = fails(&CertNames::default(), "localhost");
    assert!(e.presented.is_empty());
}

#[test]
fn policy_expected_name_follows_socat() {
    assert_eq!(
        PeerPolicy::for_connector(None, "[::1]").expected.as_deref(),
        Some("::1")
    );
    assert_eq!(
        PeerPolicy::for_connector(Some("svc"), "10.0.0.1")
            .expected
            .as_deref(),
        Some("svc")
    );
    assert_eq!(
        PeerPolicy::for_connector(Some(""), "10.0.0.1").expected,
        None
    );
    assert_eq!(PeerPolicy::for_listener(None).expected, None);
    assert_eq!(PeerPolicy::for_listener(Some("")).expected, None);
    assert_eq!(
        PeerPolicy::for_listener(Some("client1"))
            .expected
            .as_deref(),
        Some("client1")
    );
}

#[test]
fn names_are_read_from_a_real_certificate() {
    let ca = Ca::new("policy ca").unwrap();
    let leaf = ca
        .issue(
            &LeafSpec::new("nomatch")
                .dns("node.test")
                .ip("192.0.2.7")
                .ip("::1"),
        )
        .unwrap();
    let names = CertNames::from_cert(&leaf.cert);
    assert_eq!(
        names.display_list(),
        vec!["DNS:node.test", "IP:192.0.2.7", "IP:::1", "CN=nomatch"]
    );
    let policy = PeerPolicy::for_connector(None, "192.0.2.7");
    assert_eq!(
        policy.check(&leaf.cert).unwrap().unwrap().rule,
        MatchRule::SanIp
    );
    let policy = PeerPolicy::for_connector(None, "other.test");
    assert!(policy.check(&leaf.cert).is_err());
    assert_eq!(PeerPolicy::for_listener(None).check(&leaf.cert), Ok(None));
}

#[test]
fn a_wildcard_never_matches_an_ip_literal() {
    // socat's text rule would let `*.0.0.1` cover 127.0.0.1 (one extra label).
    for n in [
        with(&["nomatch"], &[dns("*.0.0.1")]),
        cn("*.0.0.1"),
        cn("*.0.1"),
    ] {
        let e = fails(&n, "127.0.0.1");
        assert_eq!(e.expected, "127.0.0.1");
    }
    // The base-domain rule neither: `*.0.0.1` is not `0.0.1`, `*.1` not `127.1`.
    fails(&cn("*.0.0.1"), "0.0.1");
    fails(&cn("*.1"), "127.1");
    fails(&cn("*.1"), "0x7f.1");
    // IPv4-mapped IPv6 has dots too.
    fails(&cn("*.2.3.4"), "::ffff:1.2.3.4");
    fails(&cn("*.2.3.4"), "[::ffff:1.2.3.4]");
    // Plain equality with an IP string stays as socat does it.
    assert_eq!(
        ok(&with(&[], &[dns("127.0.0.1")]), "127.0.0.1").rule,
        MatchRule::SanDns(Wildcard::None)
    );
    ok(&cn("10.0.0.5"), "10.0.0.5");
    // Host names keep their wildcards.
    ok(&cn("*.example.test"), "host.example.test");
    ok(&cn("*.0.0.1.example"), "x.0.0.1.example");
}

#[test]
fn ip_literals_are_recognised_in_every_resolver_form() {
    for ip in [
        "127.0.0.1",
        "127.1",
        "0x7f.1",
        "0177.0.0.1",
        "2130706433",
        "::1",
        "[::1]",
        "fe80::1%eth0",
        "::ffff:1.2.3.4",
    ] {
        assert!(is_ip_literal(ip), "{ip}");
    }
    for host in [
        "localhost",
        "host.example.test",
        "1.2.3.4.5",
        "a.0.0.1",
        "0.0.1.example",
        "",
    ] {
        assert!(!is_ip_literal(host), "{host}");
    }
}

fn allow(names: &[&str]) -> AllowList {
    AllowList::new(names)
}

#[test]
fn allow_list_accepts_any_listed_name_by_socat_rules() {
    let donor = with(&["donor1"], &[dns("donor1.test"), ip("10.0.0.2")]);
    let list = allow(&["other.test", "10.0.0.2"]);
    let m = list.check_names(&donor).unwrap().unwrap();
    assert_eq!(m.allowed, "10.0.0.2");
    assert_eq!(m.matched.rule, MatchRule::SanIp);
    let m = allow(&["DONOR1.test"])
        .check_names(&donor)
        .unwrap()
        .unwrap();
    assert_eq!(m.matched.rule, MatchRule::SanDns(Wildcard::None));
    let m = allow(&["donor1"]).check_names(&donor).unwrap().unwrap();
    assert!(matches!(m.matched.rule, MatchRule::CommonName { .. }));
    let wild = with(&[], &[dns("*.nodes.test")]);
    assert!(allow(&["db2.nodes.test"]).check_names(&wild).is_ok());
    // The same IP rule as the donor's check: a wildcard never stands for an address.
    let e = allow(&["127.0.0.1"])
        .check_names(&with(&["*.0.0.1"], &[dns("*.0.0.1")]))
        .unwrap_err();
    assert_eq!(e.presented, vec!["DNS:*.0.0.1", "CN=*.0.0.1"]);
}

#[test]
fn allow_list_refusal_names_allowed_and_presented_names() {
    let donor = with(&["rogue"], &[dns("rogue.test"), ip("10.9.9.9")]);
    let e = allow(&["node2.test", "10.0.0.2"])
        .check_names(&donor)
        .unwrap_err();
    assert_eq!(e.allowed, vec!["node2.test", "10.0.0.2"]);
    let text = e.to_string();
    for needle in [
        "node2.test",
        "10.0.0.2",
        "DNS:rogue.test",
        "IP:10.9.9.9",
        "CN=rogue",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
}

#[test]
fn an_empty_allow_list_is_off() {
    let list = allow(&["", "  "]);
    assert!(list.is_empty());
    assert_eq!(list.check_names(&CertNames::default()), Ok(None));
    assert_eq!(list.to_string(), "(off)");
    assert_eq!(allow(&[" a ", "b"]).names(), ["a", "b"]);
}
