//! An SST across the link: the joiner's method runs inside the joiner's
//! namespace, the donor's inside the donor's, both started through
//! `ip netns exec` by the fake mariadbd ([`crate::fake_mariadbd`]), which
//! plays the server's side of the stdout protocol.
//!
//! The implementation is our binary (through the `wsrep_sst_rsync_tunnel`
//! symlink) or the socat + rsync reference peer, installed under the same
//! name in the world's bin dir.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::fake_mariadbd::command::{CommandLine, DonorParams, Era, JoinerParams};
use crate::fake_mariadbd::datadir::{self, Tree, UUID};
use crate::fake_mariadbd::run::{Sst, Stdin};
use crate::fake_mariadbd::server::{self, Flush};
use crate::fake_mariadbd::world::{Node, Parent, World, METHOD};
use crate::fake_mariadbd::{STEP, TRANSFER};
use crate::figures;

use super::link::Link;

/// Which SST method the nodes run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// Our binary.
    SstTunnel,
    /// `tests/support/socat-sst/wsrep_sst_rsync_tunnel` (bash, socat, rsync).
    SocatReference,
}

impl Method {
    /// Name for messages and figures.
    pub fn label(self) -> &'static str {
        match self {
            Method::SstTunnel => "sst-tunnel",
            Method::SocatReference => "socat reference",
        }
    }
}

/// The state the fake donor server reports.
pub fn state() -> String {
    format!("{UUID}:7 3")
}

/// Two nodes whose certificates carry the namespace addresses, the
/// donor's datadir holding the fixture plus `extra_mib` MiB of table data.
pub struct NsPair {
    /// The world (temp tree, bin dir, CA).
    pub world: World,
    /// The receiving node (in the joiner namespace).
    pub joiner: Node,
    /// The sending node (in the donor namespace).
    pub donor: Node,
    /// The joiner's `--parent`.
    pub parent: Parent,
    /// What runs.
    pub method: Method,
}

impl NsPair {
    /// A world for `method` on `link`.
    pub fn new(link: &Link, method: Method, extra_mib: usize) -> NsPair {
        let world = World::new();
        if method == Method::SocatReference {
            let script = crate::socat::reference_script();
            let name = world.bin.join(METHOD);
            fs::remove_file(&name).unwrap();
            symlink(script, &name).unwrap();
            for tool in ["socat", "my_print_defaults", "ss"] {
                assert!(
                    which(tool).is_some(),
                    "{tool} not found: the socat reference needs socat, mariadb-server \
                     (my_print_defaults) and iproute2 (apt-get install socat mariadb-server iproute2)"
                );
            }
        }
        let jcert = world
            .ca
            .issue("joiner", &["localhost"], &["127.0.0.1", link.joiner.ip]);
        let dcert = world
            .ca
            .issue("donor", &["localhost"], &["127.0.0.1", link.donor.ip]);
        let joiner = world.node_with_cert("joiner", jcert);
        let donor = world.node_with_cert("donor", dcert);
        datadir::populate_joiner(&joiner.datadir);
        datadir::populate_donor(&donor.datadir);
        add_table_data(&donor.datadir, extra_mib);
        if method == Method::SocatReference {
            // The reference's rsync daemon config has no `uid`, so a daemon
            // started by root serves as `nobody` (mariadbd never runs as
            // root, the test does): give the joiner's datadir to nobody.
            super::run(&["chown", "-R", "nobody:", joiner.datadir.to_str().unwrap()]);
        }
        let parent = world.parent();
        NsPair {
            world,
            joiner,
            donor,
            parent,
            method,
        }
    }

    /// Sets an `[sst]` key on both nodes.
    pub fn set_sst(&mut self, key: &str, value: &str) {
        self.joiner.set_sst(key, value);
        self.donor.set_sst(key, value);
    }

    /// Starts the joiner in its namespace; returns it and the address its
    /// `ready` line gave (what mariadbd hands to the donor).
    pub fn start_joiner(&self, link: &Link) -> (Sst, String) {
        // Our binary binds port 0 and reports the port; the reference needs
        // one. The namespace is private, so no one else can hold 4444 there.
        let port = match self.method {
            Method::SstTunnel => 0,
            Method::SocatReference => 4444,
        };
        let cmd = CommandLine::joiner(&JoinerParams {
            era: Era::V10_11,
            node: &self.joiner,
            address: format!("{}:{port}", link.joiner.ip),
            parent: self.parent.pid(),
            progress: false,
        });
        let mut joiner = Sst::spawn_wrapped(
            &self.world,
            &self.joiner,
            "joiner",
            cmd.render(),
            Stdin::DevNull,
            &link.joiner.exec_prefix(),
        );
        let addr = server::read_ready(&mut joiner);
        assert!(
            addr.starts_with(&format!("{}:", link.joiner.ip)),
            "joiner: ready address {addr:?} is not on {}\n{}",
            link.joiner.ip,
            joiner.diagnostics()
        );
        (joiner, addr)
    }

    /// Starts the donor in its namespace, aimed at `addr`.
    pub fn start_donor(&self, link: &Link, addr: &str) -> Sst {
        let cmd = CommandLine::donor(&DonorParams {
            era: Era::V10_11,
            node: &self.donor,
            address: addr.to_string(),
            progress: false,
            gtid: format!("{UUID}:6"),
            domain: 3,
            bypass: false,
        });
        Sst::spawn_wrapped(
            &self.world,
            &self.donor,
            "donor",
            cmd.render(),
            Stdin::DevNull,
            &link.donor.exec_prefix(),
        )
    }

