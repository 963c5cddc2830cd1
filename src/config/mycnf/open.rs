//! Opening one option file: what it may be, and how much of it is read.
//!
//! The file is opened first (`O_NONBLOCK`, so a FIFO without a writer does
//! not block the open; `O_NOCTTY`, so a terminal never becomes ours) and only
//! then examined with `fstat` on the open descriptor, so nothing can swap
//! the path between the check and the read. Symlinks are followed: a link
//! to a regular file (the usual `/etc/mysql/conf.d` layout) is read.
//!
//! - a regular file is read, up to [`MAX_FILE_SIZE`] bytes; a larger one is
//!   refused, whether `fstat` says so up front or it grows while read;
//! - a world-writable regular file is ignored (MariaDB's rule);
//! - a directory reads as empty (MariaDB opens it and reads nothing);
//! - the null device reads as empty: `--defaults-file=/dev/null` is the
//!   usual way to read no option file, and it holds nothing to block on;
//! - anything else (a FIFO, `/dev/zero`, a terminal, a disk) is refused:
//!   reading it could block forever or never end.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::error::FileKind;

/// The largest option file read, in bytes (4 MiB). Real option files are a
/// few KiB; the cap only bounds what a wrong `!include` can make us hold in
/// memory. It applies to every file: named in the trio, on the search path
/// or included.
pub const MAX_FILE_SIZE: u64 = 4 << 20;

/// A file that opened and may be parsed.
pub(super) enum Opened {
    /// The bytes of a regular file (at most [`MAX_FILE_SIZE`]), or none
    /// for the null device.
    Bytes(Vec<u8>),
    /// A directory: nothing to parse, and not listed as a file read.
    Directory,
    /// A world-writable regular file: to be skipped with a warning.
    WorldWritable,
}

/// Why a file gives no bytes to parse.
pub(super) enum Refused {
    /// It could not be opened: missing, unreadable (MariaDB skips it, or
    /// fails when it was required).
    Unopenable(io::Error),
    /// It opened, but is not something to read.
    NotRegular(FileKind),
    /// It is larger than [`MAX_FILE_SIZE`]: its size.
    TooLarge(u64),
    /// It opened but reading it failed.
    Read(io::Error),
}

/// Opens and reads the option file at `path` under the rules in the module
/// header.
pub(super) fn read(path: &Path) -> Result<Opened, Refused> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(Refused::Unopenable)?;
    let meta = file.metadata().map_err(Refused::Read)?;
    let kind = meta.file_type();
    if kind.is_dir() {
        return Ok(Opened::Directory);
    }
    if is_null_device(&meta) {
        return Ok(Opened::Bytes(Vec::new()));
    }
    if !kind.is_file() {
        return Err(Refused::NotRegular(if kind.is_fifo() {
            FileKind::Fifo
        } else if kind.is_char_device() {
            FileKind::CharDevice
        } else if kind.is_block_device() {
            FileKind::BlockDevice
        } else {
            FileKind::Other
        }));
    }
    if meta.permissions().mode() & 0o002 != 0 {
        return Ok(Opened::WorldWritable);
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(Refused::TooLarge(meta.len()));
    }
    // O_NONBLOCK has no effect on a regular file's reads.
    bounded(&file, meta.len()).map(Opened::Bytes)
}

/// Reads at most one byte past the cap, so a file that grew since `fstat`
/// is caught without reading it all.
fn bounded(file: &File, expected: u64) -> Result<Vec<u8>, Refused> {
    let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(Refused::Read)?;
    let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if read > MAX_FILE_SIZE {
        let now = file.metadata().map(|m| m.len()).unwrap_or(0);
        return Err(Refused::TooLarge(now.max(read)));
    }
    Ok(bytes)
}

/// `/dev/null` by what it is (character device 1:3), under any name.
fn is_null_device(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == libc::makedev(1, 3)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Char devices such as /dev/zero are refused too, but are only tried
    /// by tests/mycnf/main.rs through the binary under a memory limit: a
    /// regression here must not read one to the end in the test process.
    #[test]
    fn a_fifo_is_refused_and_null_and_directories_read_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("x.cnf");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // On a thread, so a regression that waits for a writer fails here
        // instead of hanging the test run.
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let refused = matches!(read(&path), Err(Refused::NotRegular(FileKind::Fifo)));
            let _gone = tx.send(refused);
        });
        let refused = rx.recv_timeout(std::time::Duration::from_secs(20));
        assert_eq!(refused, Ok(true), "{}", fifo.display());
        assert!(matches!(read(Path::new("/dev/null")), Ok(Opened::Bytes(b)) if b.is_empty()));
        assert!(matches!(read(dir.path()), Ok(Opened::Directory)));
        assert!(matches!(
            read(&dir.path().join("missing.cnf")),
            Err(Refused::Unopenable(e)) if e.kind() == io::ErrorKind::NotFound
        ));
    }

    #[test]
    fn a_file_that_grows_past_the_cap_while_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grows.cnf");
        std::fs::write(&path, b"[sst]\n").unwrap();
        let file = File::open(&path).unwrap();
        // It grew after fstat: the read stops one byte past the cap.
        std::fs::write(
            &path,
            vec![b'#'; usize::try_from(MAX_FILE_SIZE).unwrap() + 10],
        )
        .unwrap();
        assert!(matches!(
            bounded(&file, 6),
            Err(Refused::TooLarge(size)) if size == MAX_FILE_SIZE + 10
        ));
    }
}
