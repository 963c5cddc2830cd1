//! Which mounted file system holds a path, from `/proc/self/mountinfo`: for
//! error messages that must name the file system that filled up.

use std::fmt;
use std::path::{Path, PathBuf};

/// One mounted file system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Where it is mounted.
    pub point: PathBuf,
    /// Its type (`ext4`, `tmpfs`, ...).
    pub fstype: String,
    /// What is mounted (a device, or a name for virtual file systems).
    pub source: String,
}

impl fmt::Display for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} on {})",
            self.point.display(),
            self.fstype,
            self.source
        )
    }
}

/// The mount holding `path` (resolved when it exists), or `None` when
/// `/proc/self/mountinfo` cannot be read.
pub fn containing(path: &Path) -> Option<Mount> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    find(&text, &path)
}

/// The mount of `path` among `mountinfo` lines: the longest mount point
/// that contains it (the last one listed wins among equals: it is on top).
pub fn find(mountinfo: &str, path: &Path) -> Option<Mount> {
    let mut best: Option<Mount> = None;
    for line in mountinfo.lines() {
        let Some(m) = parse_line(line) else { continue };
        if !path.starts_with(&m.point) {
            continue;
        }
        let longer = match &best {
            None => true,
            Some(b) => m.point.as_os_str().len() >= b.point.as_os_str().len(),
        };
        if longer {
            best = Some(m);
        }
    }
    best
}

/// `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw` → mount.
fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let point = left.split(' ').nth(4)?;
    let mut r = right.split(' ');
    let fstype = r.next()?;
    let source = r.next().unwrap_or("");
    Some(Mount {
        point: PathBuf::from(unescape(point)),
        fstype: unescape(fstype),
        source: unescape(source),
    })
}

/// mountinfo writes space, tab, newline and backslash as `\ooo` octal.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let (b'\\', Some(d)) = (b[i], octal) {
            let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
            if let Ok(v) = u8::try_from(v) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
30 22 0:26 / /tmp rw - tmpfs tmpfs rw
41 30 0:40 / /tmp/a\\040b/data rw - tmpfs sst-test-7 rw,size=3072k
";

    #[test]
    fn the_deepest_mount_holding_the_path_wins() {
        let m = find(INFO, Path::new("/tmp/a b/data/db1")).unwrap_or_else(|| unreachable!());
        assert_eq!(m.point, PathBuf::from("/tmp/a b/data"));
        assert_eq!(m.fstype, "tmpfs");
        assert_eq!(m.source, "sst-test-7");
        assert_eq!(m.to_string(), "/tmp/a b/data (tmpfs on sst-test-7)");
        let m = find(INFO, Path::new("/tmp/a b/other")).unwrap_or_else(|| unreachable!());
        assert_eq!(m.point, PathBuf::from("/tmp"));
        let m = find(INFO, Path::new("/var/lib/mysql")).unwrap_or_else(|| unreachable!());
        assert_eq!(m.point, PathBuf::from("/"));
        // Component-wise: /tmpx is not under /tmp.
        let m = find(INFO, Path::new("/tmpx")).unwrap_or_else(|| unreachable!());
        assert_eq!(m.point, PathBuf::from("/"));
    }

    #[test]
    fn the_running_system_has_a_root_mount() {
        let m = containing(Path::new("/")).unwrap_or_else(|| unreachable!());
        assert_eq!(m.point, PathBuf::from("/"));
    }
}
