//! A joiner and a donor node on loopback, driven end to end the way two
//! mariadbd servers and Galera would drive them: joiner first, its `ready`
//! address handed to the donor, the donor's `flush tables` answered, both
//! stdouts read to EOF.

use std::fs;
use std::time::Duration;

use super::command::{CommandLine, DonorParams, Era, JoinerParams};
use super::datadir::{self, Tree, UUID};
use super::log::assert_all_wsrep;
use super::run::{Sst, Stdin};
use super::server::{self, Flush};
use super::world::{Node, Parent, World};
use super::{STEP, TRANSFER};
use crate::net::{free_port, port_is_free};
use crate::procs;

/// Two populated nodes and the joiner's stand-in mariadbd.
pub struct Pair {
    /// The world (kept alive while the pair is).
    pub world: World,
    /// The receiving node.
    pub joiner: Node,
    /// The sending node.
    pub donor: Node,
    /// The joiner's `--parent`.
    pub parent: Parent,
}

impl Pair {
    /// Two nodes with fixture datadirs.
    pub fn new() -> Pair {
        let world = World::new();
        let joiner = world.node("joiner");
        let donor = world.node("donor");
        datadir::populate_joiner(&joiner.datadir);
        datadir::populate_donor(&donor.datadir);
        let parent = world.parent();
        Pair {
            world,
            joiner,
            donor,
            parent,
        }
    }
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}

/// An edit applied to a command line before it runs.
pub type Edit = Box<dyn Fn(&mut CommandLine)>;

/// How to run the pair.
pub struct Plan {
    /// Server generation rendering the joiner's command.
    pub joiner_era: Era,
    /// Server generation rendering the donor's command.
    pub donor_era: Era,
    /// `--progress 1` on both.
    pub progress: bool,
    /// IST: `--bypass` on the donor.
    pub bypass: bool,
    /// stdin of both methods.
    pub stdin: Stdin,
    /// `--gtid` of the donor.
    pub gtid: String,
    /// `--gtid-domain-id` of the donor.
    pub domain: u32,
    /// What the fake donor server writes on `flush tables`.
    pub flush: Flush,
    /// Changes to the joiner's command line.
    pub joiner_edit: Edit,
    /// Changes to the donor's command line.
    pub donor_edit: Edit,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            joiner_era: Era::V10_11,
            donor_era: Era::V10_11,
            progress: false,
            bypass: false,
            stdin: Stdin::DevNull,
            gtid: format!("{UUID}:6"),
            domain: 3,
            flush: Flush::State(format!("{UUID}:7 3")),
            joiner_edit: Box::new(|_| {}),
            donor_edit: Box::new(|_| {}),
        }
    }
}

impl Plan {
    /// The state the donor must print after `done` and the joiner must print:
    /// `tables_flushed` content for SST, `--gtid --gtid-domain-id` for IST.
    pub fn expected_state(&self) -> String {
        match (&self.flush, self.bypass) {
            (_, true) | (Flush::Error, _) => format!("{} {}", self.gtid, self.domain),
            (Flush::State(s), false) => s.clone(),
        }
    }
}

/// A finished pair run.
pub struct Outcome {
    /// The joiner process (finished).
    pub joiner: Sst,
    /// The donor process (finished).
    pub donor: Sst,
    /// The joiner's port.
    pub port: u16,
    /// The joiner's exit code.
    pub joiner_code: i32,
    /// The donor's exit code.
    pub donor_code: i32,
    /// The donor datadir before the run.
    pub donor_before: Tree,
    /// The joiner datadir before the run.
    pub joiner_before: Tree,
}

/// Starts the joiner with `plan` on a fresh port; returns it after `ready`
/// and checks that `sst_in_progress` exists by then.
pub fn start_joiner(pair: &Pair, plan: &Plan) -> (Sst, u16, String) {
    start_joiner_on(pair, plan, free_port())
}

