//! The joiner's side of the binlog hand-over: the old index read before the
//! transfer ([`OldBinlogs::read`]), then the old binlogs replaced by the
//! donor's and the index rebuilt ([`install`]).
//!
//! The donor writes into the data directory, so the tar, any binlog
//! directory below the data directory, and even the index (a previous
//! transfer may have written it) are its words, not ours. What they can make
//! the joiner do is bounded:
//! - only `<stem>.<digits>` names and the index, directly in the binlog
//!   directory, are ever created or deleted;
//! - deleted are the binlog-shaped entries of the old index that lie in the
//!   binlog directory (read before the donor could touch it), the joiner's
//!   own `<base>.<digits>` files there, and the index (unlinked, never
//!   followed);
//! - new files are created with `O_CREAT|O_EXCL|O_NOFOLLOW`: never through a
//!   link, never over a file that survived those deletions;
//! - the tar and the index are opened with `O_NOFOLLOW` and must be regular
//!   files; a binlog directory inside the data directory must be reached
//!   through real directories (see `dir`).
//!
//! The checks go by path. That is sound because [`install`] runs after every
//! rsync of the transfer has ended (the joiner waits for its connections
//! first), so no peer is left to swap a path between a check and its use.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::dir::{self, create_new, lstat, open_regular, remove_if_present, Input, Placement};
use super::name::{binlog_stem, is_numbered_binlog};
use super::{BinlogError, BINLOG_TAR};
use crate::sst::paths::BinlogPaths;

/// The largest old index the joiner reads (about 100 000 entries): the
/// index is read whole, and a real one is a few kilobytes.
pub const MAX_INDEX_BYTES: u64 = 4 << 20;
/// The most entries a received tar may have (`sst-max-binlogs` negative
/// ships them all, and real servers keep far fewer).
pub const MAX_TAR_ENTRIES: usize = 100_000;
/// Skipped old-index entries named one by one; the rest are counted.
const WARN_ENTRIES: usize = 10;

/// The binlogs the joiner's own index listed before the transfer: names of
/// files directly in the binlog directory, each binlog-shaped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OldBinlogs {
    names: BTreeSet<OsString>,
}

impl OldBinlogs {
    /// Reads `binlog.index` (absent: nothing old). Call it before the
    /// transfer starts: afterwards the index is whatever the donor wrote.
    /// Entries elsewhere than directly in the binlog directory, or not named
    /// `<stem>.<digits>`, are skipped with a warning naming them.
    pub fn read(datadir: &Path, binlog: &BinlogPaths) -> Result<OldBinlogs, BinlogError> {
        let path = &binlog.index;
        let Some(file) = open_regular(path, Input::Index)? else {
            return Ok(OldBinlogs::default());
        };
        let err = |source| BinlogError::Index {
            path: path.clone(),
            source,
        };
        let too_large = || BinlogError::IndexTooLarge {
            path: path.clone(),
            limit: MAX_INDEX_BYTES,
        };
        if file.metadata().map_err(err)?.len() > MAX_INDEX_BYTES {
            return Err(too_large());
        }
        let mut text = Vec::new();
        file.take(MAX_INDEX_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(err)?;
        if u64::try_from(text.len()).map_or(true, |n| n > MAX_INDEX_BYTES) {
            return Err(too_large());
        }
        let mut names = BTreeSet::new();
        let mut skipped = 0usize;
        for line in text.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let entry = Path::new(OsStr::from_bytes(line));
            let reason = match binlog.name_in_dir(datadir, entry) {
                None => "not directly in the binlog directory",
                Some(name) => match binlog_stem(name.as_bytes()) {
                    Ok(_) => {
                        names.insert(name);
                        continue;
                    }
                    Err(reason) => reason,
                },
            };
            skipped += 1;
            if skipped <= WARN_ENTRIES {
                warn!(
                    index = %path.display(), entry = %shown(line), reason,
                    dir = %binlog.dir.display(),
                    "old binlog index entry skipped, it will not be removed"
                );
            }
        }
        if skipped > WARN_ENTRIES {
            warn!(index = %path.display(), more = skipped - WARN_ENTRIES,
                "more old binlog index entries skipped");
        }
        Ok(OldBinlogs { names })
    }

