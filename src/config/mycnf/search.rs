//! Where option files come from: the defaults trio given on the command
//! line, the process environment that MariaDB consults, and the default
//! search path.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// The "defaults trio" that mariadbd passes to SST scripts and that
/// `my_print_defaults` accepts as its first arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefaultsArgs {
    /// `--defaults-file=F`: read only this file (it must exist).
    pub defaults_file: Option<PathBuf>,
    /// `--defaults-extra-file=F`: read this file too, after the system files
    /// and before `~/.my.cnf` (it must exist). Ignored with `defaults_file`.
    pub extra_file: Option<PathBuf>,
    /// `--defaults-group-suffix=S`: also read `[<group>S]` for every group.
    /// When `None`, the environment variable `MYSQL_GROUP_SUFFIX` is used.
    pub group_suffix: Option<String>,
}

impl DefaultsArgs {
    /// The same settings as `my_print_defaults` arguments, in the order it
    /// requires (they must come before anything else).
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        let mut push = |flag: &str, value: &OsStr| {
            let mut arg = OsString::from(flag);
            arg.push(value);
            args.push(arg);
        };
        if let Some(file) = &self.defaults_file {
            push("--defaults-file=", file.as_os_str());
        }
        if let Some(file) = &self.extra_file {
            push("--defaults-extra-file=", file.as_os_str());
        }
        if let Some(suffix) = &self.group_suffix {
            push("--defaults-group-suffix=", OsStr::new(suffix));
        }
        args
    }
}

/// The parts of the process environment that change what MariaDB reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessEnv {
    /// The working directory: relative paths (in the trio, in `!include`,
    /// in `!includedir`) are resolved against it, not against the including
    /// file, exactly as MariaDB does.
    pub cwd: PathBuf,
    /// `HOME`, used for `~/.my.cnf` and for a leading `~` in file paths.
    pub home: Option<PathBuf>,
    /// `MARIADB_HOME`: its `my.cnf` is read; when set (even empty) it hides
    /// `MYSQL_HOME`.
    pub mariadb_home: Option<OsString>,
    /// `MYSQL_HOME`: its `my.cnf` is read when `MARIADB_HOME` is unset.
    pub mysql_home: Option<OsString>,
    /// `MYSQL_GROUP_SUFFIX`: the group suffix when none is given in the trio.
    pub group_suffix: Option<String>,
}

impl ProcessEnv {
    /// The environment of this process.
    pub fn current() -> Self {
        Self::from_lookup(
            |name| std::env::var_os(name),
            std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        )
    }

    /// An environment built from a variable lookup and a working directory
    /// (for tests, or to describe another process).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>, cwd: PathBuf) -> Self {
        ProcessEnv {
            cwd,
            home: lookup("HOME").map(PathBuf::from),
            mariadb_home: lookup("MARIADB_HOME"),
            mysql_home: lookup("MYSQL_HOME"),
            group_suffix: lookup("MYSQL_GROUP_SUFFIX").map(|s| s.to_string_lossy().into_owned()),
        }
    }

    /// Resolves a path as MariaDB opens it: a leading `~` or `~/` is
    /// replaced with `HOME` (when set; `~user` is not expanded), and a
    /// relative path is taken from the working directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        let bytes = path.as_os_str().as_bytes();
        let expanded = match (&self.home, bytes) {
            (Some(home), [b'~']) => home.clone(),
            (Some(home), [b'~', b'/', rest @ ..]) => home.join(OsStr::from_bytes(rest)),
            _ => path.to_path_buf(),
        };
        self.cwd.join(expanded)
    }
}

/// The default option files, tried in order when no `--defaults-file` is
/// given, and the position where `--defaults-extra-file` is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPath {
    files: Vec<PathBuf>,
    extra_at: usize,
}

impl SearchPath {
    /// MariaDB's search path for this process: see [`SearchPath::for_env`].
    pub fn from_env() -> Self {
        Self::for_env(&ProcessEnv::current())
    }

