//! Every `[sst]` key this program reads: its name, its default and what it
//! does. This is the one definition: [`super::Settings::resolve`] applies
//! these defaults, `--help` and the man page print [`keys`], and tests tie
//! README's configuration table and `packaging/sst-tunnel.cnf` to it.
//! MariaDB's own TLS options, read in place of the four file keys when none
//! is set, are not keys of ours: [`FALLBACK_HELP`] describes them.

use std::time::Duration;

/// `sst-initial-timeout`: joiner, wait for the first donor connection.
pub const INITIAL_TIMEOUT: Duration = Duration::from_secs(300);
/// `sst-idle-timeout`: no byte moved for this long means stalled.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// `sst-handshake-timeout`: a peer's TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// `sst-connect-timeout`: donor, one TCP connect attempt.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `sst-connect-retry`: the window for retried connects (donor) and binds (joiner).
pub const CONNECT_RETRY: Duration = Duration::from_secs(30);
/// `sst-close-timeout`: one direction after the other closed.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// `sst-max-connections`: joiner, authenticated connections at once.
pub const MAX_CONNECTIONS: usize = 64;
/// `sst-bwlimit`: donor, KiB/s for the whole transfer (0 = unlimited).
pub const BWLIMIT_KIB: u64 = 0;
/// `sst-max-binlogs`: donor, binlogs shipped.
pub const MAX_BINLOGS: i64 = 1;

/// What `--help` and the man page say about the TLS options MariaDB users
/// already have (the order is implemented in the `tls_keys` module).
pub const FALLBACK_HELP: &str = "\
When [sst] sets none of tca, tcapath, tcert and tkey (and no --tca, --tcapath,
--tcert or --tkey is given), the files come from MariaDB's own TLS options, as
MariaDB's rsync SST reads them: each of the four on its own, the first
non-empty value of ssl-server-X (joiner) or ssl-client-X (donor) in [sst], the
same in the server groups ([mysqld], [mariadb], [galera], ...), then ssl-X in
[sst], then ssl-X in the server groups, where X is ca, capath, cert or key.
When any of the four legacy keys is set, no ssl-* option is read. The log and
`sst-tunnel check` name the key and the option-file line each file came from.
No certificate from any of them: exit 3, never plaintext.
";

/// One `[sst]` key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// Its name in `[sst]`.
    pub name: &'static str,
    /// Its default, as users read it (`300`, `none`, `number of CPUs`).
    pub default: String,
    /// What it does.
    pub meaning: &'static str,
}

fn key(name: &'static str, default: impl ToString, meaning: &'static str) -> Key {
    Key {
        name,
        default: default.to_string(),
        meaning,
    }
}

/// Every `[sst]` key, in the order the documentation lists them.
pub fn keys() -> Vec<Key> {
    vec![
        key(
            "tca",
            "none",
            "CA bundle; a directory is used as a CA path (none: the system store, with a warning); or ssl-ca, see below",
        ),
        key(
            "tcapath",
            "none",
            "directory of hashed CA certificates; or ssl-capath, see below",
        ),
        key(
            "tcert",
            "required",
            "this node's certificate chain (may also hold the key); or ssl-cert, see below",
        ),
        key(
            "tkey",
            "the tcert file",
            "this node's private key; or ssl-key, see below",
        ),
        key(
            "sockopt",
            "empty",
            "socat OPENSSL options (verify, commonname, cipher, ...)",
        ),
        key(
            "sst-initial-timeout",
            INITIAL_TIMEOUT.as_secs(),
            "joiner: seconds to wait for the first donor connection (0 = forever)",
        ),
        key(
            "sst-idle-timeout",
            IDLE_TIMEOUT.as_secs(),
            "no byte moved for this long = stalled, on both sides (donor: rsync --timeout; 0 = never)",
        ),
        key(
            "sst-handshake-timeout",
            HANDSHAKE_TIMEOUT.as_secs(),
            "seconds a peer gets to complete the TLS handshake",
        ),
        key(
            "sst-connect-timeout",
            CONNECT_TIMEOUT.as_secs(),
            "donor: seconds for one TCP connect attempt to the joiner",
        ),
        key(
            "sst-connect-retry",
            CONNECT_RETRY.as_secs(),
            "donor: seconds during which failed connects to the joiner are retried; also bounds the joiner's bind retries under sockopt retry/forever",
        ),
        key(
            "sst-close-timeout",
            CLOSE_TIMEOUT.as_secs(),
            "seconds one direction may go on after the other has closed",
        ),
        key(
            "sst-max-connections",
            MAX_CONNECTIONS,
            "joiner: authenticated connections served at once; more are refused (4x as many handshakes may be pending; the oldest is dropped when full)",
        ),
        key(
            "sst-bwlimit",
            BWLIMIT_KIB,
            "donor: the whole transfer's bandwidth cap in KiB/s, across all parallel rsync streams (0 = unlimited)",
        ),
        key(
            "backup-threads",
            "number of CPUs",
            "donor: parallel rsync streams of the schema phase (files dealt out by bytes)",
        ),
        key(
            "sst-max-binlogs",
            MAX_BINLOGS,
            "donor: binlogs shipped (0 = none, negative = all)",
        ),
        key(
            "sst-allowed-donors",
            "off",
            "joiner: names a donor certificate must carry (one of them), comma-separated, or auto = the hosts of wsrep_cluster_address",
        ),
    ]
}
