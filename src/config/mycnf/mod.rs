//! MariaDB option files (`my.cnf`), read exactly as `my_print_defaults`
//! (MariaDB 10.11) reads them, and looked up with the semantics of the SST
//! scripts' `parse_cnf` / `in_config`.
//!
//! What is read: with `--defaults-file` only that file; otherwise the
//! [`SearchPath`] (`/etc/my.cnf`, `/etc/mysql/my.cnf`, `$MARIADB_HOME/my.cnf`
//! or `$MYSQL_HOME/my.cnf`, the `--defaults-extra-file`, `~/.my.cnf`).
//! `!include FILE` and `!includedir DIR` (files whose last extension is
//! `.cnf`, in byte order of their names, not recursing into subdirectories)
//! are followed up to depth 10; relative paths are taken from the working
//! directory, not from the including file. World-writable files are ignored.
//!
//! What is fatal ([`OptionFiles::load`] fails, as `my_print_defaults` exits
//! 2): a missing or unopenable trio file, and in any file read at top level an
//! option before the first group, a `[` without `]`, an `!include` without an
//! argument, or an `!includedir` that cannot be listed. The same problems in
//! an included file only end that file, and a missing or unopenable
//! `!include` target is skipped; these land in [`OptionFiles::warnings`].
//! The line syntax is in the `line` submodule's header.
//!
//! Fatal wherever the file is (top level, search path or any include
//! depth), because skipping it could silently drop `[sst]` settings: a file
//! that opens but is not a regular file ([`MyCnfError::NotRegularFile`]:
//! a FIFO, `/dev/zero`, a terminal; directories and `/dev/null` read as
//! empty), one over [`MAX_FILE_SIZE`] ([`MyCnfError::TooLarge`]), one whose
//! read fails ([`MyCnfError::ReadFailed`]). MariaDB itself would block on
//! such a FIFO and read `/dev/zero` forever; the `open` submodule's header
//! has the rules. Symlinks are followed, so a link to a regular file reads
//! as that file. Any fatal error here ends the SST method and the manual
//! commands with exit 2 (`ConfigError::exit_code`, `my_print_defaults`'
//! status); `sst-tunnel check` reports it as a FAIL line (exit 22).
//!
//! Group names are compared ignoring ASCII case (MariaDB also folds latin-1
//! letters; group names are ASCII in practice). Not reproduced: MariaDB's
//! silent skipping of paths longer than about 500 bytes, and `~user/`
//! expansion (only `~` and `~/` are expanded, from `HOME`).
//!
//! Entries keep the key as written (`loose-` prefix, `_` or `-`) so that
//! [`OptionFiles::print_defaults`] reproduces `my_print_defaults` line for
//! line; [`OptionFiles::get`] normalises. Bytes that are not UTF-8 are
//! replaced (`U+FFFD`), which is the only way our output differs from
//! `my_print_defaults` (it prints raw bytes).

mod error;
mod line;
mod open;
mod reader;
mod search;

use std::path::{Path, PathBuf};

pub use error::{FileKind, IncludedFrom, MyCnfError};
pub use open::MAX_FILE_SIZE;
pub use search::{DefaultsArgs, ProcessEnv, SearchPath};

/// The groups `my_print_defaults --mysqld` (and mariadbd) reads, as
/// observed with MariaDB 10.11: the versioned names are those of 10.11.
pub const MYSQLD_GROUPS: &[&str] = &[
    "mysqld",
    "server",
    "mysqld-10.11",
    "mariadb",
    "mariadb-10.11",
    "mariadbd",
    "mariadbd-10.11",
    "galera",
    "client-server",
];

/// A group name that stands for all of [`MYSQLD_GROUPS`] read together (in
/// file order, last wins), as `parse_cnf --mysqld` and `my_print_defaults
/// --mysqld` do. `--mariadbd` is accepted as a synonym.
pub const MYSQLD: &str = "--mysqld";

