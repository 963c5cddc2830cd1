//! Where the configuration comes from, and the TLS options that override
//! it: the flags every command shares (`--defaults-file`, `--tcert`, ...),
//! as raw values. [`super::Settings::resolve`] validates them.

// The doc comments below are clap's --help text, where `[sst]` and
// `[IPv6]` are option-file groups and addresses, not intra-doc links.
#![allow(rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;

use clap::Args;

/// Where configuration comes from, and the TLS options that override it.
/// Each of `--tca`, `--tcapath`, `--tcert` and `--tkey` counts as its
/// `[sst]` key: given alone, it turns MariaDB's `ssl-*` options off too.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// Read only this option file (as mariadbd's --defaults-file).
    #[arg(long, value_name = "FILE")]
    pub defaults_file: Option<PathBuf>,
    /// Read this option file after the default ones.
    #[arg(long, value_name = "FILE")]
    pub defaults_extra_file: Option<PathBuf>,
    /// Also read groups named `<group><SUFFIX>` (e.g. [sst.node2]).
    #[arg(long, value_name = "SUFFIX")]
    pub defaults_group_suffix: Option<String>,
    /// Read no option file at all; take everything from flags.
    #[arg(long, conflicts_with_all = ["defaults_file", "defaults_extra_file"])]
    pub no_defaults: bool,
    /// CA certificate file (or directory used as a CA path); overrides [sst] tca.
    ///
    /// Like every one of --tca, --tcapath, --tcert and --tkey, it counts as
    /// its [sst] key: MariaDB's ssl-* options are then not read.
    #[arg(long, value_name = "FILE")]
    pub tca: Option<PathBuf>,
    /// Directory of hashed CA certificates; overrides [sst] tcapath.
    ///
    /// Like every one of --tca, --tcapath, --tcert and --tkey, it counts as
    /// its [sst] key: MariaDB's ssl-* options are then not read.
    #[arg(long, value_name = "DIR")]
    pub tcapath: Option<PathBuf>,
    /// This node's certificate chain (may hold the key); overrides [sst] tcert.
    ///
    /// Like every one of --tca, --tcapath, --tcert and --tkey, it counts as
    /// its [sst] key: MariaDB's ssl-* options are then not read.
    #[arg(long, value_name = "FILE")]
    pub tcert: Option<PathBuf>,
    /// This node's private key; overrides [sst] tkey.
    ///
    /// Like every one of --tca, --tcapath, --tcert and --tkey, it counts as
    /// its [sst] key: MariaDB's ssl-* options are then not read.
    #[arg(long, value_name = "FILE")]
    pub tkey: Option<PathBuf>,
    /// socat OPENSSL options (e.g. `verify=1,cipher=HIGH`); overrides [sst] sockopt.
    #[arg(long, value_name = "OPTIONS", allow_hyphen_values = true)]
    pub sockopt: Option<String>,
    /// Joiner: names a donor's certificate must carry (comma-separated), or
    /// `auto` for the hosts of wsrep_cluster_address; overrides [sst] sst-allowed-donors.
    #[arg(long, value_name = "NAMES|auto")]
    pub allowed_donors: Option<String>,
}
