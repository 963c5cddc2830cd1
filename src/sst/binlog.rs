//! The binlog hand-over (sst-protocol.md §5.4): the donor packs the last
//! binlog files of its index into `<datadir>/wsrep_sst_binlog.tar`, flattened
//! to basenames; the joiner replaces its own binlogs with them and rebuilds
//! the index.
//!
//! The tar is a plain GNU-header archive, which GNU tar and a reference
//! joiner (`tar -xf`) read. On extraction only plain files with bare names are
//! accepted, checked before anything is written, so a hostile archive cannot
//! reach outside the binlog directory.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::exit::ExitCode;
use crate::sst::paths::{under_datadir, BinlogPaths};

pub use crate::rsync::BINLOG_TAR;

/// How many binlogs the donor ships (`sst-max-binlogs`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MaxBinlogs {
    /// `0`: none.
    None,
    /// `N > 0`: the last N entries of the index (default 1).
    Last(usize),
    /// Negative: all of them.
    All,
}

impl Default for MaxBinlogs {
    fn default() -> Self {
        MaxBinlogs::Last(1)
    }
}

impl MaxBinlogs {
    /// The `sst-max-binlogs` value: `0` none, negative all, else the last N.
    pub fn from_setting(n: i64) -> MaxBinlogs {
        match n {
            0 => MaxBinlogs::None,
            n if n < 0 => MaxBinlogs::All,
            n => MaxBinlogs::Last(usize::try_from(n).unwrap_or(usize::MAX)),
        }
    }
}

