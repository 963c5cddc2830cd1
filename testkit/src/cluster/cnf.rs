//! A node's option file: its ports, `[sst]` TLS files and the my.cnf text.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

use super::method::Method;

/// The ports one node listens on (all chosen free at creation).
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    /// SQL port (`port`, bound on the node's IP).
    pub mysql: u16,
    /// Galera group communication (`gmcast.listen_addr`).
    pub gcomm: u16,
    /// Galera IST receiver (`ist.recv_addr`).
    pub ist: u16,
    /// SST receive port (`wsrep_sst_receive_address`).
    pub sst: u16,
    /// Loopback relay port of the socat donor (`[sst] fixture-relay-port`).
    pub relay: u16,
}

/// TLS files a node's `[sst]` section names (copied into the node dir).
pub struct TlsFiles<'a> {
    /// CA the node trusts (`tca`).
    pub ca: &'a Path,
    /// Node certificate (`tcert`).
    pub cert: &'a Path,
    /// Node key (`tkey`).
    pub key: &'a Path,
}

/// Everything needed to write a node's option file.
pub struct NodeConfig<'a> {
    /// Short node name (`n1`, `n2`), also `wsrep_node_name`.
    pub name: &'a str,
    /// Loopback address the node uses for everything.
    pub ip: Ipv4Addr,
    /// SST implementation on this node.
    pub method: Method,
    /// Ports chosen for this node.
    pub ports: Ports,
    /// `wsrep_cluster_name` (unique per test).
    pub cluster_name: &'a str,
    /// `wsrep_cluster_address`, e.g. `gcomm://127.0.0.1:1234,127.0.0.2:2345`.
    pub cluster_address: &'a str,
    /// `[sst]` TLS files.
    pub tls: TlsFiles<'a>,
    /// `[sst] sst-bwlimit` (KiB/s per donor rsync client), to slow a transfer down.
    pub sst_bwlimit: Option<u32>,
    /// Command prefix that runs mariadbd where the node lives: empty on the host,
    /// `ip netns exec NS` in a network namespace (see [`super::Site`]).
    pub exec_prefix: &'a [String],
}

/// The `--defaults-file` of a node whose dir is `root`.
pub fn my_cnf(root: &Path, cfg: &NodeConfig<'_>) -> String {
    let r = root.display();
    let ip = cfg.ip;
    let p = cfg.ports;
    let mut text = format!(
        "# written by testkit/src/cluster/cnf.rs for node {name}\n\
         [mysqld]\n\
         datadir={r}/data\n\
         socket={r}/run/mysqld.sock\n\
         pid-file={r}/run/mysqld.pid\n\
         log-error={r}/log/error.log\n\
         tmpdir={r}/tmp\n\
         port={mysql}\n\
         bind-address={ip}\n\
         # private basedir: mariadbd prepends <basedir>/bin to PATH, so the SST method\n\
         # in {r}/base/bin is found first; the paths below would otherwise follow basedir\n\
         basedir={r}/base\n\
         lc-messages-dir=/usr/share/mysql\n\
         character-sets-dir=/usr/share/mysql/charsets\n\
         plugin-dir=/usr/lib/mysql/plugin\n\
         skip-name-resolve\n\
         log-bin=mysql-bin\n\
         binlog_format=ROW\n\
         default_storage_engine=InnoDB\n\
         innodb_autoinc_lock_mode=2\n\
         innodb_flush_log_at_trx_commit=2\n\
         innodb_buffer_pool_size=128M\n\
         max_allowed_packet=64M\n\
         wsrep_on=ON\n\
         wsrep_provider=/usr/lib/galera/libgalera_smm.so\n\
         wsrep_cluster_name={cluster_name}\n\
         wsrep_cluster_address={cluster_address}\n\
         wsrep_node_name={name}\n\
         wsrep_node_address={ip}:{gcomm}\n\
         wsrep_provider_options=\"gmcast.listen_addr=tcp://{ip}:{gcomm};ist.recv_addr={ip}:{ist};gcache.size=64M\"\n\
         wsrep_sst_method={method}\n\
         wsrep_sst_receive_address={ip}:{sst}\n\
         \n\
         [sst]\n\
         tca={r}/tls/ca.pem\n\
         tcert={r}/tls/cert.pem\n\
         tkey={r}/tls/key.pem\n\
         # socat reference peer only: its donor relay port (see the fixture's header)\n\
         fixture-relay-port={relay}\n",
        name = cfg.name,
        mysql = p.mysql,
        gcomm = p.gcomm,
        ist = p.ist,
        sst = p.sst,
        relay = p.relay,
        cluster_name = cfg.cluster_name,
        cluster_address = cfg.cluster_address,
        method = cfg.method.sst_method(),
    );
    if let Some(limit) = cfg.sst_bwlimit {
        let _ = writeln!(text, "sst-bwlimit={limit}");
    }
    text
}
