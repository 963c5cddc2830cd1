//! One manual transfer end to end (`sst-tunnel joiner`, then `sst-tunnel
//! donor` towards its `ready` address, on loopback), and what it needs: a
//! CA with a certificate per node, and option files naming them plus the
//! `[sst]` lines a test adds (`sst-bwlimit`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sst_tunnel::pki::LeafFiles;
use testkit::child::Proc;
use testkit::manual::ready_address;
use testkit::pki::Issuer;
use testkit::project::binary;

use super::{STEP, TRANSFER};

/// A CA and one certificate per node, every name on loopback.
pub struct Certs {
    ca: Issuer,
    /// The joiner's certificate and key.
    pub joiner: LeafFiles,
    /// The donor's.
    pub donor: LeafFiles,
}

impl Certs {
    /// The CA and both certificates, written into `dir`.
    pub fn new(dir: &Path) -> Certs {
        let ca = Issuer::new(dir, "link");
        Certs {
            joiner: ca.issue_loopback("joiner"),
            donor: ca.issue_loopback("donor"),
            ca,
        }
    }

    /// An option file at `path` whose `[sst]` names `node`'s files and
    /// bounds the wait for the first connection, then `extra` lines.
    pub fn cnf(&self, path: &Path, node: &LeafFiles, extra: &str) -> PathBuf {
        let text = format!(
            "[sst]\ntca={}\ntcert={}\ntkey={}\nsst-initial-timeout=60\n{extra}",
            self.ca.file.display(),
            node.cert.display(),
            node.key.display()
        );
        fs::write(path, text).unwrap();
        path.to_path_buf()
    }
}

/// `sst-tunnel joiner` into `datadir` on a free loopback port; returns it
/// and its `ready` address.
fn manual_joiner(dir: &Path, certs: &Certs, datadir: &Path, tag: &str) -> (Proc, String) {
    let cnf = certs.cnf(&dir.join(format!("joiner-{tag}.cnf")), &certs.joiner, "");
    let mut cmd = Command::new(binary());
    cmd.arg("joiner")
        .arg("--defaults-file")
        .arg(cnf)
        .args(["--address", "127.0.0.1:0", "--datadir"])
        .arg(datadir);
    let mut joiner = Proc::spawn(&format!("{tag} joiner"), cmd);
    let addr = ready_address(&mut joiner, STEP);
    (joiner, addr)
}

/// One manual transfer of `source` into `dest`, both exiting 0; returns the
/// joiner's log and how long the donor ran.
pub fn manual_transfer(
    dir: &Path,
    certs: &Certs,
    source: &Path,
    dest: &Path,
    tag: &str,
    donor_cnf_extra: &str,
    donor_args: &[&str],
) -> (String, Duration) {
    let (mut joiner, addr) = manual_joiner(dir, certs, dest, tag);
    let cnf_path = dir.join(format!("donor-{tag}.cnf"));
    let cnf = certs.cnf(&cnf_path, &certs.donor, donor_cnf_extra);
    let mut cmd = Command::new(binary());
    cmd.arg("donor")
        .arg("--defaults-file")
        .arg(cnf)
        .args(["--address", &addr, "--datadir"])
        .arg(source)
        .args(donor_args);
    let started = Instant::now();
    let mut donor = Proc::spawn(&format!("{tag} donor"), cmd);
    donor.assert_exit_code(0, TRANSFER);
    let took = started.elapsed();
    joiner.assert_exit_code(0, STEP);
    (joiner.stderr(), took)
}
