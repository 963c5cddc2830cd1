//! The binlog hand-over (sst-protocol.md §5.4): the donor packs the last
//! binlog files of its index into `<datadir>/wsrep_sst_binlog.tar`, flattened
//! to basenames ([`pack`]); the joiner reads its old index before the
//! transfer ([`OldBinlogs::read`]) and, after it, replaces its own binlogs
//! with the received ones and rebuilds the index ([`install`]).
//!
//! The tar is a plain GNU-header archive, which GNU tar and a reference
//! joiner (`tar -xf`) read. Everything the joiner does with it is confined
//! to binlog-shaped names in the binlog directory (the `install` module's
//! header says how).
//!
//! Layout: `name` (which names are binlogs), `dir` (the binlog directory is
//! reached through real directories; file operations that never follow a
//! link), `install` (the joiner's side).

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::exit::ExitCode;
use crate::sst::paths::{under_datadir, BinlogPaths};

mod dir;
mod install;
mod name;

pub use crate::rsync::BINLOG_TAR;
pub use install::{install, tar_arrived, vet_index, OldBinlogs, MAX_INDEX_BYTES, MAX_TAR_ENTRIES};

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
    /// The received tar holds something other than binlogs (plain files
    /// named `<stem>.<digits>`, one stem for all).
    #[error("binlog tar {path} has a forbidden entry '{entry}' ({reason})")]
    Entry {
        /// The tar.
        path: PathBuf,
        /// The entry name as stored (line breaks and NUL escaped).
        entry: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The tar or the index is a symbolic link, a directory, a FIFO, …
    #[error("{what} {path} is {found}, not a regular file")]
    NotRegular {
        /// `binlog tar` or `binlog index`.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// What is there instead.
        found: &'static str,
    },
    /// The joiner's old index is too large to be a real one.
    #[error("binlog index {path} is larger than {limit} bytes")]
    IndexTooLarge {
        /// The index file.
        path: PathBuf,
        /// The cap ([`MAX_INDEX_BYTES`]).
        limit: u64,
    },
    /// A binlog directory inside the data directory (which the donor writes)
    /// is reached through a symbolic link.
    #[error("binlog directory {dir} is reached through {link}, a symbolic link inside the data directory")]
    DirLink {
        /// The binlog (or index) directory.
        dir: PathBuf,
        /// The link.
        link: PathBuf,
    },
    /// A component of the binlog directory is not a directory.
    #[error("binlog directory {dir} is reached through {path}, which is not a directory")]
    NotDir {
        /// The binlog (or index) directory.
        dir: PathBuf,
        /// The offending component.
        path: PathBuf,
    },
    /// Creating or inspecting the binlog directory failed.
    #[error("cannot prepare binlog directory {path}")]
    Dir {
        /// The directory (or the component being created).
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// Looking at what is at a path failed.
    #[error("cannot inspect {path}")]
    Inspect {
        /// The path.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// A received binlog would replace a file that is not an old binlog.
    #[error("{path} already exists and is not an old binlog, refusing to replace it")]
    Occupied {
        /// The existing file.
        path: PathBuf,
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
