//! The option names socat knows (long names and aliases) and what we do with
//! each: support, ignore with a warning, or reject with a reason.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Opt {
    Verify,
    CommonName,
    CaFile,
    CaPath,
    Cipher,
    MinVersion,
    MaxVersion,
    Method,
    NoSni,
    SniHost,
    DhParam,
    Compress,
    Pf,
    KeepAlive,
    KeepIdle,
    KeepIntvl,
    KeepCnt,
    NoDelay,
    RcvBuf,
    SndBuf,
    Linger,
    Retry,
    Interval,
    Forever,
    ConnectTimeout,
    Ignored(&'static str),
    Rejected(&'static str),
}

const LISTENER_ONLY: &str = "a listener-only socat option; socat refuses it on the donor side, \
     so it cannot work in rsync_tunnel (the same sockopt is used on both sides)";

const TABLE: &[(&[&str], Opt)] = &[
    (&["verify", "openssl-verify"], Opt::Verify),
    (&["commonname", "cn", "openssl-commonname"], Opt::CommonName),
    (&["cafile", "openssl-cafile"], Opt::CaFile),
    (&["capath", "openssl-capath"], Opt::CaPath),
    (
        &["cipher", "ciphers", "cipherlist", "openssl-cipherlist"],
        Opt::Cipher,
    ),
    (
        &[
            "min-version",
            "min-proto-version",
            "openssl-min-proto-version",
        ],
        Opt::MinVersion,
    ),
    (
        &[
            "max-version",
            "max-proto-version",
            "openssl-max-proto-version",
        ],
        Opt::MaxVersion,
    ),
    (&["method", "openssl-method"], Opt::Method),
    (&["no-sni", "nosni", "openssl-no-sni"], Opt::NoSni),
    (&["snihost", "openssl-snihost"], Opt::SniHost),
    (
        &[
            "dhparam",
            "dh",
            "dhparams",
            "openssl-dhparam",
            "openssl-dhparams",
        ],
        Opt::DhParam,
    ),
    (&["compress", "openssl-compress"], Opt::Compress),
    (&["pf", "protocol-family"], Opt::Pf),
    (&["keepalive", "so-keepalive"], Opt::KeepAlive),
    (&["keepidle", "tcp-keepidle"], Opt::KeepIdle),
    (&["keepintvl", "tcp-keepintvl"], Opt::KeepIntvl),
    (&["keepcnt", "tcp-keepcnt"], Opt::KeepCnt),
    (&["nodelay", "tcp-nodelay"], Opt::NoDelay),
    (
        &["rcvbuf", "so-rcvbuf", "rcvbuf-late", "so-rcvbuf-late"],
        Opt::RcvBuf,
    ),
    (
        &["sndbuf", "so-sndbuf", "sndbuf-late", "so-sndbuf-late"],
        Opt::SndBuf,
    ),
    (&["linger", "so-linger"], Opt::Linger),
    (&["retry"], Opt::Retry),
    (&["interval", "intervall"], Opt::Interval),
    (&["forever"], Opt::Forever),
    (&["connect-timeout"], Opt::ConnectTimeout),
    (
        &["fork"],
        Opt::Ignored("the joiner serves every connection concurrently anyway"),
    ),
    (
        &["reuseaddr", "so-reuseaddr"],
        Opt::Ignored("listeners always set SO_REUSEADDR"),
    ),
    (
        &["egd", "openssl-egd"],
        Opt::Ignored("EGD has no effect with OpenSSL 3"),
    ),
    (
        &["pseudo", "openssl-pseudo"],
        Opt::Ignored("the system random generator is always seeded"),
    ),
    (
        &["fips", "openssl-fips"],
        Opt::Rejected("FIPS mode is governed by the system OpenSSL configuration"),
    ),
    (
        &["cert", "certificate", "openssl-certificate"],
        Opt::Rejected("set the certificate with [sst] tcert instead"),
    ),
    (
        &["key", "openssl-key"],
        Opt::Rejected("set the private key with [sst] tkey instead"),
    ),
    (&["range"], Opt::Rejected(LISTENER_ONLY)),
    (
        &["tcpwrap", "tcpwrapper", "tcpwrappers", "libwrap"],
        Opt::Rejected(LISTENER_ONLY),
    ),
    (&["backlog"], Opt::Rejected(LISTENER_ONLY)),
    (&["max-children"], Opt::Rejected(LISTENER_ONLY)),
    (&["accept-timeout"], Opt::Rejected(LISTENER_ONLY)),
    (
        &["bind"],
        Opt::Rejected("the listen address comes from the SST request"),
    ),
    (
        &["sourceport", "sp", "lowport"],
        Opt::Rejected("source-port rules break parallel rsync connections"),
    ),
    (
        &["su", "substuser", "su-d", "substuser-delayed"],
        Opt::Rejected("changing the user is not supported; run sst-tunnel as the right user"),
    ),
    (
        &[
            "maxfraglen",
            "openssl-maxfraglen",
            "maxsendfrag",
            "openssl-maxsendfrag",
        ],
        Opt::Rejected("fragment-length options (socat 1.8) are not supported"),
    ),
];

pub(super) fn lookup(name: &str) -> Option<Opt> {
    if name.starts_with("setsockopt") {
        return Some(Opt::Rejected("raw socket options are not supported"));
    }
    TABLE
        .iter()
        .find(|(names, _)| names.contains(&name))
        .map(|(_, opt)| *opt)
}
