//! The fixture tree in a temporary directory, `my_print_defaults` runs in
//! it, and the differential comparison.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sst_tunnel::config::mycnf::{
    DefaultsArgs, MyCnfError, OptionFiles, ProcessEnv, SearchPath, MYSQLD,
};

pub const MY_PRINT_DEFAULTS: &str = "/usr/bin/my_print_defaults";

/// The group lists every fixture is printed with.
const GROUP_LISTS: &[&[&str]] = &[
    &["sst"],
    &["sst", "mysqld"],
    &[MYSQLD],
    &[MYSQLD, "sst", "client"],
];

/// The fixture tree copied to a temporary directory, `@DIR@` replaced.
pub struct Fixtures {
    dir: tempfile::TempDir,
}

impl Fixtures {
    pub fn new() -> Self {
        assert!(
            Path::new(MY_PRINT_DEFAULTS).exists(),
            "install mariadb-server (apt-get install mariadb-server) for my_print_defaults"
        );
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cnf");
        copy_tree(&src, dir.path(), dir.path().to_str().unwrap().as_bytes());
        let ww = dir.path().join("inc/world_writable.cnf");
        fs::set_permissions(&ww, fs::Permissions::from_mode(0o666)).unwrap();
        Fixtures { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn files(&self, sub: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.path(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no fixtures in {sub}");
        files
    }

    /// `HOME` (always `@DIR@/home`) plus `vars`; a value starting with `@/`
    /// is a path inside the fixture root.
    pub fn vars(&self, vars: &[(&str, &str)]) -> Vec<(String, OsString)> {
        let mut all = vec![("HOME".to_owned(), self.path("home").into_os_string())];
        for (k, v) in vars {
            let value = match v.strip_prefix("@/") {
                Some(rel) => self.path(rel).into_os_string(),
                None => OsString::from(v),
            };
            all.push((k.to_string(), value));
        }
        all
    }

    pub fn env(&self, vars: &[(String, OsString)]) -> ProcessEnv {
        ProcessEnv::from_lookup(
            |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
            self.root().to_path_buf(),
        )
    }

    /// `my_print_defaults TRIO GROUPS` in the fixture root with only `vars`.
    pub fn run(&self, vars: &[(String, OsString)], args: &DefaultsArgs, groups: &[&str]) -> Output {
        Command::new(MY_PRINT_DEFAULTS)
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .current_dir(self.root())
            .args(args.to_args())
            .args(groups)
            .output()
            .unwrap()
    }
}

fn copy_tree(src: &Path, dst: &Path, root: &[u8]) {
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&to).unwrap();
            copy_tree(&entry.path(), &to, root);
        } else {
            let bytes = fs::read(entry.path()).unwrap();
            fs::write(&to, replace(&bytes, b"@DIR@", root)).unwrap();
            fs::set_permissions(&to, fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

fn joined(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Compares one configuration in every group list; returns the mismatches.
pub fn compare(
    fx: &Fixtures,
    vars: &[(String, OsString)],
    args: &DefaultsArgs,
    search: &SearchPath,
    label: &str,
) -> Vec<String> {
    let env = fx.env(vars);
    let ours = OptionFiles::load_in(args, search, &env)
        .unwrap_or_else(|e| panic!("{label}: load failed: {e}"));
    let mut mismatches = Vec::new();
    for groups in GROUP_LISTS {
        let out = fx.run(vars, args, groups);
        let theirs = String::from_utf8_lossy(&out.stdout);
        let mine = joined(&ours.print_defaults(groups));
        if out.status.code() != Some(0) || theirs != mine {
            mismatches.push(format!(
                "{label} {groups:?}: my_print_defaults exit {:?}\n--- my_print_defaults\n{theirs}--- ours\n{mine}--- stderr\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // Everything my_print_defaults complains about we record as a
        // warning (we also record the missing includes it skips silently).
        let complaints = out
            .stderr
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        let warnings = ours
            .warnings()
            .iter()
            .filter(|w| !matches!(w, MyCnfError::IncludeMissing { .. }))
            .count();
        if complaints != warnings {
            mismatches.push(format!(
                "{label}: {complaints} stderr lines from my_print_defaults, {warnings} warnings: {:?}\n{}",
                ours.warnings(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    mismatches
}

pub fn assert_no_mismatch(mismatches: Vec<String>) {
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
