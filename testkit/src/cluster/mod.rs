//! Harness for the real two-node Galera cluster tests (issue 3): a donor on 127.0.0.1 that
//! bootstraps the cluster and a joiner on 127.0.0.2 that receives an SST (or IST) through
//! whichever `wsrep_sst_rsync_tunnel` implementation each node has in its private bin.
//! A [`Placement`] can put each node in a network namespace instead (the cluster benchmark,
//! `scripts/bench --cluster`, joins two by a veth pair from [`crate::netns::link`]).
//!
//! - [`node`]: one mariadbd (dirs, process, SQL); [`cnf`]: its option file;
//!   [`leftovers`]: its SST processes, open files and datadir changes, and teardown.
//! - [`method`]: which SST implementation a node runs and the trace of what ran.
//! - [`data`]: loading a few hundred MB and comparing both nodes table by table.
//! - [`checks`]: assertions on what ran, what is left running, what reached the joiner.
//! - [`bench`](mod@bench): the socat reference peer run without mariadbd (the test plays the server).
//!
//! Certificates come from [`crate::pki::Issuer`], ports from [`crate::net`], processes are
//! read with [`crate::procs`] and every wait is a [`crate::poll`].

pub mod bench;
pub mod checks;
pub mod cnf;
pub mod data;
pub mod leftovers;
pub mod method;
pub mod node;

use std::fs;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::net::free_port_on;
use crate::pki::Issuer;
use cnf::{NodeConfig, Ports, TlsFiles};
use method::Method;
use node::Node;

/// Donor address (bootstraps the cluster).
pub const DONOR_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
/// Joiner address. Not 127.0.0.1: a socat joiner's plaintext rsync daemon binds
/// localhost:PORT next to its TLS listener on JOINER_IP:PORT.
pub const JOINER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Time for a bootstrap or a restart without state transfer.
pub const START_TIMEOUT: Duration = Duration::from_secs(90);
/// Time for a joiner to receive a full SST and reach Synced.
pub const SST_TIMEOUT: Duration = Duration::from_secs(300);

/// What to build.
#[derive(Clone, Copy, Debug)]
pub struct ClusterSpec {
    /// SST implementation on the donor node (runs the donor side).
    pub donor: Method,
    /// SST implementation on the joiner node (runs the joiner side).
    pub joiner: Method,
    /// Which certificates each node has and trusts.
    pub trust: Trust,
    /// `[sst] sst-bwlimit` on the donor, in KiB/s per rsync client.
    pub sst_bwlimit: Option<u32>,
}

impl ClusterSpec {
    /// Donor and joiner implementations, correct CAs, no throttling.
    pub fn new(donor: Method, joiner: Method) -> ClusterSpec {
        ClusterSpec {
            donor,
            joiner,
            trust: Trust::Shared,
            sst_bwlimit: None,
        }
    }
}

/// Who trusts whom. "cluster" and "unrelated" are two independent CAs; a bundle is both
/// CA certificates in one `tca` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// Both nodes: certificate from the cluster CA, `tca` = cluster CA.
    Shared,
    /// The joiner's `tca` is the unrelated CA; its own certificate is still from the cluster
    /// CA. Nothing the joiner is shown verifies (an implementation may notice at start-up
    /// that its own certificate does not chain to its `tca`).
    JoinerOtherCa,
    /// The joiner lives in the unrelated PKI (certificate and `tca`); the donor has a cluster
    /// certificate and trusts both CAs. Only the joiner's check of the donor's client
    /// certificate can fail, in the TLS handshake.
    JoinerRejectsDonor,
    /// The joiner has an unrelated certificate and trusts both CAs; the donor trusts only the
    /// cluster CA. Only the donor's check of the joiner's server certificate can fail.
    DonorRejectsJoiner,
}

/// Two nodes, not yet started. Dropping it tears both down.
pub struct Cluster {
    /// The bootstrap node (127.0.0.1 unless placed elsewhere).
    pub donor: Node,
    /// The node that joins (127.0.0.2 unless placed elsewhere).
    pub joiner: Node,
}

static CLUSTERS: AtomicU32 = AtomicU32::new(0);

/// Where one node runs: its address and the prefix that starts its mariadbd there.
#[derive(Clone, Debug)]
pub struct Site {
    /// The address the node uses for everything (SQL, group communication, IST, SST).
    pub ip: Ipv4Addr,
    /// Empty: mariadbd runs on the host. `ip netns exec NS`: inside that namespace (it execs,
    /// so the pid is mariadbd's). SQL still works from the host: the client uses the node's
    /// unix socket, which a network namespace does not hide.
    pub exec_prefix: Vec<String>,
}

impl Site {
    /// On the host, at a loopback address.
    pub fn loopback(ip: Ipv4Addr) -> Site {
        Site {
            ip,
            exec_prefix: Vec::new(),
        }
    }

    /// Inside the namespace of one end of a [`crate::netns::link::Link`], at its address.
    pub fn namespace(end: &crate::netns::link::End) -> Site {
        let ip = end
            .ip
            .parse()
            .unwrap_or_else(|e| panic!("namespace address {:?}: {e}", end.ip));
        Site {
            ip,
            exec_prefix: end.exec_prefix(),
        }
    }

