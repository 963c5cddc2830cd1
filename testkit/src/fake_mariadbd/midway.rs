//! A transfer caught in the middle: a rate-limited pair started and held
//! until the first bytes are in the joiner's datadir, so that a fault lands
//! while rsync writes; plus the joiner's expected way of giving up after its
//! donor failed.

use std::time::{Duration, Instant};

use sst_tunnel::ExitCode;

use super::datadir::{self, UUID};
use super::faults::{self, Usage};
use super::log;
use super::pair::{self, Pair, Plan};
use super::run::{Parentage, Sst, Stdin};
use super::server;
use super::{code, STEP};
use crate::procs;

/// KiB/s per rsync run: the fixture (~6.7 MB shipped) takes well over ten
/// seconds, so a fault after the first bytes lands mid-transfer.
pub const BWLIMIT: &str = "384";
/// Bytes that must have arrived before the fault is injected.
pub const ARRIVED: u64 = 192 * 1024;
/// The joiner's `sst-idle-timeout` in these tests (seconds).
pub const JOINER_IDLE: u64 = 3;

/// A transfer caught in the middle.
pub struct Mid {
    /// The joiner's method process.
    pub joiner: Sst,
    /// The donor's method process.
    pub donor: Sst,
    /// The joiner's SST port.
    pub port: u16,
    /// The pid running the joiner's binary.
    pub joiner_pid: u32,
    /// The pid running the donor's binary.
    pub donor_pid: u32,
    /// The joiner datadir before the transfer.
    pub base: Usage,
    /// The joiner datadir when the fault is about to be injected.
    pub at_fault: Usage,
    /// What the donor ships in all.
    pub total: u64,
}

impl Mid {
    /// Both methods' diagnostics, for a failure message.
    pub fn diagnostics(&self) -> String {
        format!(
            "{}\n\n{}",
            self.joiner.diagnostics(),
            self.donor.diagnostics()
        )
    }

    /// Bytes that had arrived when the fault came; asserts the fault lands
    /// mid-transfer (some but not all bytes arrived).
    pub fn arrived(&self) -> u64 {
        let got = faults::written_between(&self.base, &self.at_fault);
        assert!(
            got > 0 && got < self.total,
            "not mid-transfer: {got} of {} bytes arrived\n{}",
            self.total,
            self.diagnostics()
        );
        got
    }
}

/// Bytes an SST ships from `donor`.
pub fn shipped_bytes(pair: &Pair) -> u64 {
    datadir::shipped(&datadir::snapshot(&pair.donor.datadir))
        .values()
        .map(|e| match e {
            datadir::Entry::File(_, c) => c.len() as u64,
            datadir::Entry::Dir(_) => 0,
        })
        .sum()
}

/// The donor's loopback relay port, read from its running rsync's
/// `rsync://127.0.0.1:PORT/...` argument.
pub fn relay_port(donor_pid: u32) -> u16 {
    let mut port = None;
    let found = crate::poll::until(STEP, || {
        port = procs::descendants(donor_pid)
            .into_iter()
            .flat_map(procs::argv)
            .find_map(|a| {
                let rest = a.strip_prefix("rsync://")?;
                let authority = rest.split('/').next()?;
                authority.rsplit_once(':')?.1.parse().ok()
            });
        port.is_some()
    });
    assert!(found, "no rsync:// argument under the donor {donor_pid}");
    port.unwrap()
}

/// A pair whose donor is rate-limited and whose joiner gives up after
/// [`JOINER_IDLE`] seconds without a byte.
pub fn slow_pair() -> Pair {
    let mut pair = Pair::new();
    pair.donor.set_sst("sst-bwlimit", BWLIMIT);
    pair.joiner
        .set_sst("sst-idle-timeout", &JOINER_IDLE.to_string());
    pair
}

/// Starts joiner and donor (the donor with `donor_parent`), answers `flush
/// tables`, and returns once [`ARRIVED`] bytes are in the joiner datadir.
pub fn start_mid_transfer(pair: &Pair, donor_parent: Parentage) -> Mid {
    let plan = Plan::default();
    let total = shipped_bytes(pair);
    let base = faults::usage(&pair.joiner.datadir);
    let (mut joiner, port, addr) = pair::start_joiner(pair, &plan);
    let cmd = pair::donor_command(pair, &plan, &addr);
    let mut donor = Sst::spawn_as(
        &pair.world,
        &pair.donor,
        "donor",
        cmd,
        Stdin::DevNull,
        donor_parent,
    );
    server::answer_first_flush(
        &mut donor,
        &pair.donor.datadir,
        &format!("{UUID}:7 3"),
        STEP,
    );
    let joiner_pid = joiner.method_pid();
    let donor_pid = donor.method_pid();
    let at_fault = faults::wait_written(&pair.joiner.datadir, &base, ARRIVED, STEP);
    assert_eq!(joiner.try_status(), None, "{}", joiner.diagnostics());
    assert_eq!(donor.try_status(), None, "{}", donor.diagnostics());
    Mid {
        joiner,
        donor,
        port,
        joiner_pid,
        donor_pid,
        base,
        at_fault,
        total,
    }
}

/// The joiner after a failure of the donor: it ends on its own within its
/// idle timeout with exit 110, an ERROR naming the stall and the donor's
/// connection, no state on stdout, and its clean-up done.
pub fn assert_joiner_gives_up(pair: &Pair, mid: &mut Mid, since: Instant) -> (i32, Duration) {
    let c = mid.joiner.wait(Duration::from_secs(JOINER_IDLE) + STEP);
    let took = since.elapsed();
    mid.joiner.assert_stdout_closed(Duration::from_secs(2));
    let diag = mid.diagnostics();
    assert_eq!(c, code(ExitCode::TimedOut), "joiner exit\n{diag}");
    let joiner_log = mid.joiner.log_text();
    assert!(
        log::find(&joiner_log, &["[ERROR]", "sst-idle-timeout", "donor"]).is_some(),
        "joiner's error does not name the stall and the donor\n{diag}"
    );
    assert_eq!(
        mid.joiner.texts().len(),
        1,
        "joiner printed more than `ready`: {:?}",
        mid.joiner.texts()
    );
    pair::assert_joiner_cleaned(pair, &mid.joiner, mid.port);
    (c, took)
}
