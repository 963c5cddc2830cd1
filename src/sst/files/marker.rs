//! The completion marker (`rsync_tunnel_sst_complete`, sent last into the
//! data directory): its first line is the transferred state. The donor
//! writes the file, so it is read as untrusted input.

use std::fs;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The most of the completion marker that is read: its first line is a
/// state of a few dozen bytes.
pub const MARKER_MAX: u64 = 4096;

/// Reads the first line of the completion marker at `path` (`None` while
/// it has not arrived). The donor writes the marker, so it is read as
/// untrusted input: never through a symbolic link, only a regular file,
/// at most [`MARKER_MAX`] bytes.
pub fn read_marker_line(path: &Path) -> io::Result<Option<String>> {
    use std::io::Read as _;
    let invalid = |what| io::Error::new(io::ErrorKind::InvalidData, what);
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(invalid("it is a symbolic link"))
        }
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(invalid("not a regular file"));
    }
    let mut text = Vec::new();
    file.take(MARKER_MAX).read_to_end(&mut text)?;
    let text = String::from_utf8_lossy(&text);
    Ok(Some(
        text.lines()
            .next()
            .unwrap_or("")
            .trim_end_matches('\r')
            .to_string(),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    use crate::sst::files::MARKER;

    const UUID: &str = "dfb80123-e655-11f1-b862-272c1aae4adb";

    #[test]
    fn marker_first_line_is_read_as_untrusted_input() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join(MARKER);
        assert_eq!(read_marker_line(&m).unwrap(), None);
        fs::write(&m, format!("{UUID}:9 0\r\nsecret 00ff\nbypass\n")).unwrap();
        assert_eq!(
            read_marker_line(&m).unwrap().unwrap(),
            format!("{UUID}:9 0")
        );
        // A huge marker is read only as far as MARKER_MAX.
        fs::write(&m, vec![b'x'; 10 << 20]).unwrap();
        assert_eq!(
            read_marker_line(&m).unwrap().unwrap().len() as u64,
            MARKER_MAX
        );
        // A link (to a file elsewhere) and a FIFO are refused, without blocking.
        fs::remove_file(&m).unwrap();
        let elsewhere = d.path().join("elsewhere");
        fs::write(&elsewhere, format!("{UUID}:9 0\n")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &m).unwrap();
        let e = read_marker_line(&m).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        fs::remove_file(&m).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&m)
            .status()
            .unwrap();
        assert!(made.success());
        let e = read_marker_line(&m).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}
