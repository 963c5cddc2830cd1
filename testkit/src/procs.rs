//! Processes, as the tests see them: `/proc` inspection (process trees,
//! descriptors, working directories, command lines), the "nothing left
//! behind" checks, signals, and our own uid. Linux only, like the product.
//!
//! Pids are `u32` as `std::process` has them; [`Process`], [`tree`] and
//! [`signal_all`] take `i32` pids, where a negative pid names a process
//! group as in kill(2).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use rustix::process::Signal;
use rustix::process::{kill_process, kill_process_group, Pid};

use crate::poll;

/// All pids currently in /proc.
pub fn pids() -> Vec<u32> {
    let mut v: Vec<u32> = fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    v.sort_unstable();
    v
}

/// (state, ppid) from /proc/PID/stat.
pub fn stat(pid: u32) -> Option<(char, u32)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let mut it = rest.split(' ');
    let state = it.next()?.chars().next()?;
    let ppid = it.next()?.parse().ok()?;
    Some((state, ppid))
}

/// True while the process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    matches!(stat(pid), Some((s, _)) if s != 'Z' && s != 'X')
}

/// Every live descendant of `root` (not `root` itself).
pub fn descendants(root: u32) -> Vec<u32> {
    descendants_with_parent(root)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// Every live descendant of `root` with its parent pid, parents first.
pub fn descendants_with_parent(root: u32) -> Vec<(u32, u32)> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for pid in pids() {
        if let Some((state, ppid)) = stat(pid) {
            if state != 'Z' {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            out.push((c, p));
            todo.push(c);
        }
    }
    out
}

/// The command line, arguments joined with spaces ("" when gone).
pub fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .unwrap_or_default()
}

