//! The parser against the option tables of tls-compat.md §2.

use super::*;

fn parse(s: &str) -> SockOpts {
    SockOpts::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(s: &str) -> SockoptError {
    match SockOpts::parse(s) {
        Ok(o) => panic!("{s} unexpectedly parsed: {o:?}"),
        Err(e) => e,
    }
}

#[test]
fn empty_string_gives_secure_defaults() {
    let o = parse("");
    assert!(o.verify);
    assert!(o.keepalive && o.nodelay);
    assert_eq!(o.min_version, TlsVersion::Tls12);
    assert_eq!(o.max_version, TlsVersion::Tls13);
    assert!(o.warnings.is_empty());
    assert_eq!(o, SockOpts::default());
}

#[test]
fn verify_accepts_numbers_and_bare() {
    assert!(parse("verify").verify);
    assert!(parse("verify=1").verify);
    assert!(!parse("verify=0").verify);
    assert!(!parse("openssl-verify=0").verify);
    assert!(!parse("VERIFY=0").verify);
    assert!(parse("verify=0x1").verify);
}

#[test]
fn verify_zero_warns() {
    let o = parse("verify=0");
    assert!(o.warnings.iter().any(|w| w.contains("NOT authenticated")));
}

#[test]
fn verify_words_are_an_error_that_says_use_numbers() {
    for bad in ["verify=false", "verify=no", "verify=true", "verify="] {
        let e = err(bad);
        assert_eq!(e.kind, SockoptErrorKind::BadValue, "{bad}");
        assert!(e.to_string().contains("verify=0 or verify=1"), "{e}");
        assert!(e.to_string().contains(bad), "{e}");
    }
}

#[test]
fn commonname_aliases_and_empty_value() {
    assert_eq!(parse("cn=node1").commonname.as_deref(), Some("node1"));
    assert_eq!(
        parse("commonname=node1").commonname.as_deref(),
        Some("node1")
    );
    assert_eq!(
        parse("openssl-commonname=x").commonname.as_deref(),
        Some("x")
    );
    assert_eq!(parse("commonname=").commonname.as_deref(), Some(""));
    assert_eq!(parse("cn").commonname.as_deref(), Some(""));
}

#[test]
fn commonname_twice_is_a_duplicate() {
    let e = err("commonname=a,cn=b");
    assert_eq!(e.kind, SockoptErrorKind::Duplicate);
    assert!(e.to_string().contains("cn=b"), "{e}");
}

#[test]
fn empty_items_and_whitespace_are_tolerated() {
    let o = parse(",,pf=ip6");
    assert_eq!(o.pf, Some(AddressFamily::Ipv6));
    let o = parse("verify=0, cn=foo ,");
    assert!(!o.verify);
    assert_eq!(o.commonname.as_deref(), Some("foo"));
    let o = parse(" cafile=/x ,, pf = ip4 ,");
    assert_eq!(o.cafile, Some(PathBuf::from("/x")));
    assert_eq!(o.pf, Some(AddressFamily::Ipv4));
}

#[test]
fn cipher_values_keep_colons_and_bangs() {
    let tripleo = "!SSLv2:kEECDH:kRSA:kEDH:kPSK:+3DES:!aNULL:!eNULL:!MD5:!EXP:!RC4:!SEED:!IDEA:!DES:!SSLv3:!TLSv1";
    let o = parse(&format!("cipher={tripleo},pf=ip6"));
    assert_eq!(o.cipher.as_deref(), Some(tripleo));
    for alias in ["ciphers", "cipherlist", "openssl-cipherlist", "CIPHER"] {
        assert_eq!(
            parse(&format!("{alias}=HIGH")).cipher.as_deref(),
            Some("HIGH")
        );
    }
    assert_eq!(err("cipher=").kind, SockoptErrorKind::BadValue);
}

#[test]
fn ca_items_and_dhparam_are_paths() {
    let o = parse("cafile=/etc/ca.pem,capath=/etc/ssl/certs,dhparam=/etc/dh.pem");
    assert_eq!(o.cafile, Some(PathBuf::from("/etc/ca.pem")));
    assert_eq!(o.capath, Some(PathBuf::from("/etc/ssl/certs")));
    assert_eq!(o.dhparam, Some(PathBuf::from("/etc/dh.pem")));
    for alias in ["dh", "dhparams", "openssl-dhparam", "openssl-dhparams"] {
        assert!(parse(&format!("{alias}=/d")).dhparam.is_some(), "{alias}");
    }
    assert_eq!(
        err("cafile=/a,openssl-cafile=/b").kind,
        SockoptErrorKind::Duplicate
    );
}

#[test]
fn versions_follow_the_table() {
    let o = parse("min-version=TLS1.3");
    assert_eq!(o.min_version, TlsVersion::Tls13);
    let o = parse("max-version=tlsv1.2");
    assert_eq!(o.max_version, TlsVersion::Tls12);
    let o = parse("openssl-min-proto-version=TLS1.2,openssl-max-proto-version=TLS1.3");
    assert_eq!(
        (o.min_version, o.max_version),
        (TlsVersion::Tls12, TlsVersion::Tls13)
    );
    // A low minimum is accepted with a warning; the floor stays 1.2.
    for low in ["TLS1", "TLS1.0", "TLS1.1", "TLSv1", "tlsv1.1"] {
        let o = parse(&format!("min-version={low}"));
        assert_eq!(o.min_version, TlsVersion::Tls12);
        assert!(o.warnings.iter().any(|w| w.contains("floor")), "{low}");
    }
    // A low maximum, SSL and DTLS words are refused.
    for bad in ["max-version=TLS1.1", "max-version=TLS1"] {
        let e = err(bad);
        assert_eq!(e.kind, SockoptErrorKind::Rejected, "{bad}");
        assert!(e.to_string().contains("below TLS1.2"), "{e}");
    }
    for bad in [
        "min-version=SSL3",
        "min-version=SSLv3",
        "max-version=DTLS1.2",
        "min-version=DTLS1",
        "min-version=SSL2",
    ] {
        let e = err(bad);
        assert_eq!(e.kind, SockoptErrorKind::Rejected, "{bad}");
        assert!(e.to_string().contains("SSL and DTLS"), "{e}");
    }
    let e = err("min-version=TLS9");
    assert!(e.to_string().contains("unknown SSL/TLS version"), "{e}");
    let e = err("min-version=TLS1.3,max-version=TLS1.2");
    assert!(e.to_string().contains("above max-version"), "{e}");
}

#[test]
fn method_maps_tls12_and_ssl23_and_rejects_the_rest() {
    let o = parse("method=TLS1.2");
    assert_eq!(
        (o.min_version, o.max_version),
        (TlsVersion::Tls12, TlsVersion::Tls12)
    );
    assert_eq!(o.warnings.len(), 1);
    let o = parse("openssl-method=SSL23");
    assert_eq!(
        (o.min_version, o.max_version),
        (TlsVersion::Tls12, TlsVersion::Tls13)
    );
    assert_eq!(o.warnings.len(), 1);
    for bad in [
        "method=SSL3",
        "method=TLS1",
        "method=TLS1.1",
        "method=DTLS1",
        "method=SSL2",
    ] {
        let e = err(bad);
        assert_eq!(e.kind, SockoptErrorKind::Rejected, "{bad}");
        assert!(e.to_string().contains(bad), "{e}");
    }
}

#[test]
fn sni_options() {
    assert!(parse("no-sni").no_sni);
    assert!(parse("nosni=1").no_sni);
    assert!(!parse("openssl-no-sni=0").no_sni);
    assert_eq!(
        parse("snihost=joiner.test").snihost.as_deref(),
        Some("joiner.test")
    );
    assert_eq!(err("snihost").kind, SockoptErrorKind::BadValue);
}

#[test]
fn compress_and_pf() {
    assert_eq!(parse("compress=none").compress, Compress::None);
    assert_eq!(parse("openssl-compress=AUTO").compress, Compress::Auto);
    let e = err("compress=zlib");
    assert!(e.to_string().contains("compression"), "{e}");
    for (v, af) in [
        ("ip4", AddressFamily::Ipv4),
        ("IPv4", AddressFamily::Ipv4),
        ("inet", AddressFamily::Ipv4),
        ("inet4", AddressFamily::Ipv4),
        ("2", AddressFamily::Ipv4),
        ("ip6", AddressFamily::Ipv6),
        ("ipv6", AddressFamily::Ipv6),
        ("inet6", AddressFamily::Ipv6),
        ("10", AddressFamily::Ipv6),
    ] {
        assert_eq!(parse(&format!("pf={v}")).pf, Some(af), "{v}");
        assert_eq!(parse(&format!("protocol-family={v}")).pf, Some(af), "{v}");
    }
    assert!(err("pf=unix").to_string().contains("pf=ip4 or pf=ip6"));
}

#[test]
fn tcp_tuning_options() {
    let o = parse(
        "keepalive=0,keepidle=30,keepintvl=5,keepcnt=3,nodelay,rcvbuf=262144,\
         so-sndbuf=0x10000,linger=10,retry=5,interval=0.5,forever,connect-timeout=2.5",
    );
    assert!(!o.keepalive);
    assert_eq!(o.keepidle, Some(Duration::from_secs(30)));
    assert_eq!(o.keepintvl, Some(Duration::from_secs(5)));
    assert_eq!(o.keepcnt, Some(3));
    assert!(o.nodelay);
    assert_eq!(o.rcvbuf, Some(262_144));
    assert_eq!(o.sndbuf, Some(65_536));
    assert_eq!(o.linger, Some(Duration::from_secs(10)));
    assert_eq!(o.retry, Some(5));
    assert_eq!(o.interval, Some(Duration::from_millis(500)));
    assert!(o.forever);
    assert_eq!(o.connect_timeout, Some(Duration::from_millis(2500)));
    let o = parse(
        "so-keepalive,tcp-keepidle=1,tcp-keepintvl=1,tcp-keepcnt=1,tcp-nodelay=0,intervall=2",
    );
    assert!(o.keepalive && !o.nodelay);
    assert_eq!(o.interval, Some(Duration::from_secs(2)));
    assert!(parse("rcvbuf-late=1024").rcvbuf.is_some());
    assert_eq!(err("keepidle=abc").kind, SockoptErrorKind::BadValue);
    assert_eq!(err("interval=-1").kind, SockoptErrorKind::BadValue);
    assert_eq!(err("retry=99999999999").kind, SockoptErrorKind::BadValue);
}

#[test]
fn ignored_options_warn_and_change_nothing() {
    for item in [
        "fork",
        "reuseaddr",
        "so-reuseaddr",
        "egd=/var/run/egd",
        "pseudo",
        "openssl-pseudo=1",
    ] {
        let o = parse(item);
        assert_eq!(o.warnings.len(), 1, "{item}");
        assert!(o.warnings[0].contains("ignored"), "{item}");
        let mut d = o.clone();
        d.warnings.clear();
        assert_eq!(d, SockOpts::default(), "{item}");
    }
    // Repeats of ignored options are tolerated, as socat tolerates fork/reuseaddr twice.
    assert_eq!(parse("fork,fork,reuseaddr").warnings.len(), 3);
}

#[test]
fn rejected_options_name_the_item() {
    for (item, hint) in [
        ("fips", "FIPS"),
        ("openssl-fips=1", "FIPS"),
        ("cert=/etc/x.crt", "tcert"),
        ("certificate=/etc/x.crt", "tcert"),
        ("key=/etc/x.key", "tkey"),
        ("openssl-key=/etc/x.key", "tkey"),
        ("range=10.0.0.0/8", "listener-only"),
        ("tcpwrap=sst", "listener-only"),
        ("backlog=10", "listener-only"),
        ("max-children=4", "listener-only"),
        ("accept-timeout=5", "listener-only"),
        ("bind=10.0.0.1", "SST request"),
        ("sourceport=4444", "source-port"),
        ("lowport", "source-port"),
        ("su=mysql", "user"),
        ("su-d=mysql", "user"),
        ("setsockopt-int=1:2:3", "raw socket"),
        ("setsockopt=1:2:x", "raw socket"),
        ("maxfraglen=512", "fragment"),
        ("maxsendfrag=512", "fragment"),
    ] {
        let e = err(&format!("verify,{item}"));
        assert_eq!(e.kind, SockoptErrorKind::Rejected, "{item}");
        assert_eq!(e.item, item);
        let text = e.to_string();
        assert!(text.contains(item) && text.contains(hint), "{text}");
    }
}

#[test]
fn unknown_options_list_the_supported_set() {
    for item in [
        "chroot=/x",
        "ip-tos=16",
        "mss=1400",
        "so-bindtodevice=eth0",
        "bogus",
    ] {
        let e = err(item);
        assert_eq!(e.kind, SockoptErrorKind::Unknown, "{item}");
        let text = e.to_string();
        assert!(text.contains(item), "{text}");
        assert!(text.contains("verify, commonname"), "{text}");
    }
}

#[test]
fn value_may_contain_equals_sign() {
    assert_eq!(parse("cn=a=b").commonname.as_deref(), Some("a=b"));
}

#[test]
fn duplicate_supported_options_are_errors() {
    for s in [
        "verify,verify=0",
        "pf=ip4,pf=ip6",
        "cipher=HIGH,ciphers=HIGH",
        "min-version=TLS1.2,min-proto-version=TLS1.3",
    ] {
        assert_eq!(err(s).kind, SockoptErrorKind::Duplicate, "{s}");
    }
}

#[tokio::test]
async fn apply_tcp_sets_the_socket_options() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = TcpStream::connect(addr).await.unwrap();
    let o = parse("keepidle=30,keepintvl=7,keepcnt=4,rcvbuf=131072,sndbuf=131072,linger=3");
    o.apply_tcp(&client).unwrap();
    let s = SockRef::from(&client);
    assert!(s.nodelay().unwrap());
    assert!(s.keepalive().unwrap());
    assert_eq!(s.keepalive_time().unwrap(), Duration::from_secs(30));
    assert_eq!(s.keepalive_interval().unwrap(), Duration::from_secs(7));
    assert_eq!(s.keepalive_retries().unwrap(), 4);
    assert!(s.recv_buffer_size().unwrap() >= 131_072);
    assert_eq!(s.linger().unwrap(), Some(Duration::from_secs(3)));
    let o = parse("keepalive=0,nodelay=0");
    o.apply_tcp(&client).unwrap();
    assert!(!s.keepalive().unwrap());
    assert!(!s.nodelay().unwrap());
    let defaults = SockOpts::default();
    defaults.apply_tcp(&client).unwrap();
    assert_eq!(s.keepalive_time().unwrap(), DEFAULT_KEEPIDLE);
}