    /// What the joiner must hold after a complete SST (binlogs aside):
    /// what the method ships of the donor's tree, plus its own grastate.
    pub fn expected_joiner_tree(&self, donor_before: &Tree, joiner_before: &Tree) -> Tree {
        let mut expected = datadir::shipped(donor_before);
        if self.method == Method::SocatReference {
            // The reference ships the root's ibdata*, ib_lru_dump and the
            // binlog tar only (no undo*, no aria_log*).
            expected.retain(|k, _| {
                k.contains('/')
                    || !(k.starts_with("undo") || k.starts_with("aria_log"))
                    || matches!(donor_before.get(k), Some(datadir::Entry::Dir(_)))
            });
        }
        let g = "grastate.dat".to_string();
        expected.insert(g.clone(), joiner_before[&g].clone());
        datadir::without_binlogs(&expected)
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// `extra_mib` MiB of table files (4 MiB each, in two schemas), so the
/// transfer lasts long enough on a throttled link.
pub fn add_table_data(datadir: &Path, extra_mib: usize) {
    let chunk = 4;
    for i in 0..extra_mib.div_ceil(chunk) {
        let rel = format!("bulk{}/t{i}.ibd", i % 2);
        let p = datadir.join(&rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, crate::bytes::named(&rel, chunk << 20)).unwrap();
    }
}

/// Total size of the regular files under `dir`.
pub fn tree_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => todo.push(e.path()),
                Ok(m) if m.is_file() => total += m.len(),
                _ => {}
            }
        }
    }
    total
}

/// Follows a process's peak RSS (`VmHWM`) until it is gone.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Option<u64>>>,
}

impl RssSampler {
    /// Samples `pid` every 50 ms.
    pub fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut last = None;
            while !s.load(Ordering::Relaxed) {
                match figures::peak_rss_kib(pid) {
                    Some(v) => last = Some(v),
                    None => break,
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            last
        });
        RssSampler {
            stop,
            thread: Some(thread),
        }
    }

    /// The last peak seen.
    pub fn finish(mut self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok().flatten())
    }
}

/// A complete SST across the link.
pub struct Transfer {
    /// Donor start to the joiner's state line.
    pub elapsed: Duration,
    /// Bytes the joiner had to receive (the shipped part of the donor).
    pub bytes: u64,
    /// Peak RSS of our joiner and donor processes (KiB; our binary only).
    pub peak_rss_kib: Option<u64>,
}

impl Transfer {
    /// MB/s (10^6 bytes).
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64()
    }
}

/// Runs a whole SST and checks the outcome: both exit 0, the joiner's last
/// line is the state, the donor ends with `done`, the joiner's tree is what
/// the donor ships, nothing of the test left running.
pub fn transfer(pair: &NsPair, link: &Link) -> Transfer {
    let donor_before = datadir::snapshot(&pair.donor.datadir);
    let joiner_before = datadir::snapshot(&pair.joiner.datadir);
    let (mut joiner, addr) = pair.start_joiner(link);
    let start = Instant::now();
    let mut donor = pair.start_donor(link, &addr);
    let samplers = match pair.method {
        Method::SstTunnel => vec![
            RssSampler::start(joiner.method_pid()),
            RssSampler::start(donor.method_pid()),
        ],
        Method::SocatReference => Vec::new(),
    };
    let donor_lines = server::serve_donor(
        &mut donor,
        &pair.donor.datadir,
        &Flush::State(state()),
        TRANSFER,
    );
    let donor_code = donor.wait(STEP);
    let both = |j: &Sst, d: &Sst| format!("{}\n\n{}", j.diagnostics(), d.diagnostics());
    assert_eq!(
        donor_code,
        0,
        "{} donor exit\n{}",
        pair.method.label(),
        both(&joiner, &donor)
    );
    let joiner_lines = joiner.read_to_eof(TRANSFER);
    let elapsed = start.elapsed();
    let joiner_code = joiner.wait(STEP);
    assert_eq!(
        joiner_code,
        0,
        "{} joiner exit\n{}",
        pair.method.label(),
        both(&joiner, &donor)
    );
    assert_eq!(
        joiner_lines.last().map(String::as_str),
        Some(state().as_str()),
        "joiner: last line must be the state"
    );
    assert_eq!(
        donor_lines.last().cloned(),
        Some(format!("done {}", state())),
        "donor: last line must be done"
    );
    let peak_rss_kib = samplers.into_iter().filter_map(RssSampler::finish).max();
    let expected = pair.expected_joiner_tree(&donor_before, &joiner_before);
    let actual = datadir::without_binlogs(&datadir::snapshot(&pair.joiner.datadir));
    datadir::assert_trees_equal(
        &format!(
            "{}: joiner datadir vs what the donor ships",
            pair.method.label()
        ),
        &actual,
        &expected,
    );
    datadir::assert_binlogs(
        &pair.joiner.datadir,
        &pair.donor.datadir,
        &["mysql-bin.000002"],
    );
    crate::procs::assert_none_left(&pair.world.root, Duration::from_secs(5));
    let bytes = datadir::shipped(&donor_before)
        .values()
        .map(|e| match e {
            datadir::Entry::File(_, c) => c.len() as u64,
            datadir::Entry::Dir(_) => 0,
        })
        .sum();
    Transfer {
        elapsed,
        bytes,
        peak_rss_kib,
    }
}
