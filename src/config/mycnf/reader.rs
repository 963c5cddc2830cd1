//! Reading files: the defaults trio, the search path, `!include` and
//! `!includedir`, with MariaDB's rules for what is fatal and what is skipped.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::error::{IncludedFrom, MyCnfError};
use super::line::{self, Directive, Line, LineError, CHUNK};
use super::open::{self, Refused, MAX_FILE_SIZE};
use super::search::{DefaultsArgs, ProcessEnv, SearchPath};
use super::OptionEntry;

/// MariaDB stops following `!include`/`!includedir` at this depth.
const MAX_DEPTH: usize = 10;

/// Everything read: entries in read order, the files opened, the warnings.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub(crate) entries: Vec<OptionEntry>,
    pub(crate) files_read: Vec<PathBuf>,
    pub(crate) warnings: Vec<MyCnfError>,
}

/// How a file turned out when MariaDB "searched" it.
enum Opened {
    /// Read (possibly with no options).
    Read,
    /// Could not be opened: missing, unreadable.
    Missing(io::Error),
    /// World-writable: skipped with a warning.
    Ignored,
}

/// Reads what `my_print_defaults [trio]` reads.
pub(crate) fn load(
    args: &DefaultsArgs,
    search: &SearchPath,
    env: &ProcessEnv,
) -> Result<Loaded, MyCnfError> {
    let mut reader = Reader {
        env,
        follow: true,
        loaded: Loaded::default(),
    };
    if let Some(file) = &args.defaults_file {
        reader.required(file)?;
    } else {
        let (before, after) = search.files().split_at(search.extra_at());
        for file in before {
            reader.optional(file)?;
        }
        if let Some(file) = &args.extra_file {
            reader.required(file)?;
        }
        for file in after {
            reader.optional(file)?;
        }
    }
    Ok(reader.loaded)
}

/// Parses one file's contents at top level without touching the file
/// system: `!include`/`!includedir` are checked for syntax but not followed.
pub(crate) fn parse_contents(path: &Path, bytes: &[u8]) -> Result<Loaded, MyCnfError> {
    let env = ProcessEnv::default();
    let mut reader = Reader {
        env: &env,
        follow: false,
        loaded: Loaded::default(),
    };
    reader.contents(path, bytes, 0)?;
    Ok(reader.loaded)
}

struct Reader<'e> {
    env: &'e ProcessEnv,
    /// Whether `!include`/`!includedir` are followed (false: syntax only).
    follow: bool,
    loaded: Loaded,
}

