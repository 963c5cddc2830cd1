//! The schema phase's plan: which regular files of the schema directories
//! each parallel rsync run (a stream) sends, balanced by bytes.
//!
//! [`schema_files`] walks the schema directories the way the per-directory
//! rsync runs see them (the top-level directory followed if it is a
//! symlink, nothing below it followed; the `ib_logfile*` below the top and
//! the donor's own directories ([`super::nested_below`]) left out) and keeps
//! every regular file with its size.
//! [`balance`] deals them out to at most N streams, largest first, each to
//! the stream that carries the fewest bytes so far (then the fewest files,
//! then the lowest number): the classic longest-processing-time greedy.
//! Its guarantee, checked by the tests: the heaviest stream carries at most
//! the largest file's size more than the lightest one (when the heaviest
//! got its last file it was the lightest).
//!
//! # What one huge file does to the plan
//!
//! rsync sends a file whole, so a file is never split between streams. A
//! file larger than the total divided by N lands alone in a stream (it is
//! dealt first, and its stream stays the heaviest); the other files are
//! spread over the remaining streams, which finish early. The phase then
//! lasts as long as that one file takes on one connection: no plan at file
//! granularity can do better, and it is never worse than one stream per
//! schema directory (that file's directory was a single stream anyway).
//! With fewer files than N, each file gets its own stream and no empty
//! stream runs.
//!
//! [`files_from`] writes a stream's list for `--files-from` with
//! `--from0`: NUL-terminated, so any byte but NUL may appear in a name,
//! and each entry starts with `./`, because rsync drops an entry that
//! starts with `#` or `;` as a comment (MariaDB's `#mysql50#` schema
//! names, `#rocksdb`): a leading `./` is removed again by rsync and names
//! nothing more.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::args::nested_below;
use super::{RsyncError, TransferPlan};

/// A regular file of a schema directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaFile {
    /// Its path relative to the data directory (`db1/t1.ibd`).
    pub path: PathBuf,
    /// Its size in bytes when the plan was made.
    pub size: u64,
}

/// The files one rsync run of the schema phase sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stream {
    /// Paths relative to the data directory, in the order they were dealt
    /// (largest first).
    pub files: Vec<PathBuf>,
    /// Their bytes.
    pub bytes: u64,
}

/// What a per-directory run of `--recursive` leaves out inside one schema
/// directory: `*/ib_logfile*` (a name starting with `ib_logfile` below the
/// schema directory's own level, directories included) and the patterns of
/// the donor's own kind and log directories that lie inside it.
struct Exclusions {
    /// (directory relative to the schema directory, rsync pattern of a name in it)
    nested: Vec<(PathBuf, &'static str)>,
}

impl Exclusions {
    fn for_dir(plan: &TransferPlan, name: &OsStr) -> Exclusions {
        let nested = nested_below(plan, Path::new(name))
            .into_iter()
            .map(|(_, inner, pat)| (inner, pat.trim_start_matches('/')))
            .collect();
        Exclusions { nested }
    }

