//! The typed errors and warnings of option-file reading.

use std::io;
use std::path::PathBuf;

/// A failure (or, in [`super::OptionFiles::warnings`], a problem that
/// `my_print_defaults` reports on stderr and then carries on past) while
/// reading MariaDB option files.
///
/// Which problems are fatal follows `my_print_defaults` (10.11): a malformed
/// line or an unreadable `!includedir` is fatal in a file named on the
/// command line or found on the search path, but inside an included file it
/// only stops reading that file (its earlier options are kept).
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
