//! `[sst] sockopt` strings through `SockOpts::parse`: no panic, errors name
//! a non-empty item taken from the input and give a reason, and an accepted
//! string written back in canonical `name=value` form parses to the same
//! options.

use std::fmt::Write as _;
use std::time::Duration;

use sst_tunnel::tls::sockopt::{AddressFamily, Compress, SockOpts, TlsVersion};

/// Runs one input; panics when an invariant does not hold.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match SockOpts::parse(&text) {
        Err(e) => {
            assert!(!e.item.is_empty(), "{e:?}");
            assert!(!e.reason.is_empty(), "{e:?}");
            assert!(
                text.contains(&e.item) || e.item == "min-version",
                "item {:?} is not in the input",
                e.item
            );
            assert!(e.to_string().contains(&e.item));
        }
        Ok(opts) => {
            assert!(opts.min_version <= opts.max_version, "{opts:?}");
            assert!(opts.warnings.iter().all(|w| !w.is_empty()));
            let canonical = canonical(&opts);
            let again = SockOpts::parse(&canonical)
                .unwrap_or_else(|e| panic!("canonical form {canonical:?} of {text:?}: {e}"));
            assert_same(&opts, &again, &canonical);
        }
    }
}

fn version(v: TlsVersion) -> &'static str {
    match v {
        TlsVersion::Tls12 => "TLS1.2",
        TlsVersion::Tls13 => "TLS1.3",
    }
}

fn secs(d: Duration) -> String {
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

/// The options as one `name=value` item each, in a fixed order.
fn canonical(o: &SockOpts) -> String {
    let mut s = String::new();
    let mut item = |name: &str, value: &str| {
        let _ = write!(s, "{name}={value},");
    };
    item("verify", if o.verify { "1" } else { "0" });
    let strings = [
        ("cn", o.commonname.clone()),
        ("cafile", o.cafile.as_ref().map(|p| p.display().to_string())),
        ("capath", o.capath.as_ref().map(|p| p.display().to_string())),
        ("cipher", o.cipher.clone()),
        ("snihost", o.snihost.clone()),
        (
            "dhparam",
            o.dhparam.as_ref().map(|p| p.display().to_string()),
        ),
    ];
    for (name, value) in strings {
        if let Some(v) = value {
            item(name, &v);
        }
    }
    item("min-version", version(o.min_version));
    item("max-version", version(o.max_version));
    item("no-sni", if o.no_sni { "1" } else { "0" });
    item(
        "compress",
        match o.compress {
            Compress::Auto => "auto",
            Compress::None => "none",
        },
    );
    if let Some(pf) = o.pf {
        item(
            "pf",
            match pf {
                AddressFamily::Ipv4 => "ip4",
                AddressFamily::Ipv6 => "ip6",
            },
        );
    }
    item("keepalive", if o.keepalive { "1" } else { "0" });
    item("nodelay", if o.nodelay { "1" } else { "0" });
    item("forever", if o.forever { "1" } else { "0" });
    let whole = [
        ("keepidle", o.keepidle.map(|d| d.as_secs())),
        ("keepintvl", o.keepintvl.map(|d| d.as_secs())),
        ("keepcnt", o.keepcnt.map(u64::from)),
        ("rcvbuf", o.rcvbuf.map(|n| n as u64)),
        ("sndbuf", o.sndbuf.map(|n| n as u64)),
        ("linger", o.linger.map(|d| d.as_secs())),
        ("retry", o.retry.map(u64::from)),
    ];
    for (name, value) in whole {
        if let Some(n) = value {
            item(name, &n.to_string());
        }
    }
    if let Some(d) = o.interval {
        item("interval", &secs(d));
    }
    if let Some(d) = o.connect_timeout {
        item("connect-timeout", &secs(d));
    }
    s
}

/// Seconds go through an `f64`, so they may move by its precision.
fn close(a: Option<Duration>, b: Option<Duration>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let (a, b) = (a.as_secs_f64(), b.as_secs_f64());
            (a - b).abs() <= 1e-6 + a.abs() * 1e-12
        }
        _ => false,
    }
}

fn assert_same(a: &SockOpts, b: &SockOpts, canonical: &str) {
    let strip = |o: &SockOpts| SockOpts {
        warnings: Vec::new(),
        interval: None,
        connect_timeout: None,
        ..o.clone()
    };
    assert_eq!(strip(a), strip(b), "{canonical:?}");
    assert!(close(a.interval, b.interval), "{canonical:?}");
    assert!(close(a.connect_timeout, b.connect_timeout), "{canonical:?}");
}
