//! `config::mycnf` against the real `my_print_defaults` (differential tests
//! over the fixtures in `tests/data/cnf/`), plus `get`/`has` semantics.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sst_tunnel::config::mycnf::{
    DefaultsArgs, MyCnfError, OptionFiles, ProcessEnv, SearchPath, MYSQLD,
};

const MY_PRINT_DEFAULTS: &str = "/usr/bin/my_print_defaults";

/// The group lists every fixture is printed with.
const GROUP_LISTS: &[&[&str]] = &[
    &["sst"],
    &["sst", "mysqld"],
    &[MYSQLD],
    &[MYSQLD, "sst", "client"],
];

/// The fixture tree copied to a temporary directory, `@DIR@` replaced.
struct Fixtures {
    dir: tempfile::TempDir,
}

impl Fixtures {
    fn new() -> Self {
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

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    fn files(&self, sub: &str) -> Vec<PathBuf> {
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
    fn vars(&self, vars: &[(&str, &str)]) -> Vec<(String, OsString)> {
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

    fn env(&self, vars: &[(String, OsString)]) -> ProcessEnv {
        ProcessEnv::from_lookup(
            |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
            self.root().to_path_buf(),
        )
    }

    /// `my_print_defaults TRIO GROUPS` in the fixture root with only `vars`.
    fn run(&self, vars: &[(String, OsString)], args: &DefaultsArgs, groups: &[&str]) -> Output {
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
fn compare(
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

fn assert_no_mismatch(mismatches: Vec<String>) {
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_valid_fixture_prints_like_my_print_defaults() {
    let fx = Fixtures::new();
    let vars = fx.vars(&[]);
    let unused = SearchPath::new(vec![]);
    let mut mismatches = Vec::new();
    for file in fx.files("valid") {
        for suffix in [None, Some(".2"), Some("")] {
            let args = DefaultsArgs {
                defaults_file: Some(file.clone()),
                extra_file: None,
                group_suffix: suffix.map(str::to_owned),
            };
            let label = format!("{} suffix={suffix:?}", file.display());
            mismatches.extend(compare(&fx, &vars, &args, &unused, &label));
        }
    }
    assert_no_mismatch(mismatches);
}

#[test]
fn relative_defaults_file_and_env_suffix() {
    let fx = Fixtures::new();
    let vars = fx.vars(&[("MYSQL_GROUP_SUFFIX", ".2")]);
    let args = DefaultsArgs {
        defaults_file: Some("valid/groups.cnf".into()),
        ..DefaultsArgs::default()
    };
    let m = compare(
        &fx,
        &vars,
        &args,
        &SearchPath::new(vec![]),
        "relative + MYSQL_GROUP_SUFFIX",
    );
    assert_no_mismatch(m);
    let ours = OptionFiles::load_in(&args, &SearchPath::new(vec![]), &fx.env(&vars)).unwrap();
    assert_eq!(ours.group_suffix(), Some(".2"));
    assert_eq!(ours.files_read(), [fx.path("valid/groups.cnf")]);
}

/// Without `--defaults-file`: the real search path (this machine's
/// `/etc/my.cnf` and `/etc/mysql/my.cnf` with its includes are read by both
/// sides), `HOME`/`MYSQL_HOME`/`MARIADB_HOME` pointed at fixture dirs, with
/// and without an extra file and a suffix.
#[test]
fn search_path_and_extra_file_match_my_print_defaults() {
    let fx = Fixtures::new();
    let envs: &[&[(&str, &str)]] = &[
        &[],
        &[("MYSQL_HOME", "@/mysql_home")],
        &[
            ("MARIADB_HOME", "@/mariadb_home"),
            ("MYSQL_HOME", "@/mysql_home"),
        ],
        &[("MARIADB_HOME", ""), ("MYSQL_HOME", "@/mysql_home")],
        &[("MYSQL_HOME", "~/")],
        &[("MYSQL_HOME", "/etc/mysql")],
    ];
    let mut mismatches = Vec::new();
    for vars in envs {
        let vars = fx.vars(vars);
        let search = SearchPath::for_env(&fx.env(&vars));
        for extra in [
            None,
            Some(fx.path("valid/basic.cnf")),
            Some("valid/include_rel.cnf".into()),
        ] {
            for suffix in [None, Some(".2")] {
                let args = DefaultsArgs {
                    defaults_file: None,
                    extra_file: extra.clone(),
                    group_suffix: suffix.map(str::to_owned),
                };
                let label = format!("env={vars:?} extra={extra:?} suffix={suffix:?}");
                mismatches.extend(compare(&fx, &vars, &args, &search, &label));
            }
        }
    }
    assert_no_mismatch(mismatches);
}

#[test]
fn extra_file_goes_before_home_file() {
    let fx = Fixtures::new();
    let vars = fx.vars(&[("MYSQL_HOME", "@/mysql_home")]);
    let env = fx.env(&vars);
    let args = DefaultsArgs {
        extra_file: Some(fx.path("inc/b.cnf")),
        ..DefaultsArgs::default()
    };
    let ours = OptionFiles::load_in(&args, &SearchPath::for_env(&env), &env).unwrap();
    let read: Vec<_> = ours
        .files_read()
        .iter()
        .filter(|p| p.starts_with(fx.root()))
        .cloned()
        .collect();
    assert_eq!(
        read,
        [
            fx.path("mysql_home/my.cnf"),
            fx.path("inc/b.cnf"),
            fx.path("home/.my.cnf")
        ]
    );
    let e = ours.get(&["sst"], "source").unwrap();
    assert_eq!(
        (e.value.as_deref(), e.path.clone(), e.line),
        (Some("home"), fx.path("home/.my.cnf"), 2)
    );
}

#[test]
fn every_invalid_fixture_fails_like_my_print_defaults() {
    let fx = Fixtures::new();
    let vars = fx.vars(&[]);
    let expected: BTreeMap<&str, (&str, usize)> = [
        ("no_group.cnf", ("OptionWithoutGroup", 1)),
        ("bad_group.cnf", ("WrongGroup", 3)),
        ("include_no_arg.cnf", ("WrongDirective", 3)),
        ("includedir_no_arg.cnf", ("WrongDirective", 3)),
        ("include_one_char_last_line.cnf", ("WrongDirective", 3)),
        ("includedir_missing.cnf", ("IncludeDir", 3)),
        ("includedir_is_file.cnf", ("IncludeDir", 3)),
        ("includedir_tilde.cnf", ("IncludeDir", 3)),
    ]
    .into_iter()
    .collect();
    let files = fx.files("invalid");
    assert_eq!(
        files.len(),
        expected.len(),
        "every invalid fixture needs an expectation"
    );
    for file in files {
        let name = file.file_name().unwrap().to_str().unwrap();
        let (variant, line) = expected[name];
        let args = DefaultsArgs {
            defaults_file: Some(file.clone()),
            ..DefaultsArgs::default()
        };
        let out = fx.run(&vars, &args, &["sst"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name}: my_print_defaults should fail"
        );
        assert!(out.stdout.is_empty(), "{name}");
        let err =
            OptionFiles::load_in(&args, &SearchPath::new(vec![]), &fx.env(&vars)).unwrap_err();
        let (got_variant, got_path, got_line) = match &err {
            MyCnfError::OptionWithoutGroup { path, line } => ("OptionWithoutGroup", path, *line),
            MyCnfError::WrongGroup { path, line } => ("WrongGroup", path, *line),
            MyCnfError::WrongDirective { path, line, .. } => ("WrongDirective", path, *line),
            MyCnfError::IncludeDir { path, line, .. } => ("IncludeDir", path, *line),
            other => panic!("{name}: unexpected error {other:?}"),
        };
        assert_eq!(
            (got_variant, got_path, got_line),
            (variant, &file, line),
            "{name}: {err}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{}:{line}: ", file.display())),
            "{text}"
        );
    }
}

#[test]
fn missing_trio_files_are_fatal_like_my_print_defaults() {
    let fx = Fixtures::new();
    let vars = fx.vars(&[]);
    let missing = fx.path("nope.cnf");
    for args in [
        DefaultsArgs {
            defaults_file: Some(missing.clone()),
            ..DefaultsArgs::default()
        },
        DefaultsArgs {
            extra_file: Some(missing.clone()),
            ..DefaultsArgs::default()
        },
    ] {
        let out = fx.run(&vars, &args, &["sst"]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "Could not open required defaults file: {}",
                missing.display()
            )),
            "{stderr}"
        );
        let env = fx.env(&vars);
        match OptionFiles::load_in(&args, &SearchPath::for_env(&env), &env) {
            Err(e @ MyCnfError::RequiredFileMissing { .. }) => {
                assert_eq!(
                    e.to_string(),
                    format!(
                        "could not open required defaults file {}",
                        missing.display()
                    )
                );
            }
            other => panic!("expected RequiredFileMissing, got {other:?}"),
        }
    }
}

#[test]
fn skipped_problems_are_reported_as_warnings() {
    let fx = Fixtures::new();
    let load = |name: &str| {
        let args = DefaultsArgs {
            defaults_file: Some(fx.path(name)),
            ..DefaultsArgs::default()
        };
        OptionFiles::load_in(&args, &SearchPath::new(vec![]), &fx.env(&fx.vars(&[]))).unwrap()
    };
    let ww = load("valid/include_world_writable.cnf");
    assert!(
        matches!(ww.warnings(), [MyCnfError::WorldWritable { path }] if *path == fx.path("inc/world_writable.cnf"))
    );
    let missing = load("valid/include_missing.cnf");
    assert!(matches!(
        missing.warnings(),
        [MyCnfError::IncludeMissing { line: 3, .. }]
    ));
    let rec = load("valid/include_recursive.cnf");
    assert!(matches!(
        rec.warnings(),
        [MyCnfError::RecursionLimit { line: 3, .. }]
    ));
    assert_eq!(
        rec.print_defaults(&["sst"])
            .iter()
            .filter(|l| *l == "--level=x")
            .count(),
        11
    );
    let child = load("valid/include_child_errors.cnf");
    let kinds: Vec<_> = child.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(
        kinds,
        [
            format!(
                "{}:3: wrong group definition (no closing ']')",
                fx.path("inc/bad_group.cnf").display()
            ),
            format!(
                "{}:1: option without preceding group",
                fx.path("inc/no_group.cnf").display()
            ),
            format!(
                "{}:3: wrong '!include' directive (no argument)",
                fx.path("inc/bad_include.cnf").display()
            ),
        ]
    );
}

fn lookup(fx: &Fixtures, suffix: Option<&str>) -> OptionFiles {
    let args = DefaultsArgs {
        defaults_file: Some(fx.path("valid/lookup.cnf")),
        group_suffix: suffix.map(str::to_owned),
        ..DefaultsArgs::default()
    };
    OptionFiles::load_in(&args, &SearchPath::new(vec![]), &fx.env(&fx.vars(&[]))).unwrap()
}

#[test]
fn get_takes_last_occurrence_and_first_group_with_a_value() {
    let fx = Fixtures::new();
    let cnf = lookup(&fx, None);
    // Last tcert in [sst] is empty, so [sst] yields nothing.
    assert_eq!(cnf.get(&["sst"], "tcert"), None);
    // Empty tca in [sst]: the next group is tried.
    let tca = cnf.get(&["sst", "mysqld"], "tca").unwrap();
    assert_eq!(
        (tca.value.as_deref(), tca.group.as_str(), tca.line),
        (Some("/mysqld/ca.pem"), "mysqld", 5)
    );
    assert_eq!(tca.path, fx.path("valid/lookup.cnf"));
    assert_eq!(cnf.get_str(&["sst"], "tkey"), Some("/sst/key.pem"));
    assert_eq!(cnf.get_str(&["sst"], "sockopt"), Some("cipher=HIGH"));
    // Keys are case-sensitive.
    assert_eq!(cnf.get(&["sst"], "TKEY"), None);
}

#[test]
fn get_normalises_keys_and_reads_mysqld_groups_together() {
    let fx = Fixtures::new();
    let cnf = lookup(&fx, None);
    // `--mysqld`: all server groups in file order, last wins.
    assert_eq!(
        cnf.get_str(&[MYSQLD], "innodb_log_group_home_dir"),
        Some("/galera/redo")
    );
    assert_eq!(
        cnf.get_str(&[MYSQLD], "innodb-log-group-home-dir"),
        Some("/galera/redo")
    );
    // Plain `mysqld` is only that group.
    assert_eq!(
        cnf.get(&["mysqld"], "innodb-log-group-home-dir")
            .unwrap()
            .line,
        3
    );
    // `loose-` dropped, `_` == `-`.
    assert_eq!(cnf.get_str(&[MYSQLD], "log-bin-index"), Some("/cs/index"));
    // A valueless key is present but has no value.
    assert!(cnf.has(&["mysqld"], "log_bin"));
    assert_eq!(cnf.get(&["mysqld"], "log-bin"), None);
    assert!(!cnf.has(&["sst"], "log-bin"));
    assert!(cnf.has(&["sst"], "tcert"));
}

#[test]
fn get_with_suffix_tries_suffixed_mysqld_first() {
    let fx = Fixtures::new();
    let cnf = lookup(&fx, Some(".2"));
    assert_eq!(
        cnf.get_str(&["mysqld"], "innodb_log_group_home_dir"),
        Some("/suffixed/redo")
    );
    assert_eq!(
        cnf.get_str(&[MYSQLD], "innodb_log_group_home_dir"),
        Some("/suffixed/redo")
    );
    // [sst.2] comes after [sst] in the file, so it is the last tkey.
    assert_eq!(cnf.get_str(&["sst"], "tkey"), Some("/sst2/key.pem"));
    assert_eq!(
        cnf.print_defaults(&["sst"]).last().map(String::as_str),
        Some("--tkey=/sst2/key.pem")
    );
}
