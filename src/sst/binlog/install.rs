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
//!
//! The steps live in two modules: `index` reads the old index, rebuilds it
//! and vets one written during the transfer; `archive` checks the received
//! tar whole, then extracts it. This module decides what is deleted and in
//! which order.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::path::Path;

use tracing::info;

use super::dir::{self, lstat, open_regular, remove_if_present, Input, Placement};
use super::name::is_numbered_binlog;
use super::{BinlogError, BINLOG_TAR};
use crate::sst::paths::BinlogPaths;

mod archive;
mod index;

pub use archive::MAX_TAR_ENTRIES;
use archive::{extract, tar_names};
use index::write_index;
pub use index::{vet_index, OldBinlogs, MAX_INDEX_BYTES};

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

/// A name for messages: lossy UTF-8 with line breaks and NUL escaped, so a
/// hostile name cannot forge log lines.
fn shown(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).escape_debug().to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