    /// The old binlogs' file names, in the binlog directory.
    pub fn names(&self) -> impl Iterator<Item = &OsStr> {
        self.names.iter().map(OsString::as_os_str)
    }
}

/// Whether the donor's binlog tar is in the datadir (as anything: a link
/// is there too, and [`install`] refuses it).
pub fn tar_arrived(datadir: &Path) -> bool {
    fs::symlink_metadata(datadir.join(BINLOG_TAR)).is_ok()
}

/// Joiner, after an SST (not an IST): replaces the old binlogs with the
/// received ones. Checks the whole tar first; then removes the old binlogs
/// (`old`, the joiner's `<base>.<digits>`) and the index; if
/// `<datadir>/wsrep_sst_binlog.tar` arrived, extracts it into the binlog
/// directory, rebuilds the index and removes the tar. Returns the installed
/// file names in archive order.
pub fn install(
    datadir: &Path,
    binlog: &BinlogPaths,
    old: &OldBinlogs,
) -> Result<Vec<OsString>, BinlogError> {
    let tar_path = datadir.join(BINLOG_TAR);
    let tar = open_regular(&tar_path, Input::Tar)?;
    let incoming = match &tar {
        Some(file) => tar_names(&tar_path, file, binlog)?,
        None => Vec::new(),
    };
    let placement = dir::prepare(datadir, &binlog.dir)?;
    if let Some(parent) = binlog.index.parent() {
        if parent != binlog.dir && !parent.as_os_str().is_empty() {
            dir::prepare(datadir, parent)?;
        }
    }
    let doomed = doomed(binlog, old, placement, &incoming)?;
    // Refuse before deleting anything: a received name that survives the
    // deletions is not ours to replace.
    for name in &incoming {
        let path = binlog.dir.join(name);
        if !doomed.contains(name) && lstat(&path)?.is_some() {
            return Err(BinlogError::Occupied { path });
        }
    }
    for name in &doomed {
        remove_if_present(&binlog.dir.join(name))?;
    }
    remove_if_present(&binlog.index)?;
    let Some(tar) = tar else {
        return Ok(Vec::new());
    };
    extract(&tar_path, &tar, &binlog.dir, &incoming)?;
    write_index(binlog, &incoming)?;
    fs::remove_file(&tar_path).map_err(|source| BinlogError::Tar {
        path: tar_path.clone(),
        source,
    })?;
    info!(files = incoming.len(), dir = %binlog.dir.display(), "binlogs installed");
    Ok(incoming)
}

/// The names in the binlog directory to delete before extracting.
fn doomed(
    binlog: &BinlogPaths,
    old: &OldBinlogs,
    placement: Placement,
    incoming: &[OsString],
) -> Result<BTreeSet<OsString>, BinlogError> {
    let mut doomed = old.names.clone();
    let dir_err = |source| BinlogError::Inspect {
        path: binlog.dir.clone(),
        source,
    };
    for entry in fs::read_dir(&binlog.dir).map_err(dir_err)? {
        let name = entry.map_err(dir_err)?.file_name();
        if is_numbered_binlog(&name, &binlog.base) {
            doomed.insert(name);
        }
    }
    // Below the data directory the transfer mirrors the donor's binlog
    // directory, so the shipped names are already there as its own copies
    // (with a base other than ours when the bases differ): replaced, like
    // anything else the donor may overwrite there. Only plain files.
    if placement == Placement::BelowDataDir {
        for name in incoming {
            if lstat(&binlog.dir.join(name))?.is_some_and(|md| md.is_file()) {
                doomed.insert(name.clone());
            }
        }
    }
    Ok(doomed)
}

