//! The crate's only `unsafe`: what a child runs between `fork` and `exec`
//! (parent-death signal, descriptors marked close-on-exec), and the signal
//! to a process group.
#![allow(unsafe_code)]

use std::io;

/// `CLOSE_RANGE_CLOEXEC` from `<linux/close_range.h>` (Linux 5.11).
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
/// Upper bound of the fallback loop when `close_range` is missing.
const FALLBACK_MAX_FD: libc::c_int = 65_536;

/// Installs the child-side setup: parent-death signal, then every
/// descriptor above 2 marked close-on-exec.
pub(super) fn install_pre_exec(cmd: &mut tokio::process::Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec. It only
    // makes async-signal-safe system calls (prctl, getppid, close_range,
    // fcntl), touches no locks and allocates nothing except the
    // `io::Error` on the failure path, which std reports to the parent
    // through its own exec-error pipe. Marking descriptors close-on-exec
    // (instead of closing them) keeps that pipe working until exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() as u32 != parent {
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

/// Sends `sig` to process group `pgid`; a group already gone is fine.
pub(super) fn signal_group(pgid: i32, sig: libc::c_int) {
    if pgid <= 1 {
        return;
    }
    // SAFETY: killpg has no memory-safety preconditions; pgid > 1 is a
    // group we created (never 0 = our own group, never 1 = init).
    let r = unsafe { libc::killpg(pgid, sig) };
    if r != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            tracing::warn!(pgid, sig, error = %e, "killpg failed");
        }
    }
}

/// Asks the kernel for a pipe buffer of `size` bytes on `fd` (best effort:
/// the default 64 KiB pipe made the joiner's relay wake up every 64 KiB).
pub(super) fn grow_pipe(fd: std::os::fd::BorrowedFd<'_>, size: usize) {
    use std::os::fd::AsRawFd;
    let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    // SAFETY: F_SETPIPE_SZ takes an int and touches no memory of ours; the
    // descriptor is borrowed, so it is open for the whole call.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size) };
    if r < 0 {
        tracing::debug!(error = %io::Error::last_os_error(), "cannot enlarge a child pipe");
    }
}
