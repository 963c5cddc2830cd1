//! The typed errors and warnings of option-file reading.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A failure (or, in [`super::OptionFiles::warnings`], a problem that
/// `my_print_defaults` reports on stderr and then carries on past) while
/// reading MariaDB option files.
///
/// Which problems are fatal follows `my_print_defaults` (10.11): a malformed
/// line or an unreadable `!includedir` is fatal in a file named on the
/// command line or found on the search path, but inside an included file it
/// only stops reading that file (its earlier options are kept). Ours on top
/// ([`MyCnfError::is_fatal_at_any_depth`]): a file that opens but is not a
/// regular file, is over [`super::MAX_FILE_SIZE`], or fails to read is fatal
/// wherever it is, since skipping it could silently drop `[sst]` settings.
#[derive(Debug, thiserror::Error)]
pub enum MyCnfError {
    /// A file given with `--defaults-file` or `--defaults-extra-file` could not
    /// be opened.
    #[error("could not open required defaults file {}", path.display())]
    RequiredFileMissing {
        /// The file, after resolving it against the working directory.
        path: PathBuf,
        /// Why it could not be opened.
        #[source]
        source: io::Error,
    },
    /// An option line before the first `[group]` line of a file.
    #[error("{}:{line}: option without preceding group", path.display())]
    OptionWithoutGroup {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
    },
    /// A line starting with `[` that has no `]`.
    #[error("{}:{line}: wrong group definition (no closing ']')", path.display())]
    WrongGroup {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
    },
    /// `!include` or `!includedir` with no argument.
    #[error("{}:{line}: wrong '!{directive}' directive (no argument)", path.display())]
    WrongDirective {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// `include` or `includedir`.
        directive: &'static str,
    },
    /// The directory named by `!includedir` could not be listed.
    #[error("{}:{line}: cannot read include directory {}", path.display(), dir.display())]
    IncludeDir {
        /// The file holding the directive.
        path: PathBuf,
        /// The 1-based line number of the directive.
        line: usize,
        /// The directory, as resolved.
        dir: PathBuf,
        /// Why it could not be listed.
        #[source]
        source: io::Error,
    },
    /// Warning only: the target of `!include` does not exist or cannot be
    /// opened; `my_print_defaults` skips it silently.
    #[error("{}:{line}: included file {} not found, skipped", path.display(), target.display())]
    IncludeMissing {
        /// The file holding the directive.
        path: PathBuf,
        /// The 1-based line number of the directive.
        line: usize,
        /// The included file, as resolved.
        target: PathBuf,
        /// Why it could not be opened.
        #[source]
        source: io::Error,
    },
    /// Warning only: a world-writable regular file is ignored (MariaDB
    /// refuses files that any user could have written).
    #[error("world-writable config file {} is ignored", path.display())]
    WorldWritable {
        /// The ignored file.
        path: PathBuf,
    },
    /// An option file that opened but is not a regular file (nor a
    /// directory or `/dev/null`, which read as empty): reading a device or a
    /// FIFO could block forever or never end (`!include /dev/zero`).
    /// Fatal at any include depth.
    #[error("{} {} is a {kind}, not a regular file", Site(included_from), path.display())]
    NotRegularFile {
        /// The file, as named (symlinks not resolved).
        path: PathBuf,
        /// What it is instead.
        kind: FileKind,
        /// The directive that named it; `None` for a file read at top level.
        included_from: Option<IncludedFrom>,
    },
    /// An option file larger than [`super::MAX_FILE_SIZE`]. Fatal at any
    /// include depth.
    #[error(
        "{} {} is {size} bytes, over the {cap}-byte limit for option files",
        Site(included_from),
        path.display()
    )]
    TooLarge {
        /// The file, as named.
        path: PathBuf,
        /// Its size (at least `cap + 1` if it grew while being read).
        size: u64,
        /// The limit, [`super::MAX_FILE_SIZE`].
        cap: u64,
        /// The directive that named it; `None` for a file read at top level.
        included_from: Option<IncludedFrom>,
    },
    /// An option file that opened but could not be read to its end. Fatal at
    /// any include depth.
    #[error("{} {} could not be read", Site(included_from), path.display())]
    ReadFailed {
        /// The file, as named.
        path: PathBuf,
        /// The directive that named it; `None` for a file read at top level.
        included_from: Option<IncludedFrom>,
        /// The read error.
        #[source]
        source: io::Error,
    },
    /// Warning only: a `!` directive at the maximum include depth (10) is
    /// skipped.
    #[error("{}:{line}: directive skipped, maximum include recursion level reached", path.display())]
    RecursionLimit {
        /// The file holding the directive.
        path: PathBuf,
        /// The 1-based line number of the directive.
        line: usize,
    },
}

impl MyCnfError {
    /// Whether this error stops the whole load even when it happens in an
    /// included file (where MariaDB's own errors only end that file): a
    /// file we refuse to read, or could not read, might hold `[sst]` keys.
    pub fn is_fatal_at_any_depth(&self) -> bool {
        matches!(
            self,
            MyCnfError::NotRegularFile { .. }
                | MyCnfError::TooLarge { .. }
                | MyCnfError::ReadFailed { .. }
        )
    }
}

/// The `!include` or `!includedir` line that named a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludedFrom {
    /// The file holding the directive.
    pub path: PathBuf,
    /// The 1-based line number of the directive.
    pub line: usize,
}

/// What a path that is not a regular file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A named pipe: opening or reading it waits for a writer.
    Fifo,
    /// A character device such as `/dev/zero` or a terminal.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// Anything else that is neither a regular file nor a directory.
    Other,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Fifo => "FIFO",
            FileKind::CharDevice => "character device",
            FileKind::BlockDevice => "block device",
            FileKind::Other => "special file",
        })
    }
}

/// How a message names a file: `option file` at top level, else
/// `INCLUDER:LINE: included file`.
struct Site<'a>(&'a Option<IncludedFrom>);

impl fmt::Display for Site<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("option file"),
            Some(at) => write!(f, "{}:{}: included file", at.path.display(), at.line),
        }
    }
}
