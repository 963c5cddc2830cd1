//! The received binlog tar, in two passes over one open file: every entry
//! checked before anything is written ([`tar_names`]), then each written as
//! a new file ([`extract`]).

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::shown;
use crate::sst::binlog::dir::create_new;
use crate::sst::binlog::name::binlog_stem;
use crate::sst::binlog::BinlogError;
use crate::sst::paths::BinlogPaths;

/// The most entries a received tar may have (`sst-max-binlogs` negative
/// ships them all, and real servers keep far fewer).
pub const MAX_TAR_ENTRIES: usize = 100_000;

/// Pass 1 over the tar: every entry is a binlog, all with one stem, none
/// twice, none the index; nothing is written until all passed.
pub(super) fn tar_names(
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
pub(super) fn extract(
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

fn read_err(tar_path: &Path) -> impl Fn(io::Error) -> BinlogError + '_ {
    move |source| BinlogError::Read {
        path: tar_path.to_path_buf(),
        source,
    }
}
