//! `config::mycnf` against the real `my_print_defaults` (differential tests
//! over the fixtures in `tests/data/cnf/`), plus `get`/`has` semantics, and
//! option files that are devices, FIFOs or oversized (`unsafe_files.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod fixtures;
mod unsafe_files;

use std::collections::BTreeMap;

use sst_tunnel::config::mycnf::{DefaultsArgs, MyCnfError, OptionFiles, SearchPath, MYSQLD};

use fixtures::{assert_no_mismatch, compare, Fixtures};

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

/// Trio files that are not ordinary files: an empty name (the working
/// directory), a directory, a world-writable file. `my_print_defaults`
/// accepts all three and reads nothing from them.
#[test]
fn odd_trio_files_read_as_empty_like_my_print_defaults() {
    let fx = Fixtures::new();
    let vars = fx.vars(&[("MYSQL_HOME", "@/mysql_home")]);
    let search = SearchPath::for_env(&fx.env(&vars));
    let mut mismatches = Vec::new();
    for file in ["", "inc/dir", "inc/world_writable.cnf"] {
        for (defaults_file, extra_file) in [(Some(file.into()), None), (None, Some(file.into()))] {
            let args = DefaultsArgs {
                defaults_file,
                extra_file,
                group_suffix: None,
            };
            mismatches.extend(compare(&fx, &vars, &args, &search, &format!("{args:?}")));
        }
    }
    assert_no_mismatch(mismatches);
    let args = DefaultsArgs {
        defaults_file: Some("inc/world_writable.cnf".into()),
        ..DefaultsArgs::default()
    };
    let cnf = OptionFiles::load_in(&args, &search, &fx.env(&vars)).unwrap();
    assert!(cnf.entries().is_empty());
    assert!(cnf.files_read().is_empty());
    assert_eq!(
        cnf.warnings()[0].to_string(),
        format!(
            "world-writable config file {} is ignored",
            fx.path("inc/world_writable.cnf").display()
        )
    );
}