/// A binlog step failed; each variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum BinlogError {
    /// Reading the binlog index failed.
    #[error("cannot read binlog index {path}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// A binlog listed in the index cannot be added to the tar.
    #[error("cannot add binlog {path} to the tar")]
    Add {
        /// The binlog file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// Writing, renaming or removing the tar failed.
    #[error("cannot write binlog tar {path}")]
    Tar {
        /// The tar (or its `.tmp`).
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// Reading the received tar failed.
    #[error("cannot read binlog tar {path}")]
    Read {
        /// The tar.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// The received tar holds something other than plain files with bare names.
    #[error("binlog tar {path} has a forbidden entry '{entry}' ({reason})")]
    Entry {
        /// The tar.
        path: PathBuf,
        /// The entry name as stored.
        entry: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Deleting an old binlog or index failed.
    #[error("cannot remove old binlog file {path}")]
    Remove {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// Extracting a binlog or writing the new index failed.
    #[error("cannot write {path}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
}

impl BinlogError {
    /// Binlog failures are transfer failures (255), as any later step in the original.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::TransferFailed
    }
}

/// The binlog files listed in `index`, in order; relative entries are
/// resolved against the datadir (mysqld runs there).
pub fn read_index(datadir: &Path, index: &Path) -> Result<Vec<PathBuf>, BinlogError> {
    let err = |source| BinlogError::Index {
        path: index.to_path_buf(),
        source,
    };
    let file = File::open(index).map_err(err)?;
    let mut files = Vec::new();
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(err)?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        files.push(under_datadir(datadir, Path::new(OsStr::from_bytes(line))));
    }
    Ok(files)
}

/// Donor: packs the last binlogs of the index into `<datadir>/wsrep_sst_binlog.tar`
/// (written as `.tmp`, then renamed). Returns the tar's path, or `None` when
/// nothing is to be shipped (max 0, empty or missing index).
pub fn pack(
    datadir: &Path,
    binlog: &BinlogPaths,
    max: MaxBinlogs,
) -> Result<Option<PathBuf>, BinlogError> {
    if max == MaxBinlogs::None {
        return Ok(None);
    }
    let files = match read_index(datadir, &binlog.index) {
        Ok(files) => files,
        Err(BinlogError::Index { path, source }) if source.kind() == io::ErrorKind::NotFound => {
            tracing::warn!(index = %path.display(), "binlog index not found, no binlogs sent");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let skip = match max {
        MaxBinlogs::Last(n) => files.len().saturating_sub(n),
        _ => 0,
    };
    let chosen = &files[skip..];
    if chosen.is_empty() {
        return Ok(None);
    }
    let tar_path = datadir.join(BINLOG_TAR);
    let tmp_path = datadir.join(format!("{BINLOG_TAR}.tmp"));
    let tar_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BinlogError::Tar { path, source }
    };
    let result = (|| {
        // Owner only: it holds binlog contents and the datadir may be
        // world-traversable; the entries keep their own modes.
        let out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(crate::sst::files::PRIVATE_FILE_MODE)
            .open(&tmp_path)
            .map_err(tar_err(&tmp_path))?;
        out.set_permissions(fs::Permissions::from_mode(
            crate::sst::files::PRIVATE_FILE_MODE,
        ))
        .map_err(tar_err(&tmp_path))?;
        let mut builder = tar::Builder::new(io::BufWriter::new(out));
        for file in chosen {
            let Some(name) = file.file_name() else {
                return Err(BinlogError::Add {
                    path: file.clone(),
                    source: io::Error::new(io::ErrorKind::InvalidInput, "no file name"),
                });
            };
            builder
                .append_path_with_name(file, name)
                .map_err(|source| BinlogError::Add {
                    path: file.clone(),
                    source,
                })?;
        }
        let mut out = builder.into_inner().map_err(tar_err(&tmp_path))?;
        out.flush().map_err(tar_err(&tmp_path))?;
        out.get_ref().sync_all().map_err(tar_err(&tmp_path))?;
        fs::rename(&tmp_path, &tar_path).map_err(tar_err(&tar_path))
    })();
    if let Err(e) = result {
        // Best effort: the error names the real failure.
        let _ = fs::remove_file(&tmp_path);
        return Err(e);
    }
    tracing::info!(files = chosen.len(), tar = %tar_path.display(), "binlogs packed");
    Ok(Some(tar_path))
}

fn remove_if_present(path: &Path) -> Result<(), BinlogError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BinlogError::Remove {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// `<base>.` followed by a digit: the stock script's `<base>.[0-9]*`.
fn is_numbered_binlog(name: &OsStr, base: &OsStr) -> bool {
    let name = name.as_bytes();
    let base = base.as_bytes();
    name.len() > base.len() + 1
        && name.starts_with(base)
        && name[base.len()] == b'.'
        && name[base.len() + 1].is_ascii_digit()
}

/// Joiner: removes the old binlogs (those in the old index, the index itself
/// and `<base>.[0-9]*` in the binlog dir).
pub fn remove_old(datadir: &Path, binlog: &BinlogPaths) -> Result<(), BinlogError> {
    match read_index(datadir, &binlog.index) {
        Ok(files) => {
            for file in files {
                remove_if_present(&file)?;
            }
        }
        Err(BinlogError::Index { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    remove_if_present(&binlog.index)?;
    let entries = match fs::read_dir(&binlog.dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(BinlogError::Remove {
                path: binlog.dir.clone(),
                source,
            })
        }
    };
    for entry in entries {
        let entry = entry.map_err(|source| BinlogError::Remove {
            path: binlog.dir.clone(),
            source,
        })?;
        if is_numbered_binlog(&entry.file_name(), &binlog.base) {
            remove_if_present(&entry.path())?;
        }
    }
    Ok(())
}

/// Checks one entry: a regular file with a bare name.
fn checked_name(tar_path: &Path, entry: &tar::Entry<'_, File>) -> Result<OsString, BinlogError> {
    let raw = entry.path_bytes();
    let shown = String::from_utf8_lossy(&raw).into_owned();
    let refuse = |reason| BinlogError::Entry {
        path: tar_path.to_path_buf(),
        entry: shown.clone(),
        reason,
    };
    let kind = entry.header().entry_type();
    if !(kind.is_file() || kind == tar::EntryType::Continuous) {
        return Err(refuse("not a regular file"));
    }
    if raw.is_empty() || raw.as_ref() == b"." || raw.as_ref() == b".." {
        return Err(refuse("empty or dot name"));
    }
    if raw.contains(&b'/') {
        return Err(refuse("name contains '/'"));
    }
    if raw.windows(2).any(|w| w == b"..") {
        return Err(refuse("name contains '..'"));
    }
    if raw.contains(&0) {
        return Err(refuse("name contains NUL"));
    }
    Ok(OsStr::from_bytes(&raw).to_owned())
}

fn open_tar(tar_path: &Path) -> Result<tar::Archive<File>, BinlogError> {
    let file = File::open(tar_path).map_err(|source| BinlogError::Read {
        path: tar_path.to_path_buf(),
        source,
    })?;
    Ok(tar::Archive::new(file))
}

fn read_err(tar_path: &Path) -> impl Fn(io::Error) -> BinlogError + '_ {
    move |source| BinlogError::Read {
        path: tar_path.to_path_buf(),
        source,
    }
}

/// Joiner: extracts `tar_path` into the binlog dir after checking every
/// entry; returns the file names in archive order.
pub fn extract(tar_path: &Path, dir: &Path) -> Result<Vec<OsString>, BinlogError> {
    // Pass 1: refuse the whole archive before writing anything.
    let mut archive = open_tar(tar_path)?;
    for entry in archive.entries().map_err(read_err(tar_path))? {
        let entry = entry.map_err(read_err(tar_path))?;
        checked_name(tar_path, &entry)?;
    }
    // Pass 2: write each file fresh (never through an existing symlink).
    fs::create_dir_all(dir).map_err(|source| BinlogError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names = Vec::new();
    let mut archive = open_tar(tar_path)?;
    for entry in archive.entries().map_err(read_err(tar_path))? {
        let mut entry = entry.map_err(read_err(tar_path))?;
        let name = checked_name(tar_path, &entry)?;
        let target = dir.join(&name);
        let werr = |source| BinlogError::Write {
            path: target.clone(),
            source,
        };
        remove_if_present(&target)?;
        let mode = entry.header().mode().unwrap_or(0o640) & 0o777;
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&target)
            .map_err(werr)?;
        io::copy(&mut entry, &mut out).map_err(werr)?;
        // The umask may have narrowed the mode; mysqld needs what the donor had.
        out.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(werr)?;
        out.sync_all().map_err(werr)?;
        names.push(name);
    }
    Ok(names)
}

/// Writes the index: one `<index_prefix>/<file>` line per file, atomically.
pub fn write_index(binlog: &BinlogPaths, names: &[OsString]) -> Result<(), BinlogError> {
    let mut content = Vec::new();
    for name in names {
        content.extend_from_slice(binlog.index_line(name).as_os_str().as_bytes());
        content.push(b'\n');
    }
    let mut tmp = binlog.index.clone().into_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BinlogError::Write { path, source }
    };
    fs::write(&tmp, &content).map_err(werr(&tmp))?;
    fs::rename(&tmp, &binlog.index).map_err(werr(&binlog.index))
}

/// Joiner, after an SST (not an IST): replaces the local binlogs with the
/// received ones. Removes the old binlogs and index; if
/// `<datadir>/wsrep_sst_binlog.tar` arrived, extracts it into the binlog dir,
/// rebuilds the index and removes the tar. Returns the installed file names.
pub fn install(datadir: &Path, binlog: &BinlogPaths) -> Result<Vec<OsString>, BinlogError> {
    remove_old(datadir, binlog)?;
    let tar_path = datadir.join(BINLOG_TAR);
    if !tar_path.exists() {
        return Ok(Vec::new());
    }
    let names = extract(&tar_path, &binlog.dir)?;
    write_index(binlog, &names)?;
    fs::remove_file(&tar_path).map_err(|source| BinlogError::Tar {
        path: tar_path.clone(),
        source,
    })?;
    tracing::info!(files = names.len(), dir = %binlog.dir.display(), "binlogs installed");
    Ok(names)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
