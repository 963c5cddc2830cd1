//! The directories the joiner installs binlogs into (the binlog directory,
//! and the index's when it differs): where each lies relative to the data
//! directory, and that it is reached through real directories; and the file
//! operations the install does in them, none of which follows a link in the
//! last component (open, exclusive create, unlink, `lstat`).
//!
//! The data directory is the donor's to write, so below it a directory may
//! have been replaced by a symbolic link to anywhere; every component below
//! the data directory is checked with `lstat` (and created when missing).
//! Outside the data directory the path is the operator's own layout and is
//! used as configured.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use super::BinlogError;

/// Where a directory lies relative to the data directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Outside the data directory: the operator's layout.
    Outside,
    /// The data directory itself: the donor's rsync writes only the files
    /// its filter names there.
    DataDir,
    /// Strictly below the data directory: the transfer mirrors it from the
    /// donor, every file of it included.
    BelowDataDir,
}

/// Makes sure `dir` exists as a directory and, when it lies inside the data
/// directory, is reached from it through real directories only.
pub fn prepare(datadir: &Path, dir: &Path) -> Result<Placement, BinlogError> {
    let Some((mut cur, rest)) = below(datadir, dir) else {
        return outside(dir);
    };
    let mut depth = 0usize;
    for component in rest.components() {
        match component {
            Component::Normal(name) => {
                cur.push(name);
                depth += 1;
                real_dir(dir, &cur)?;
            }
            // `..` after a checked component is that component's parent.
            Component::ParentDir if depth > 0 => {
                cur.pop();
                depth -= 1;
            }
            // Leaving the data directory: the operator wrote this path.
            Component::ParentDir => return outside(dir),
            _ => {}
        }
    }
    Ok(if depth == 0 {
        Placement::DataDir
    } else {
        Placement::BelowDataDir
    })
}

/// The data directory as a prefix of `dir` (as written, or resolved when
/// the operator reaches it through a link of their own), and the rest.
fn below<'a>(datadir: &Path, dir: &'a Path) -> Option<(PathBuf, &'a Path)> {
    let lexical: PathBuf = datadir.components().collect();
    if let Ok(rest) = dir.strip_prefix(&lexical) {
        return Some((lexical, rest));
    }
    let real = fs::canonicalize(datadir).ok()?;
    let rest = dir.strip_prefix(&real).ok()?;
    Some((real, rest))
}

fn outside(dir: &Path) -> Result<Placement, BinlogError> {
    fs::create_dir_all(dir).map_err(|source| BinlogError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(Placement::Outside)
}

/// `path` (a component of `dir`) is a directory and not a link; created
/// when missing (`mkdir` never follows a link in the last component).
fn real_dir(dir: &Path, path: &Path) -> Result<(), BinlogError> {
    let err = |source| BinlogError::Dir {
        path: path.to_path_buf(),
        source,
    };
    let md = match fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(path) {
            Ok(()) => return Ok(()),
            // Someone made it meanwhile: look at what it is.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                fs::symlink_metadata(path).map_err(err)?
            }
            Err(source) => return Err(err(source)),
        },
        Err(source) => return Err(err(source)),
    };
    if md.file_type().is_symlink() {
        return Err(BinlogError::DirLink {
            dir: dir.to_path_buf(),
            link: path.to_path_buf(),
        });
    }
    if !md.is_dir() {
        return Err(BinlogError::NotDir {
            dir: dir.to_path_buf(),
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// The files the install reads, for their errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The donor's `wsrep_sst_binlog.tar`.
    Tar,
    /// The joiner's binlog index.
    Index,
}

impl Input {
    fn what(self) -> &'static str {
        match self {
            Input::Tar => "binlog tar",
            Input::Index => "binlog index",
        }
    }
}

/// Opens `path` for reading without following a last-component link and
/// without blocking on a FIFO; `None` when nothing is there.
pub fn open_regular(path: &Path, input: Input) -> Result<Option<File>, BinlogError> {
    let err = |source| {
        let path = path.to_path_buf();
        match input {
            Input::Index => BinlogError::Index { path, source },
            Input::Tar => BinlogError::Read { path, source },
        }
    };
    let not_regular = |found| BinlogError::NotRegular {
        what: input.what(),
        path: path.to_path_buf(),
        found,
    };
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            // ELOOP from O_NOFOLLOW, ENXIO from a socket: say what is there.
            return Err(match lstat(path) {
                Ok(Some(md)) if !md.is_file() => not_regular(kind(&md)),
                _ => err(e),
            });
        }
    };
    let md = file.metadata().map_err(err)?;
    if !md.is_file() {
        return Err(not_regular(kind(&md)));
    }
    Ok(Some(file))
}

fn kind(md: &Metadata) -> &'static str {
    let t = md.file_type();
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a device"
    }
}

/// Creates `path` as a new file: `O_EXCL` (never over an existing file)
/// and `O_NOFOLLOW` (never through a link).
pub fn create_new(path: &Path, mode: u32) -> Result<File, BinlogError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                BinlogError::Occupied {
                    path: path.to_path_buf(),
                }
            } else {
                BinlogError::Write {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })
}

/// What is at `path`, without following it.
pub fn lstat(path: &Path) -> Result<Option<Metadata>, BinlogError> {
    match fs::symlink_metadata(path) {
        Ok(md) => Ok(Some(md)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(BinlogError::Inspect {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Unlinks `path` (a link itself, never its target); absent is fine.
pub fn remove_if_present(path: &Path) -> Result<(), BinlogError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BinlogError::Remove {
            path: path.to_path_buf(),
            source,
        }),
    }
}
