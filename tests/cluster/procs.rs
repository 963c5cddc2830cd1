//! Reading /proc: which processes belong to a node, which ones hold files under a directory,
//! and ending them by pid.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One live (non-zombie) process as /proc shows it.
#[derive(Clone, Debug)]
pub struct Proc {
    /// Process id.
    pub pid: i32,
    /// Parent process id.
    pub ppid: i32,
    /// argv joined with spaces.
    pub cmdline: String,
    /// NUL-separated environment, as one string (empty if unreadable).
    pub environ: String,
}

impl fmt::Display for Proc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} (ppid {}): {}", self.pid, self.ppid, self.cmdline)
    }
}

/// Every live process except zombies (a zombie cannot run, write or hold a port).
pub fn all() -> Vec<Proc> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read)
        .collect()
}

fn read(pid: i32) -> Option<Proc> {
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
    Some(Proc {
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
pub fn holders(dir: &Path) -> Vec<(Proc, PathBuf)> {
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

/// Sends `signal` (a `kill -l` name such as `KILL`) to each pid; a negative pid names a
/// process group. Errors (already gone) are ignored: this is best-effort teardown.
pub fn signal(pids: &[i32], signal: &str) {
    if pids.is_empty() {
        return;
    }
    let mut cmd = Command::new("kill");
    cmd.arg(format!("-{signal}")).arg("--");
    for pid in pids {
        cmd.arg(pid.to_string());
    }
    let _ignored_already_gone = cmd.stderr(std::process::Stdio::null()).status();
}