    /// True when the entry `rel` (relative to the schema directory) is
    /// excluded, and with it everything below it.
    fn excludes(&self, rel: &Path) -> bool {
        let Some(name) = rel.file_name() else {
            return false;
        };
        let parent = rel.parent().unwrap_or(Path::new(""));
        if parent.components().next().is_some() && name.as_bytes().starts_with(b"ib_logfile") {
            return true;
        }
        self.nested
            .iter()
            .any(|(dir, pat)| dir == parent && glob(pat.as_bytes(), name.as_bytes()))
    }
}

/// rsync's wildcard match of one name for the patterns this crate writes:
/// `*` (any run of bytes), `?` (one byte) and `[...]` (a set of bytes and
/// ranges, `!` or `^` first to negate).
fn glob(pat: &[u8], name: &[u8]) -> bool {
    match pat.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| glob(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && glob(rest, &name[1..]),
        Some((b'[', rest)) => {
            let Some(end) = rest.iter().skip(1).position(|&c| c == b']').map(|p| p + 1) else {
                // An unclosed `[` is a literal.
                return name.first() == Some(&b'[') && glob(rest, &name[1..]);
            };
            let Some((&c, tail)) = name.split_first() else {
                return false;
            };
            let (negate, set) = match rest[..end].split_first() {
                Some((b'!' | b'^', set)) => (true, set),
                _ => (false, &rest[..end]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= (set[i]..=set[i + 2]).contains(&c);
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != negate && glob(&rest[end + 1..], tail)
        }
        Some((&p, rest)) => name.first() == Some(&p) && glob(rest, &name[1..]),
    }
}

/// Every regular file the per-directory runs would send from the schema
/// directories `dirs` (top-level names of the data directory), with its
/// size. Symlinks, sockets, FIFOs and devices are left out: they carry no
/// data and the delete pass creates them.
pub fn schema_files(plan: &TransferPlan, dirs: &[OsString]) -> Result<Vec<SchemaFile>, RsyncError> {
    let mut out = Vec::new();
    for name in dirs {
        let skip = Exclusions::for_dir(plan, name);
        let root = plan.dirs.datadir.join(name);
        // Relative to the schema directory; the root itself is followed
        // when it is a symlink, as rsync does for `DIR/`.
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let dir = root.join(&rel);
            let io_err = |source| RsyncError::Io {
                action: "list",
                path: dir.clone(),
                source,
            };
            for entry in std::fs::read_dir(&dir).map_err(io_err)? {
                let entry = entry.map_err(io_err)?;
                let child = rel.join(entry.file_name());
                if skip.excludes(&child) {
                    continue;
                }
                let kind = entry.file_type().map_err(io_err)?;
                if kind.is_dir() {
                    stack.push(child);
                } else if kind.is_file() {
                    let size = entry.metadata().map_err(io_err)?.len();
                    out.push(SchemaFile {
                        path: Path::new(name).join(child),
                        size,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Deals `files` out to at most `n` streams (at least one), largest first,
/// each to the stream with the fewest bytes so far (then the fewest files,
/// then the lowest number). No stream is empty: fewer files than `n` give
/// as many streams as files, none for none.
pub fn balance(mut files: Vec<SchemaFile>, n: usize) -> Vec<Stream> {
    files.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    let n = n.max(1).min(files.len());
    let mut streams = vec![Stream::default(); n];
    for file in files {
        let Some(lightest) = streams.iter_mut().min_by_key(|s| (s.bytes, s.files.len())) else {
            break;
        };
        lightest.bytes += file.size;
        lightest.files.push(file.path);
    }
    streams
}

/// The `--files-from` content of `stream` for `--from0`: each path as
/// `./PATH` followed by a NUL byte (see the module header).
pub fn files_from(stream: &Stream) -> Vec<u8> {
    let mut out = Vec::new();
    for path in &stream.files {
        out.extend_from_slice(b"./");
        out.extend_from_slice(path.as_os_str().as_bytes());
        out.push(0);
    }
    out
}

/// The streams' `--files-from` lists, in a private directory removed on drop.
pub struct Lists {
    _dir: tempfile::TempDir,
    /// One list per stream, in the streams' order.
    pub paths: Vec<PathBuf>,
}

/// Writes each stream's list ([`files_from`]) into a private
/// temporary directory (owner only: the lists name the donor's files).
pub fn write_lists(planned: &[Stream]) -> Result<Lists, RsyncError> {
    let dir = super::private_tempdir("sst-tunnel-streams.")?;
    let mut paths = Vec::with_capacity(planned.len());
    for (i, stream) in planned.iter().enumerate() {
        let path = dir.path().join(format!("stream-{}", i + 1));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(&files_from(stream)))
            .map_err(|source| RsyncError::Io {
                action: "write",
                path: path.clone(),
                source,
            })?;
        paths.push(path);
    }
    Ok(Lists { _dir: dir, paths })
}

#[cfg(test)]
mod tests;
