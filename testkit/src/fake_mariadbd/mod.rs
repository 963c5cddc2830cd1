//! A fake mariadbd for the SST-method tests: it runs `wsrep_sst_rsync_tunnel`
//! exactly as mariadbd 10.11 (or 10.4) does (sst-protocol.md §1) and plays the
//! server's side of the stdout protocol (§3).
//!
//! - [`world`]: the test's temp tree, the private bin dir with the symlink,
//!   a trusted and a rogue CA ([`crate::pki::Issuer`]), nodes (datadir,
//!   my.cnf, error log) and sacrificial `--parent` processes.
//! - [`command`]: mariadbd's command strings, as it renders them.
//! - [`run`]: one method process started through `sh -c`, its stdout lines.
//! - [`watcher`]: samples a method's children and their descriptors.
//! - [`pair`]: a joiner and a donor driven end to end.
//! - [`server`]: the server's side of the protocol (donor flush, joiner lines).
//! - [`datadir`]: fixture data directories and tree comparison.
//! - [`faults`]: process-tree kills, datadir write accounting, a tmpfs.
//! - [`midway`]: a rate-limited pair held mid-transfer, for fault tests.
//! - [`hostile`]: plaintext and untrusted clients aimed at the joiner.
//! - [`attacker`]: a donor with a valid certificate and hostile intent,
//!   tunnelling raw rsync commands into a joiner.
//! - [`flood`]: every hostile group at once during a transfer, with RSS sampling.
//! - [`created`]: the files the method creates, probed as another user.
//! - [`private_dir`]: the joiner's private directory, found and checked.
//! - [`other_user`]: uid 65534 reading paths and probing ports (`setpriv`).
//! - [`listeners`]: the listening TCP sockets of a set of processes.
//! - [`log`]: the `WSREP_SST: [LEVEL] msg (time)` stderr format check.

pub mod attacker;
pub mod command;
pub mod created;
pub mod datadir;
pub mod faults;
pub mod flood;
pub mod hostile;
pub mod listeners;
pub mod log;
pub mod midway;
pub mod other_user;
pub mod pair;
pub mod private_dir;
pub mod run;
pub mod server;
pub mod watcher;
pub mod world;

use std::time::Duration;

/// Generous bound for anything that should take well under a second on an
/// idle machine; the build host has 2 cores shared with other builds.
pub const STEP: Duration = Duration::from_secs(20);

/// Bound for a whole small transfer.
pub const TRANSFER: Duration = Duration::from_secs(60);

/// The protocol's bound for noticing a dead parent (SPEC §5: 2 s), plus the
/// poll granularity of the test.
pub const PARENT_DEATH: Duration = Duration::from_millis(2500);

/// The exit code as a number, from the library's table.
pub fn code(c: sst_tunnel::ExitCode) -> i32 {
    i32::from(c.code())
}
