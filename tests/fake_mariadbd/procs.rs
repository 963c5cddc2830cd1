//! `/proc` inspection: process trees, descriptors, working directories, and
//! the "nothing left behind" checks. Linux only, like the product.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    let deadline = Instant::now() + within;
    loop {
        let left = touching(dir);
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "processes left behind after {within:?} (cwd or argv under {}): {left:#?}",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
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

/// Polls `cond` every 10 ms until it holds or `within` passes; returns
/// whether it held.
pub fn poll(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends a signal with kill(1) (the test crate has no unsafe libc calls).
pub fn signal(pid: u32, sig: &str) {
    let st = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig} {pid} failed");
}

/// The method process of a node: the binary under test running with its
/// cwd in `datadir` (as mariadbd starts it), if one is alive.
pub fn method_pid(datadir: &Path) -> Option<u32> {
    let bin = super::world::binary();
    pids()
        .into_iter()
        .find(|&p| alive(p) && exe(p).as_ref() == Some(&bin) && cwd(p).as_deref() == Some(datadir))
}

/// True once `pid` has an rsync descendant (a transfer is under way).
pub fn runs_rsync(pid: u32) -> bool {
    descendants(pid)
        .iter()
        .any(|&c| argv(c).first().is_some_and(|a| a.ends_with("rsync")))
}