/// [`start_joiner`] on a given port (a restart on the port of a failed run).
pub fn start_joiner_on(pair: &Pair, plan: &Plan, port: u16) -> (Sst, u16, String) {
    let mut cmd = CommandLine::joiner(&JoinerParams {
        era: plan.joiner_era,
        node: &pair.joiner,
        address: format!("127.0.0.1:{port}"),
        parent: pair.parent.pid(),
        progress: plan.progress,
    });
    (plan.joiner_edit)(&mut cmd);
    let mut joiner = Sst::spawn(
        &pair.world,
        &pair.joiner,
        "joiner",
        cmd.render(),
        plan.stdin,
    );
    let addr = server::read_ready(&mut joiner);
    assert!(
        pair.joiner.datadir.join("sst_in_progress").exists(),
        "joiner: no sst_in_progress after ready\n{}",
        joiner.diagnostics()
    );
    (joiner, port, addr)
}

/// The donor's command line for `plan`, aimed at the joiner's `ready` address.
pub fn donor_command(pair: &Pair, plan: &Plan, addr: &str) -> String {
    let mut cmd = CommandLine::donor(&DonorParams {
        era: plan.donor_era,
        node: &pair.donor,
        address: addr.to_string(),
        progress: plan.progress,
        gtid: plan.gtid.clone(),
        domain: plan.domain,
        bypass: plan.bypass,
    });
    (plan.donor_edit)(&mut cmd);
    cmd.render()
}

/// Runs a whole SST (or IST) and returns both finished processes. Panics
/// with both logs if the donor fails. Before an SST, stale `tables_flushed`
/// and `sst_error` files are planted in the donor datadir (the method must
/// delete them before printing `flush tables`).
pub fn run(pair: &Pair, plan: &Plan) -> Outcome {
    run_with(pair, plan, |_| {})
}

/// [`run`], calling `after_ready(port)` once the joiner printed `ready` and
/// before the donor starts (to aim hostile clients at the joiner first).
pub fn run_with(pair: &Pair, plan: &Plan, after_ready: impl FnOnce(u16)) -> Outcome {
    run_inner(pair, plan, free_port(), after_ready)
}

/// [`run`] with the joiner on `port` (a restart on the port of a failed run).
pub fn run_on(pair: &Pair, plan: &Plan, port: u16) -> Outcome {
    run_inner(pair, plan, port, |_| {})
}

fn run_inner(pair: &Pair, plan: &Plan, port: u16, after_ready: impl FnOnce(u16)) -> Outcome {
    let donor_before = datadir::snapshot(&pair.donor.datadir);
    let joiner_before = datadir::snapshot(&pair.joiner.datadir);
    if !plan.bypass {
        let stale = format!("{UUID}:1 0\n");
        fs::write(pair.donor.datadir.join("tables_flushed"), stale).unwrap();
        fs::write(pair.donor.datadir.join("sst_error"), "").unwrap();
    }
    let (mut joiner, port, addr) = start_joiner_on(pair, plan, port);
    after_ready(port);
    let cmd = donor_command(pair, plan, &addr);
    let mut donor = Sst::spawn(&pair.world, &pair.donor, "donor", cmd, plan.stdin);
    server::serve_donor(&mut donor, &pair.donor.datadir, &plan.flush, TRANSFER);
    let donor_code = donor.wait(STEP);
    donor.assert_stdout_closed(Duration::from_secs(2));
    if donor_code != 0 {
        panic!(
            "donor exited {donor_code}\n{}\n\n{}",
            donor.diagnostics(),
            joiner.diagnostics()
        );
    }
    joiner.read_to_eof(TRANSFER);
    let joiner_code = joiner.wait(STEP);
    joiner.assert_stdout_closed(Duration::from_secs(2));
    joiner.stop_watching();
    donor.stop_watching();
    Outcome {
        joiner,
        donor,
        port,
        joiner_code,
        donor_code,
        donor_before,
        joiner_before,
    }
}