/// Pass 1 over the tar: every entry is a binlog, all with one stem, none
/// twice, none the index; nothing is written until all passed.
fn tar_names(
    tar_path: &Path,
    tar: &File,
    binlog: &BinlogPaths,
) -> Result<Vec<OsString>, BinlogError> {
    let index_name = binlog.index.file_name();
    let mut names: Vec<OsString> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut archive = tar::Archive::new(tar);
    // Seeking over the contents: only the headers are read in this pass.
    for entry in archive.entries_with_seek().map_err(read_err(tar_path))? {
        let entry = entry.map_err(read_err(tar_path))?;
        let name = checked_name(tar_path, &entry)?;
        let refuse = |reason| BinlogError::Entry {
            path: tar_path.to_path_buf(),
            entry: shown(name.as_bytes()),
            reason,
        };
        if Some(name.as_os_str()) == index_name {
            return Err(refuse("name of the binlog index"));
        }
        if let Some(first) = names.first() {
            if binlog_stem(first.as_bytes()) != binlog_stem(name.as_bytes()) {
                return Err(refuse("stem differs from the first entry's"));
            }
        }
        if !seen.insert(name.clone()) {
            return Err(refuse("duplicate entry"));
        }
        if names.len() == MAX_TAR_ENTRIES {
            return Err(refuse("too many entries"));
        }
        names.push(name);
    }
    Ok(names)
}

/// Pass 2: writes each entry as a new file. The tar is the same open file
/// as in pass 1, so it is the archive that was checked; names are checked
/// again where they are used.
fn extract(
    tar_path: &Path,
    mut tar: &File,
    dir: &Path,
    expected: &[OsString],
) -> Result<(), BinlogError> {
    tar.seek(SeekFrom::Start(0)).map_err(read_err(tar_path))?;
    let mut archive = tar::Archive::new(tar);
    let mut expected = expected.iter();
    for entry in archive.entries().map_err(read_err(tar_path))? {
        let mut entry = entry.map_err(read_err(tar_path))?;
        let name = checked_name(tar_path, &entry)?;
        if expected.next() != Some(&name) {
            return Err(BinlogError::Read {
                path: tar_path.to_path_buf(),
                source: io::Error::other("the tar changed while it was read"),
            });
        }
        let target = dir.join(&name);
        let werr = |source| BinlogError::Write {
            path: target.clone(),
            source,
        };
        let mode = entry.header().mode().unwrap_or(0o640) & 0o777;
        let mut out = create_new(&target, mode)?;
        io::copy(&mut entry, &mut out).map_err(werr)?;
        // The umask may have narrowed the mode; mysqld needs what the donor had.
        out.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(werr)?;
        out.sync_all().map_err(werr)?;
    }
    Ok(())
}

/// Writes the index: one `<index_prefix>/<file>` line per file, through
/// `<index>.tmp` created afresh and renamed over the index.
fn write_index(binlog: &BinlogPaths, names: &[OsString]) -> Result<(), BinlogError> {
    let mut content = Vec::new();
    for name in names {
        content.extend_from_slice(binlog.index_line(name).as_os_str().as_bytes());
        content.push(b'\n');
    }
    replace_index(binlog, &content)
}

