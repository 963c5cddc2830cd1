//! What a child runs between `fork` and `exec`: the parent-death signal,
//! then every inherited descriptor above 2 marked close-on-exec. This is
//! the crate's only `unsafe`, because `CommandExt::pre_exec` is `unsafe` in
//! the standard library.

use std::io;

use rustix::process::{getpid, getppid, set_parent_process_death_signal, Signal};

/// `CLOSE_RANGE_CLOEXEC` from `<linux/close_range.h>` (Linux 5.11).
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
/// Upper bound of the fallback loop when `close_range` is missing.
const FALLBACK_MAX_FD: libc::c_int = 65_536;

/// Installs the child-side setup: parent-death signal, then every
/// descriptor above 2 marked close-on-exec.
#[allow(unsafe_code)]
pub(super) fn install_pre_exec(cmd: &mut tokio::process::Command) {
    let parent = getpid();
    // SAFETY: `pre_exec` is unsafe because the closure runs in the forked
    // child of a multi-threaded process, where only async-signal-safe work
    // is sound. It makes plain system calls only (prctl and getppid through
    // rustix's raw-syscall wrappers, then close_range or fcntl), takes no
    // lock and allocates nothing except the `io::Error` on the failure
    // path, which std reports to the parent through its own exec-error
    // pipe. Marking descriptors close-on-exec (instead of closing them)
    // keeps that pipe working until exec.
    //
    // The two raw libc calls inside have no safe wrapper: neither rustix
    // (1.1) nor nix (0.32) wraps close_range, and the fallback's fcntl acts
    // on descriptor numbers this process does not own (they are whatever
    // mariadbd leaked, possibly none), which a `BorrowedFd` must not stand
    // for. Both take plain integers and touch no memory of ours; a number
    // that is not open just yields EBADF.
    unsafe {
        cmd.pre_exec(move || {
            set_parent_process_death_signal(Some(Signal::KILL))?;
            // The parent may have died before prctl took effect.
            if getppid() != Some(parent) {
                return Err(io::Error::other("parent exited before exec"));
            }
            let r = libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                libc::c_uint::MAX,
                CLOSE_RANGE_CLOEXEC,
            );
            if r != 0 {
                // Older kernel: mark them one by one.
                for fd in 3..FALLBACK_MAX_FD {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            Ok(())
        });
    }
}