/// argv as a vector.
pub fn argv(pid: u32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The executable (resolved by the kernel).
pub fn exe(pid: u32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// The working directory.
pub fn cwd(pid: u32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

/// Open descriptors and what they point to (`/path`, `pipe:[123]`, ...).
pub fn fds(pid: u32) -> Vec<(u32, String)> {
    let Ok(rd) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut v: Vec<(u32, String)> = rd
        .filter_map(|e| {
            let e = e.ok()?;
            let fd = e.file_name().to_str()?.parse().ok()?;
            let target = fs::read_link(e.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect();
    v.sort();
    v
}

/// Pids of live processes whose command line contains `needle`.
pub fn with_cmdline(needle: &str) -> Vec<u32> {
    pids()
        .into_iter()
        .filter(|&p| alive(p) && cmdline(p).contains(needle))
        .collect()
}

/// Pids of live processes in process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    pids()
        .into_iter()
        .filter(|&p| {
            let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
                return false;
            };
            // "pid (comm) state ppid pgrp ...": comm may hold spaces.
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str())
        })
        .collect()
}

/// What one of our own descriptors points to.
pub fn own_fd_target(fd: i32) -> String {
    fs::read_link(format!("/proc/self/fd/{fd}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Live processes (other than this test process) whose cwd is under `dir`
/// or whose command line mentions it: what a finished SST must not leave.
pub fn touching(dir: &Path) -> Vec<(u32, String)> {
    let me = std::process::id();
    let needle = dir.to_string_lossy().into_owned();
    pids()
        .into_iter()
        .filter(|&p| p != me && alive(p))
        .filter(|&p| cwd(p).is_some_and(|c| c.starts_with(dir)) || cmdline(p).contains(&needle))
        .map(|p| (p, cmdline(p)))
        .collect()
}

/// Waits until no process touches `dir`; panics with the list otherwise.
pub fn assert_none_left(dir: &Path, within: Duration) {
    let mut left = Vec::new();
    if !poll::until(within, || {
        left = touching(dir);
        left.is_empty()
    }) {
        panic!(
            "processes left behind after {within:?} (cwd or argv under {}): {left:#?}",
            dir.display()
        );
    }
}

/// Live processes holding a descriptor that points to `target`.
pub fn holders(target: &str) -> Vec<(u32, u32, String)> {
    let mut v = Vec::new();
    for p in pids() {
        if p == std::process::id() || !alive(p) {
            continue;
        }
        for (fd, t) in fds(p) {
            if t == target {
                v.push((p, fd, cmdline(p)));
            }
        }
    }
    v
}

/// Sends `sig` to process `pid`; panics when it cannot (the process is gone).
pub fn signal(pid: u32, sig: Signal) {
    let target = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .unwrap_or_else(|| panic!("{pid} is not a process id"));
    if let Err(e) = kill_process(target, sig) {
        panic!("kill -{sig:?} {pid} failed: {e}");
    }
}

/// Sends `sig` to each pid, a negative one naming a process group. Errors
/// (already gone) are ignored: this is best-effort teardown.
pub fn signal_all(pids: &[i32], sig: Signal) {
    for &pid in pids {
        let _already_gone = match Pid::from_raw(pid.abs()) {
            Some(target) if pid < 0 => kill_process_group(target, sig),
            Some(target) => kill_process(target, sig),
            None => Ok(()),
        };
    }
}

/// SIGKILLs each pid, best effort: one already gone is fine (teardown).
pub fn kill_all(pids: &[u32]) {
    for &pid in pids {
        if let Some(target) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
            let _already_gone = kill_process(target, Signal::KILL);
        }
    }
}

/// True when the tests run as root (effective uid 0).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Our effective uid.
pub fn our_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The method process of a node: the binary under test running with its
/// cwd in `datadir` (as mariadbd starts it), if one is alive.
pub fn method_pid(datadir: &Path) -> Option<u32> {
    let bin = crate::project::binary();
    pids()
        .into_iter()
        .find(|&p| alive(p) && exe(p).as_deref() == Some(bin) && cwd(p).as_deref() == Some(datadir))
}

/// True once `pid` has an rsync descendant (a transfer is under way).
pub fn runs_rsync(pid: u32) -> bool {
    descendants(pid)
        .iter()
        .any(|&c| argv(c).first().is_some_and(|a| a.ends_with("rsync")))
}

/// One live (non-zombie) process as /proc shows it.
#[derive(Clone, Debug)]
pub struct Process {
    /// Process id.
    pub pid: i32,
    /// Parent process id.
    pub ppid: i32,
    /// argv joined with spaces.
    pub cmdline: String,
    /// NUL-separated environment, as one string (empty if unreadable).
    pub environ: String,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} (ppid {}): {}", self.pid, self.ppid, self.cmdline)
    }
}

/// Every live process except zombies (a zombie cannot run, write or hold a port).
pub fn all() -> Vec<Process> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read)
        .collect()
}

fn read(pid: i32) -> Option<Process> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid ...": comm may contain spaces, so split after the last ')'.
    let mut rest = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = rest.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let ppid = rest.next()?.parse().ok()?;
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&raw)
        .split('\0')
        .filter(|arg| !arg.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let environ = fs::read(format!("/proc/{pid}/environ"))
        .map(|raw| String::from_utf8_lossy(&raw).into_owned())
        .unwrap_or_default();
    Some(Process {
        pid,
        ppid,
        cmdline,
        environ,
    })
}

/// Pids of `root` and of every process descending from it, right now.
pub fn tree(root: i32) -> BTreeSet<i32> {
    let procs = all();
    let mut found = BTreeSet::from([root]);
    loop {
        let before = found.len();
        for proc in &procs {
            if found.contains(&proc.ppid) {
                found.insert(proc.pid);
            }
        }
        if found.len() == before {
            return found;
        }
    }
}

/// Live processes that keep a file descriptor, their cwd or a mapping under `dir`: the only
/// processes that could still write there.
pub fn holders_under(dir: &Path) -> Vec<(Process, PathBuf)> {
    let mut found = Vec::new();
    for proc in all() {
        let base = PathBuf::from(format!("/proc/{}", proc.pid));
        let mut targets: Vec<PathBuf> = fs::read_link(base.join("cwd")).into_iter().collect();
        if let Ok(fds) = fs::read_dir(base.join("fd")) {
            targets.extend(fds.filter_map(|fd| fs::read_link(fd.ok()?.path()).ok()));
        }
        if let Ok(maps) = fs::read_to_string(base.join("maps")) {
            targets.extend(
                maps.lines()
                    .filter_map(|line| line.split_whitespace().nth(5))
                    .map(PathBuf::from),
            );
        }
        if let Some(hit) = targets.into_iter().find(|target| target.starts_with(dir)) {
            found.push((proc, hit));
        }
    }
    found
}