impl Outcome {
    /// The checks every successful run must pass: exit codes 0, stdout of
    /// both roles exactly the protocol, stderr in the WSREP_SST form, no
    /// child held a leaked descriptor, no process left behind, no temporary
    /// file left in either datadir, the donor datadir unchanged.
    pub fn assert_success(&self, pair: &Pair, plan: &Plan) {
        let both = || {
            format!(
                "{}\n\n{}",
                self.joiner.diagnostics(),
                self.donor.diagnostics()
            )
        };
        if std::env::var_os("SST_TEST_SHOW").is_some() {
            eprintln!("{}", both());
            eprintln!("joiner children: {:#?}", self.joiner.seen_children());
            eprintln!("donor children: {:#?}", self.donor.seen_children());
        }
        assert_eq!(self.joiner_code, 0, "joiner exit code\n{}", both());
        assert_eq!(self.donor_code, 0, "donor exit code\n{}", both());
        let state = plan.expected_state();
        server::check_joiner_stdout(&self.joiner, self.port, &state, plan.progress);
        server::check_donor_stdout(&self.donor, &state, !plan.bypass, plan.progress);
        assert_all_wsrep("joiner", &self.joiner.log_text());
        assert_all_wsrep("donor", &self.donor.log_text());
        self.joiner.assert_children_clean();
        self.donor.assert_children_clean();
        procs::assert_none_left(&pair.world.root, Duration::from_secs(5));
        for (node, role) in [(&pair.joiner, "joiner"), (&pair.donor, "donor")] {
            for f in [
                "wsrep_sst_binlog.tar",
                "rsync_tunnel_sst_complete",
                "sst_in_progress",
                "rsync_tunnel_sst.conf",
                "rsync_tunnel_sst.pid",
                "rsync_tunnel_sst-socat.pid",
                "tables_flushed",
                "tables_flushed.tmp",
                "sst_error",
            ] {
                assert!(
                    !node.datadir.join(f).exists(),
                    "{role}: {f} left in the datadir\n{}",
                    both()
                );
            }
        }
        datadir::assert_trees_equal(
            "donor datadir changed by the SST",
            &datadir::snapshot(&pair.donor.datadir),
            &self.donor_before,
        );
    }

    /// After an SST: the joiner holds exactly what the protocol ships, its
    /// own grastate.dat, and the last `binlogs` of the donor's index.
    pub fn assert_sst_tree(&self, pair: &Pair, binlogs: &[&str]) {
        let mut expected = datadir::shipped(&self.donor_before);
        let grastate = "grastate.dat".to_string();
        expected.insert(grastate.clone(), self.joiner_before[&grastate].clone());
        let actual = datadir::without_binlogs(&datadir::snapshot(&pair.joiner.datadir));
        datadir::assert_trees_equal(
            "joiner datadir after SST vs what the donor ships",
            &actual,
            &datadir::without_binlogs(&expected),
        );
        datadir::assert_binlogs(&pair.joiner.datadir, &pair.donor.datadir, binlogs);
    }
}

/// After a joiner ended (any way): its contract files are gone, the port is
/// free and no process of the test is left.
pub fn assert_joiner_cleaned(pair: &Pair, joiner: &Sst, port: u16) {
    for f in [
        "sst_in_progress",
        "rsync_tunnel_sst.conf",
        "rsync_tunnel_sst.pid",
        "rsync_tunnel_sst_complete",
        "wsrep_sst_binlog.tar",
    ] {
        assert!(
            !pair.joiner.datadir.join(f).exists(),
            "joiner: {f} left in the datadir\n{}",
            joiner.diagnostics()
        );
    }
    procs::assert_none_left(&pair.world.root, Duration::from_secs(5));
    assert!(
        port_is_free(port),
        "joiner port {port} still bound after exit\n{}",
        joiner.diagnostics()
    );
}

/// Ends a joiner that still waits (its donor failed) the way Galera would:
/// mariadbd aborts. Asserts exit 32 and the clean-up.
pub fn end_joiner_by_parent_death(pair: &mut Pair, joiner: &mut Sst, port: u16) {
    assert_eq!(
        joiner.try_status(),
        None,
        "joiner ended on its own\n{}",
        joiner.diagnostics()
    );
    pair.parent.kill();
    let code = joiner.wait(super::PARENT_DEATH + Duration::from_secs(2));
    assert_eq!(
        code,
        super::code(sst_tunnel::ExitCode::BrokenPipe),
        "joiner exit after parent death\n{}",
        joiner.diagnostics()
    );
    joiner.assert_stdout_closed(Duration::from_secs(2));
    assert_joiner_cleaned(pair, joiner, port);
}