    /// MariaDB's search path (10.11, Debian build): `/etc/my.cnf`,
    /// `/etc/mysql/my.cnf`, `$MARIADB_HOME/my.cnf` or else
    /// `$MYSQL_HOME/my.cnf`, then the extra file, then `~/.my.cnf`.
    ///
    /// As in MariaDB, the list is built from directories (a trailing `/` is
    /// added), a directory named twice is kept only at its last position, and
    /// a directory starting with `~` contributes `.my.cnf` instead of
    /// `my.cnf`. `~` is expanded when the files are opened.
    pub fn for_env(env: &ProcessEnv) -> Self {
        const EXTRA: &[u8] = b"";
        let mut dirs: Vec<Vec<u8>> = Vec::new();
        let mut add = |dir: &[u8]| {
            let mut dir = dir.to_vec();
            if !dir.is_empty() && !dir.ends_with(b"/") {
                dir.push(b'/');
            }
            dirs.retain(|d| *d != dir);
            dirs.push(dir);
        };
        add(b"/etc/");
        add(b"/etc/mysql/");
        if let Some(home) = env.mariadb_home.as_ref().or(env.mysql_home.as_ref()) {
            add(home.as_bytes());
        }
        add(EXTRA);
        add(b"~/");
        let mut files = Vec::new();
        let mut extra_at = 0;
        for dir in dirs {
            if dir == EXTRA {
                extra_at = files.len();
                continue;
            }
            let name: &[u8] = if dir.starts_with(b"~") {
                b".my.cnf"
            } else {
                b"my.cnf"
            };
            let mut file = dir;
            file.extend_from_slice(name);
            files.push(PathBuf::from(OsString::from_vec(file)));
        }
        SearchPath { files, extra_at }
    }

    /// These files, in order; the extra file is read after all of them.
    pub fn new(files: Vec<PathBuf>) -> Self {
        let extra_at = files.len();
        SearchPath { files, extra_at }
    }

    /// These files, in order, with the extra file read just before
    /// `files[index]` (after all of them when `index >= files.len()`).
    pub fn with_extra_at(files: Vec<PathBuf>, index: usize) -> Self {
        let extra_at = index.min(files.len());
        SearchPath { files, extra_at }
    }

    /// The files, in the order they are tried.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// How many of [`SearchPath::files`] are read before the extra file.
    pub fn extra_at(&self) -> usize {
        self.extra_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> ProcessEnv {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProcessEnv::from_lookup(
            |name| {
                vars.iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| OsString::from(v))
            },
            PathBuf::from("/cwd"),
        )
    }

    fn files(search: &SearchPath) -> Vec<String> {
        let mut out: Vec<String> = search
            .files()
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        out.insert(search.extra_at(), "EXTRA".to_owned());
        out
    }

    #[test]
    fn default_order() {
        assert_eq!(
            files(&SearchPath::for_env(&env(&[]))),
            ["/etc/my.cnf", "/etc/mysql/my.cnf", "EXTRA", "~/.my.cnf"]
        );
    }

    #[test]
    fn mariadb_home_wins_over_mysql_home() {
        let e = env(&[("MARIADB_HOME", "/a"), ("MYSQL_HOME", "/b")]);
        assert_eq!(
            files(&SearchPath::for_env(&e)),
            [
                "/etc/my.cnf",
                "/etc/mysql/my.cnf",
                "/a/my.cnf",
                "EXTRA",
                "~/.my.cnf"
            ]
        );
        let e = env(&[("MARIADB_HOME", ""), ("MYSQL_HOME", "/b")]);
        assert_eq!(
            files(&SearchPath::for_env(&e)),
            ["/etc/my.cnf", "/etc/mysql/my.cnf", "EXTRA", "~/.my.cnf"]
        );
    }

    #[test]
    fn duplicate_directory_moves_to_its_last_place() {
        let e = env(&[("MYSQL_HOME", "/etc")]);
        assert_eq!(
            files(&SearchPath::for_env(&e)),
            ["/etc/mysql/my.cnf", "/etc/my.cnf", "EXTRA", "~/.my.cnf"]
        );
        let e = env(&[("MYSQL_HOME", "~/x")]);
        assert_eq!(
            files(&SearchPath::for_env(&e)),
            [
                "/etc/my.cnf",
                "/etc/mysql/my.cnf",
                "~/x/.my.cnf",
                "EXTRA",
                "~/.my.cnf"
            ]
        );
    }

    #[test]
    fn resolve_expands_home_and_cwd() {
        let e = env(&[("HOME", "/h")]);
        assert_eq!(e.resolve(Path::new("~/a.cnf")), Path::new("/h/a.cnf"));
        assert_eq!(e.resolve(Path::new("~")), Path::new("/h"));
        assert_eq!(e.resolve(Path::new("~x/a")), Path::new("/cwd/~x/a"));
        assert_eq!(e.resolve(Path::new("a.cnf")), Path::new("/cwd/a.cnf"));
        assert_eq!(e.resolve(Path::new("/a.cnf")), Path::new("/a.cnf"));
        assert_eq!(env(&[]).resolve(Path::new("~/a")), Path::new("/cwd/~/a"));
    }

    #[test]
    fn trio_as_arguments() {
        let args = DefaultsArgs {
            defaults_file: Some("/a".into()),
            extra_file: Some("/b".into()),
            group_suffix: Some(".2".into()),
        };
        assert_eq!(
            args.to_args(),
            [
                "--defaults-file=/a",
                "--defaults-extra-file=/b",
                "--defaults-group-suffix=.2"
            ]
        );
    }
}
