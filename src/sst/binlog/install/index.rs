//! The binlog index on the joiner: the old one read before the transfer
//! ([`OldBinlogs`]), the new one written after an install, and one written
//! during a transfer that brought no tar, vetted ([`vet_index`]). Every
//! index on disk may be the donor's words, so only binlog-shaped names
//! directly in the binlog directory are taken from it.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tracing::warn;

use super::shown;
use crate::sst::binlog::dir::{create_new, lstat, open_regular, remove_if_present, Input};
use crate::sst::binlog::name::binlog_stem;
use crate::sst::binlog::BinlogError;
use crate::sst::paths::BinlogPaths;

/// The largest old index the joiner reads (about 100 000 entries): the
/// index is read whole, and a real one is a few kilobytes.
pub const MAX_INDEX_BYTES: u64 = 4 << 20;

/// Skipped old-index entries named one by one; the rest are counted.
const WARN_ENTRIES: usize = 10;

/// The binlogs the joiner's own index listed before the transfer: names of
/// files directly in the binlog directory, each binlog-shaped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OldBinlogs {
    pub(super) names: BTreeSet<OsString>,
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

/// Writes the index: one `<index_prefix>/<file>` line per file, through
/// `<index>.tmp` created afresh and renamed over the index.
pub(super) fn write_index(binlog: &BinlogPaths, names: &[OsString]) -> Result<(), BinlogError> {
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