    /// Free ports on the host's loopback; in a namespace, the usual Galera ports: the
    /// namespace is private, so nothing else can hold them there (and the host cannot bind
    /// the namespace's address to look for free ones).
    fn ports(&self) -> Ports {
        let ip = self.ip;
        if self.exec_prefix.is_empty() {
            Ports {
                mysql: free_port_on(&[ip]),
                gcomm: free_port_on(&[ip]),
                ist: free_port_on(&[ip]),
                sst: free_port_on(&[ip]),
                relay: free_port_on(&[ip]),
            }
        } else {
            Ports {
                mysql: 3306,
                gcomm: 4567,
                ist: 4568,
                sst: 4444,
                relay: 4445,
            }
        }
    }
}

/// Where both nodes run.
#[derive(Clone, Debug)]
pub struct Placement {
    /// The bootstrap node.
    pub donor: Site,
    /// The node that joins.
    pub joiner: Site,
}

impl Placement {
    /// Both on the host: the donor on [`DONOR_IP`], the joiner on [`JOINER_IP`].
    pub fn loopback() -> Placement {
        Placement {
            donor: Site::loopback(DONOR_IP),
            joiner: Site::loopback(JOINER_IP),
        }
    }

    /// Each in its namespace of `link`, talking across its veth pair.
    pub fn namespaces(link: &crate::netns::link::Link) -> Placement {
        Placement {
            donor: Site::namespace(&link.donor),
            joiner: Site::namespace(&link.joiner),
        }
    }
}

impl Cluster {
    /// Creates certificates, both node dirs, datadirs and option files (both nodes on
    /// loopback addresses of the host).
    pub fn new(spec: &ClusterSpec) -> Cluster {
        Cluster::placed(spec, &Placement::loopback())
    }

    /// Like [`Cluster::new`], with the nodes where `placement` says.
    pub fn placed(spec: &ClusterSpec, placement: &Placement) -> Cluster {
        node::require_tools();
        let pki_dir = tempfile::Builder::new()
            .prefix("sst-cluster-pki-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
        let dir = pki_dir.path();
        let ca = Issuer::new(dir, "cluster");
        let other = Issuer::new(dir, "unrelated");
        let bundle = dir.join("both-ca.pem");
        let mut both_pem = fs::read(&ca.file).unwrap_or_default();
        both_pem.extend(fs::read(&other.file).unwrap_or_default());
        fs::write(&bundle, both_pem)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", bundle.display()));
        let (donor_ip, joiner_ip) = (placement.donor.ip, placement.joiner.ip);
        let ips = [donor_ip, joiner_ip];
        let (donor_issuer, donor_tca, joiner_issuer, joiner_tca) = match spec.trust {
            Trust::Shared => (&ca, &ca.file, &ca, &ca.file),
            Trust::JoinerOtherCa => (&ca, &ca.file, &ca, &other.file),
            Trust::JoinerRejectsDonor => (&ca, &bundle, &other, &other.file),
            Trust::DonorRejectsJoiner => (&ca, &ca.file, &other, &bundle),
        };
        let ips = ips.map(|ip| ip.to_string());
        let ips = [ips[0].as_str(), ips[1].as_str()];
        let donor_leaf = donor_issuer.issue("n1", &["localhost"], &ips);
        let joiner_leaf = joiner_issuer.issue("n2", &["localhost"], &ips);

        let donor_ports = placement.donor.ports();
        let joiner_ports = placement.joiner.ports();
        let cluster_address = format!(
            "gcomm://{donor_ip}:{},{joiner_ip}:{}",
            donor_ports.gcomm, joiner_ports.gcomm
        );
        let cluster_name = format!(
            "sst-test-{}-{}",
            std::process::id(),
            CLUSTERS.fetch_add(1, Ordering::Relaxed)
        );
        let donor = Node::create(&NodeConfig {
            name: "n1",
            ip: donor_ip,
            method: spec.donor,
            ports: donor_ports,
            cluster_name: &cluster_name,
            cluster_address: &cluster_address,
            tls: TlsFiles {
                ca: donor_tca,
                cert: &donor_leaf.cert,
                key: &donor_leaf.key,
            },
            sst_bwlimit: spec.sst_bwlimit,
            exec_prefix: &placement.donor.exec_prefix,
        });
        let joiner = Node::create(&NodeConfig {
            name: "n2",
            ip: joiner_ip,
            method: spec.joiner,
            ports: joiner_ports,
            cluster_name: &cluster_name,
            cluster_address: &cluster_address,
            tls: TlsFiles {
                ca: joiner_tca,
                cert: &joiner_leaf.cert,
                key: &joiner_leaf.key,
            },
            sst_bwlimit: spec.sst_bwlimit,
            exec_prefix: &placement.joiner.exec_prefix,
        });
        Cluster { donor, joiner }
    }

    /// Starts the donor with `--wsrep-new-cluster` and waits until it is Synced alone.
    pub fn bootstrap_donor(&mut self) {
        self.donor.start(true);
        self.donor.wait_synced(1, START_TIMEOUT);
    }

    /// Starts the joiner and waits until both nodes are Synced in a cluster of two.
    pub fn join(&mut self, timeout: Duration) {
        self.joiner.start(false);
        self.joiner.wait_synced(2, timeout);
        self.donor.wait_synced(2, START_TIMEOUT);
    }
}