/// One option line of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionEntry {
    /// The group it is in, as written in the header (trailing space dropped).
    pub group: String,
    /// The key as written, `loose-` prefix included (see
    /// [`OptionEntry::normalized_key`]).
    pub key: String,
    /// The decoded value (quotes removed, escapes applied); `None` for a
    /// valueless option such as `log-bin`.
    pub value: Option<String>,
    /// The file it was read from (absolute).
    pub path: PathBuf,
    /// The 1-based line number in that file.
    pub line: usize,
}

impl OptionEntry {
    /// The key as `parse_cnf` compares it: a leading `loose` is dropped
    /// (with the `-` or `_` after it) and every `_` becomes `-`. `None` for
    /// keys that can never match (`loose` followed by anything else).
    pub fn normalized_key(&self) -> Option<String> {
        let key = match self.key.strip_prefix("loose") {
            Some(rest) => rest.strip_prefix(['-', '_'])?,
            None => self.key.as_str(),
        };
        Some(key.replace('_', "-"))
    }

    /// The line `my_print_defaults` prints for this entry.
    pub fn to_line(&self) -> String {
        match &self.value {
            Some(value) => format!("--{}={}", self.key, value),
            None => format!("--{}", self.key),
        }
    }
}

/// Every option of every file read, in read order.
#[derive(Debug, Default)]
pub struct OptionFiles {
    entries: Vec<OptionEntry>,
    files_read: Vec<PathBuf>,
    warnings: Vec<MyCnfError>,
    group_suffix: Option<String>,
}

impl OptionFiles {
    /// Reads what `my_print_defaults [trio]` reads in this process's
    /// environment.
    pub fn load(args: &DefaultsArgs) -> Result<Self, MyCnfError> {
        Self::load_from(args, &SearchPath::from_env())
    }

    /// Like [`OptionFiles::load`], with the given search path (used only
    /// when `args.defaults_file` is `None`).
    pub fn load_from(args: &DefaultsArgs, search: &SearchPath) -> Result<Self, MyCnfError> {
        Self::load_in(args, search, &ProcessEnv::current())
    }

    /// Like [`OptionFiles::load_from`], in the given environment (working
    /// directory, `HOME`, `MYSQL_GROUP_SUFFIX`) instead of this process's.
    pub fn load_in(
        args: &DefaultsArgs,
        search: &SearchPath,
        env: &ProcessEnv,
    ) -> Result<Self, MyCnfError> {
        let loaded = reader::load(args, search, env)?;
        Ok(OptionFiles {
            entries: loaded.entries,
            files_read: loaded.files_read,
            warnings: loaded.warnings,
            group_suffix: args
                .group_suffix
                .clone()
                .or_else(|| env.group_suffix.clone()),
        })
    }

