//! Harness for the real two-node Galera cluster tests (issue 3): a donor on 127.0.0.1 that
//! bootstraps the cluster and a joiner on 127.0.0.2 that receives an SST (or IST) through
//! whichever `wsrep_sst_rsync_tunnel` implementation each node has in its private bin.
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
    /// The bootstrap node (127.0.0.1).
    pub donor: Node,
    /// The node that joins (127.0.0.2).
    pub joiner: Node,
}

static CLUSTERS: AtomicU32 = AtomicU32::new(0);

fn ports(ip: Ipv4Addr) -> Ports {
    Ports {
        mysql: free_port_on(&[ip]),
        gcomm: free_port_on(&[ip]),
        ist: free_port_on(&[ip]),
        sst: free_port_on(&[ip]),
        relay: free_port_on(&[ip]),
    }
}

impl Cluster {
    /// Creates certificates, both node dirs, datadirs and option files.
    pub fn new(spec: &ClusterSpec) -> Cluster {
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
        let ips = [DONOR_IP, JOINER_IP];
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

        let donor_ports = ports(DONOR_IP);
        let joiner_ports = ports(JOINER_IP);
        let cluster_address = format!(
            "gcomm://{DONOR_IP}:{},{JOINER_IP}:{}",
            donor_ports.gcomm, joiner_ports.gcomm
        );
        let cluster_name = format!(
            "sst-test-{}-{}",
            std::process::id(),
            CLUSTERS.fetch_add(1, Ordering::Relaxed)
        );
        let donor = Node::create(&NodeConfig {
            name: "n1",
            ip: DONOR_IP,
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
        });
        let joiner = Node::create(&NodeConfig {
            name: "n2",
            ip: JOINER_IP,
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