impl Reader<'_> {
    /// A trio file: MariaDB makes it absolute (`realpath`) and requires it.
    /// An empty name is the working directory, which (as a directory) reads
    /// as empty.
    fn required(&mut self, file: &Path) -> Result<(), MyCnfError> {
        let resolved = self.env.resolve(file);
        let path = fs::canonicalize(&resolved).unwrap_or(resolved);
        match self.file(&path, None, 0)? {
            Opened::Missing(source) => Err(MyCnfError::RequiredFileMissing { path, source }),
            Opened::Read | Opened::Ignored => Ok(()),
        }
    }

    /// A search-path file: skipped when missing.
    fn optional(&mut self, file: &Path) -> Result<(), MyCnfError> {
        let path = self.env.resolve(file);
        self.file(&path, None, 0).map(|_| ())
    }

    /// Reads one file at include depth `depth`, named by the directive at
    /// `from` (`None` at top level). A file that opens but may not be read
    /// (see the `open` module) is an error at any depth; the other errors
    /// are fatal only at depth 0: deeper, the includer records them as
    /// warnings and goes on.
    fn file(
        &mut self,
        path: &Path,
        from: Option<IncludedFrom>,
        depth: usize,
    ) -> Result<Opened, MyCnfError> {
        let bytes = match open::read(path) {
            Ok(open::Opened::Bytes(bytes)) => bytes,
            // MariaDB opens it and reads nothing.
            Ok(open::Opened::Directory) => return Ok(Opened::Read),
            Ok(open::Opened::WorldWritable) => {
                let warning = MyCnfError::WorldWritable {
                    path: path.to_path_buf(),
                };
                tracing::warn!("{warning}");
                self.loaded.warnings.push(warning);
                return Ok(Opened::Ignored);
            }
            Err(Refused::Unopenable(e)) => return Ok(Opened::Missing(e)),
            Err(Refused::NotRegular(kind)) => {
                return Err(MyCnfError::NotRegularFile {
                    path: path.to_path_buf(),
                    kind,
                    included_from: from,
                })
            }
            Err(Refused::TooLarge(size)) => {
                return Err(MyCnfError::TooLarge {
                    path: path.to_path_buf(),
                    size,
                    cap: MAX_FILE_SIZE,
                    included_from: from,
                })
            }
            Err(Refused::Read(source)) => {
                return Err(MyCnfError::ReadFailed {
                    path: path.to_path_buf(),
                    included_from: from,
                    source,
                })
            }
        };
        self.contents(path, &bytes, depth)?;
        Ok(Opened::Read)
    }

    /// Parses the bytes of the file at `path`, read at include depth `depth`.
    fn contents(&mut self, path: &Path, bytes: &[u8], depth: usize) -> Result<(), MyCnfError> {
        self.loaded.files_read.push(path.to_path_buf());
        let mut group: Option<String> = None;
        for (index, chunk) in chunks(bytes).enumerate() {
            let lineno = index + 1;
            let at = |make: fn(PathBuf, usize) -> MyCnfError| make(path.to_path_buf(), lineno);
            match line::parse(chunk) {
                Ok(Line::Blank) => {}
                Ok(Line::Group(name)) => group = Some(String::from_utf8_lossy(name).into_owned()),
                Ok(Line::Bang(rest)) => {
                    if depth >= MAX_DEPTH {
                        let warning = at(|path, line| MyCnfError::RecursionLimit { path, line });
                        tracing::warn!("{warning}");
                        self.loaded.warnings.push(warning);
                        continue;
                    }
                    match line::directive(rest) {
                        Ok(None) => {}
                        Ok(Some(_)) if !self.follow => {}
                        Ok(Some(directive)) => self.directive(directive, path, lineno, depth)?,
                        Err(e) => return Err(line_error(e, path, lineno)),
                    }
                }
                Ok(Line::Option { key, value }) => {
                    let Some(group) = &group else {
                        return Err(at(|path, line| MyCnfError::OptionWithoutGroup {
                            path,
                            line,
                        }));
                    };
                    self.loaded.entries.push(OptionEntry {
                        group: group.clone(),
                        key: String::from_utf8_lossy(&key).into_owned(),
                        value: value.map(|v| String::from_utf8_lossy(&v).into_owned()),
                        path: path.to_path_buf(),
                        line: lineno,
                    });
                }
                Err(e) => return Err(line_error(e, path, lineno)),
            }
        }
        Ok(())
    }

    fn directive(
        &mut self,
        directive: Directive<'_>,
        path: &Path,
        line: usize,
        depth: usize,
    ) -> Result<(), MyCnfError> {
        match directive {
            Directive::Include(target) => {
                let target = self.env.resolve(Path::new(OsStr::from_bytes(target)));
                self.included(&target, path, line, depth)?;
            }
            Directive::IncludeDir(dir) => {
                // MariaDB lists the directory without expanding `~`.
                let dir = self.env.cwd.join(OsStr::from_bytes(dir));
                let mut names: Vec<_> = fs::read_dir(&dir)
                    .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect())
                    .map_err(|source| MyCnfError::IncludeDir {
                        path: path.to_path_buf(),
                        line,
                        dir: dir.clone(),
                        source,
                    })?;
                // Only names whose last extension is exactly `.cnf`, in byte order.
                names.retain(|name| {
                    let name = name.as_bytes();
                    name.iter()
                        .rposition(|&b| b == b'.')
                        .is_some_and(|dot| &name[dot..] == b".cnf")
                });
                names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
                for name in names {
                    self.included(&dir.join(name), path, line, depth)?;
                }
            }
        }
        Ok(())
    }

    /// An included file: its problems only end that file, except those
    /// [`MyCnfError::is_fatal_at_any_depth`] (a device, a FIFO, an oversized
    /// or unreadable file), which end the whole load.
    fn included(
        &mut self,
        target: &Path,
        path: &Path,
        line: usize,
        depth: usize,
    ) -> Result<(), MyCnfError> {
        let from = IncludedFrom {
            path: path.to_path_buf(),
            line,
        };
        match self.file(target, Some(from), depth + 1) {
            Ok(Opened::Read | Opened::Ignored) => {}
            Ok(Opened::Missing(source)) => {
                let warning = MyCnfError::IncludeMissing {
                    path: path.to_path_buf(),
                    line,
                    target: target.to_path_buf(),
                    source,
                };
                tracing::debug!("{warning}");
                self.loaded.warnings.push(warning);
            }
            Err(error) if error.is_fatal_at_any_depth() => return Err(error),
            Err(error) => {
                tracing::warn!("{error}");
                self.loaded.warnings.push(error);
            }
        }
        Ok(())
    }
}

fn line_error(e: LineError, path: &Path, line: usize) -> MyCnfError {
    let path = path.to_path_buf();
    match e {
        LineError::WrongGroup => MyCnfError::WrongGroup { path, line },
        LineError::WrongDirective(directive) => MyCnfError::WrongDirective {
            path,
            line,
            directive,
        },
    }
}

/// The file as MariaDB sees it: lines (with their `\n`), each cut into
/// pieces of at most [`CHUNK`] bytes.
fn chunks(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .flat_map(|line| line.chunks(CHUNK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_into_chunks() {
        let mut text = b"a=".to_vec();
        text.extend(std::iter::repeat(b'x').take(CHUNK - 1));
        text.extend_from_slice(b"\nb\n");
        let pieces: Vec<&[u8]> = chunks(&text).collect();
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces[0].len(), CHUNK);
        assert_eq!(pieces[1], b"x\n");
        assert_eq!(pieces[2], b"b\n");
    }

    #[test]
    fn parse_contents_checks_includes_without_following_them() {
        let path = Path::new("/nowhere/my.cnf");
        let text = b"[sst]\n!include /etc/passwd\n!includedir /\nkey = 'v'\n";
        let loaded = parse_contents(path, text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.files_read, [path]);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let [entry] = &loaded.entries[..] else {
            panic!("{:?}", loaded.entries);
        };
        assert_eq!(
            (entry.key.as_str(), entry.value.as_deref()),
            ("key", Some("v"))
        );
        assert_eq!((entry.path.as_path(), entry.line), (path, 4));

        let error = parse_contents(path, b"[sst]\n!includedir \n").map(|_| ());
        assert!(
            matches!(
                error,
                Err(MyCnfError::WrongDirective {
                    line: 2,
                    directive: "includedir",
                    ..
                })
            ),
            "{error:?}"
        );
        let error = parse_contents(path, b"a=1\n").map(|_| ());
        assert!(
            matches!(error, Err(MyCnfError::OptionWithoutGroup { line: 1, .. })),
            "{error:?}"
        );
    }
}