    /// Parses `bytes` as the contents of one option file named `path`, read
    /// at top level (as a `--defaults-file`), without touching the file
    /// system: the same line rules and fatal errors as [`OptionFiles::load`],
    /// but `!include`/`!includedir` lines are only checked for syntax (a
    /// missing argument is still [`MyCnfError::WrongDirective`]), not
    /// followed, and no group suffix is in effect. `path` only labels the
    /// entries and errors. This is the narrow entry point for fuzzing and for
    /// validating a snippet; [`OptionFiles::load`] is what the tunnel uses.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, MyCnfError> {
        let loaded = reader::parse_contents(path, bytes)?;
        Ok(OptionFiles {
            entries: loaded.entries,
            files_read: loaded.files_read,
            warnings: loaded.warnings,
            group_suffix: None,
        })
    }

    /// Exactly the lines `my_print_defaults [trio] GROUP...` prints, in its
    /// order (file order; `[<group><suffix>]` included when a suffix is in
    /// effect; group names compared ignoring ASCII case). [`MYSQLD`] stands
    /// for [`MYSQLD_GROUPS`]. A value holding a newline (`\n` escape) is one
    /// element here but several lines of `my_print_defaults` output.
    pub fn print_defaults(&self, groups: &[&str]) -> Vec<String> {
        self.selected(groups).map(OptionEntry::to_line).collect()
    }

    /// The entry `parse_cnf "g1|g2|..." key` takes its value from: groups are
    /// tried in order (an element may be [`MYSQLD`]); in each, the last
    /// occurrence of the key counts, and the first group where that value is
    /// non-empty after trimming wins. With a group suffix, `mysqld<suffix>`
    /// is tried before `mysqld`. Keys are compared normalised (see
    /// [`OptionEntry::normalized_key`]), case-sensitively.
    pub fn get(&self, groups: &[&str], key: &str) -> Option<&OptionEntry> {
        let key = key.replace('_', "-");
        self.steps(groups).find_map(|step| {
            self.selected(&step)
                .filter(|e| e.normalized_key().as_deref() == Some(key.as_str()))
                .last()
                .filter(|e| e.value.as_deref().is_some_and(|v| !v.trim().is_empty()))
        })
    }

    /// The trimmed value of [`OptionFiles::get`].
    pub fn get_str(&self, groups: &[&str], key: &str) -> Option<&str> {
        self.get(groups, key)
            .and_then(|e| e.value.as_deref())
            .map(str::trim)
    }

    /// Whether any of the groups sets the key, with or without a value
    /// (`in_config`: a bare `log-bin` counts).
    pub fn has(&self, groups: &[&str], key: &str) -> bool {
        let key = key.replace('_', "-");
        self.steps(groups).any(|step| {
            self.selected(&step)
                .any(|e| e.normalized_key().as_deref() == Some(key.as_str()))
        })
    }

    /// The files read, in order (included files at the point of inclusion).
    pub fn files_read(&self) -> &[PathBuf] {
        &self.files_read
    }

    /// The files read, comma-separated, for messages; `None` when none was.
    pub fn files_read_list(&self) -> Option<String> {
        (!self.files_read.is_empty()).then(|| {
            self.files_read
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// Every entry read, in order, whatever its group.
    pub fn entries(&self) -> &[OptionEntry] {
        &self.entries
    }

    /// Problems `my_print_defaults` reports or skips silently without
    /// failing: world-writable files, missing include targets, errors inside
    /// included files, the include depth limit.
    pub fn warnings(&self) -> &[MyCnfError] {
        &self.warnings
    }

    /// The group suffix in effect (`--defaults-group-suffix`, else
    /// `MYSQL_GROUP_SUFFIX`).
    pub fn group_suffix(&self) -> Option<&str> {
        self.group_suffix.as_deref()
    }

    /// The group lists `parse_cnf` queries one after the other.
    fn steps<'a>(&'a self, groups: &'a [&'a str]) -> impl Iterator<Item = Vec<String>> + 'a {
        groups.iter().flat_map(move |&group| {
            let suffixed = match self.group_suffix() {
                Some(suffix) if group == "mysqld" && !suffix.is_empty() => {
                    Some(vec![format!("mysqld{suffix}")])
                }
                _ => None,
            };
            suffixed.into_iter().chain([vec![group.to_owned()]])
        })
    }

    /// The entries `my_print_defaults` prints for these group arguments.
    fn selected<'a, S: AsRef<str>>(
        &'a self,
        groups: &[S],
    ) -> impl Iterator<Item = &'a OptionEntry> + 'a {
        let mut names: Vec<String> = Vec::new();
        for group in groups {
            match group.as_ref() {
                MYSQLD | "--mariadbd" => names.extend(MYSQLD_GROUPS.iter().map(|g| g.to_string())),
                group => names.push(group.to_owned()),
            }
        }
        if let Some(suffix) = self.group_suffix() {
            let suffixed: Vec<String> = names.iter().map(|g| format!("{g}{suffix}")).collect();
            names.extend(suffixed);
        }
        self.entries
            .iter()
            .filter(move |e| names.iter().any(|n| n.eq_ignore_ascii_case(&e.group)))
    }
}