/// Replaces the index with `content`, through `<index>.tmp` created afresh
/// and renamed over it.
fn replace_index(binlog: &BinlogPaths, content: &[u8]) -> Result<(), BinlogError> {
    let mut tmp = binlog.index.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    // The name is ours: whatever is there is a leftover of a crashed run or
    // a plant, and the unlink does not follow it.
    if lstat(&tmp)?.is_some() {
        warn!(path = %tmp.display(), "removing a leftover binlog index temporary file");
        remove_if_present(&tmp)?;
    }
    let written = (|| {
        let werr = |source| BinlogError::Write {
            path: tmp.clone(),
            source,
        };
        let mut out = create_new(&tmp, 0o666)?;
        out.write_all(content).map_err(werr)?;
        out.sync_all().map_err(werr)?;
        fs::rename(&tmp, &binlog.index).map_err(|source| BinlogError::Write {
            path: binlog.index.clone(),
            source,
        })
    })();
    if written.is_err() {
        // Best effort: the error names the real failure.
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Joiner, after a transfer that brought no binlog tar (an IST, or a donor
/// that ships none): nothing replaces the index, so if it lies in the data
/// directory the donor may have written it, and the server would later act
/// on it (`PURGE BINARY LOGS` and `expire_logs_days` delete the files it
/// names). Entries that are not binlog-shaped names directly in the binlog
/// directory are dropped (the rest kept as written, so a legitimate copy of
/// the donor's index below the data directory stays as it is); an index
/// that is not a regular file is removed (the server starts a new one).
/// Returns how many entries were dropped.
pub fn vet_index(datadir: &Path, binlog: &BinlogPaths) -> Result<usize, BinlogError> {
    let path = &binlog.index;
    if !path.starts_with(datadir) {
        return Ok(0);
    }
    let file = match open_regular(path, Input::Index) {
        Ok(Some(file)) => file,
        Ok(None) => return Ok(0),
        Err(BinlogError::NotRegular { found, .. }) => {
            warn!(index = %path.display(), found,
                "the binlog index is not a regular file after the transfer; removing it");
            remove_if_present(path)?;
            return Ok(1);
        }
        Err(e) => return Err(e),
    };
    let err = |source| BinlogError::Index {
        path: path.clone(),
        source,
    };
    let mut text = Vec::new();
    file.take(MAX_INDEX_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(err)?;
    if u64::try_from(text.len()).map_or(true, |n| n > MAX_INDEX_BYTES) {
        return Err(BinlogError::IndexTooLarge {
            path: path.clone(),
            limit: MAX_INDEX_BYTES,
        });
    }
    let mut kept = Vec::with_capacity(text.len());
    let mut dropped = 0usize;
    for line in text.split_inclusive(|&b| b == b'\n') {
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        if bare.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry = Path::new(OsStr::from_bytes(bare));
        let ok = binlog
            .name_in_dir(datadir, entry)
            .is_some_and(|name| binlog_stem(name.as_bytes()).is_ok());
        if ok {
            kept.extend_from_slice(bare);
            kept.push(b'\n');
            continue;
        }
        dropped += 1;
        if dropped <= WARN_ENTRIES {
            warn!(index = %path.display(), entry = %shown(bare), dir = %binlog.dir.display(),
                "binlog index entry written during the transfer names no binlog of this server; dropped");
        }
    }
    if dropped > 0 {
        replace_index(binlog, &kept)?;
        warn!(index = %path.display(), dropped, "binlog index rewritten without the entries above");
    }
    Ok(dropped)
}

/// Checks one entry: a regular file with a binlog name.
fn checked_name<R: Read>(
    tar_path: &Path,
    entry: &tar::Entry<'_, R>,
) -> Result<OsString, BinlogError> {
    let raw = entry.path_bytes();
    let refuse = |reason| BinlogError::Entry {
        path: tar_path.to_path_buf(),
        entry: shown(&raw),
        reason,
    };
    let kind = entry.header().entry_type();
    if !(kind.is_file() || kind == tar::EntryType::Continuous) {
        return Err(refuse("not a regular file"));
    }
    binlog_stem(&raw).map_err(refuse)?;
    Ok(OsStr::from_bytes(&raw).to_owned())
}

/// A name for messages: lossy UTF-8 with line breaks and NUL escaped, so a
/// hostile name cannot forge log lines.
fn shown(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).escape_debug().to_string()
}

fn read_err(tar_path: &Path) -> impl Fn(io::Error) -> BinlogError + '_ {
    move |source| BinlogError::Read {
        path: tar_path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
