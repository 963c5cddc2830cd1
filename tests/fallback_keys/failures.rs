//! What fails, and how it names its cause: a bad fallback file, no
//! certificate from any source (exit 3), a role without its own keys in the
//! SST method.

use std::fs;

use sst_tunnel::pki::Eku;
use sst_tunnel::ExitCode;

use super::{check, code, finding, named, populate, Proc, World, MYSQLD, STEP};

/// A file named by a fallback key that is missing or does not match:
/// both the SST start and `check` name that key, the file and the line.
#[test]
fn a_bad_fallback_file_fails_naming_its_key_and_file() {
    let world = World::new();
    let node = world.node("node", Eku::Absent);
    let other = world.node("other", Eku::Absent);
    let gone = world.path("gone.crt");
    let cases = [
        (
            "missing.cnf",
            &gone,
            &node.key,
            "ssl-cert",
            ExitCode::NotFound,
            "cannot read the file",
        ),
        (
            "mismatch.cnf",
            &node.cert,
            &other.key,
            "ssl-key",
            ExitCode::Invalid,
            "private key does not match the certificate in [mysqld] ssl-cert",
        ),
    ];
    for (name, cert, key, bad_key, exit, cause) in cases {
        let cnf = world.cnf(
            name,
            &format!(
                "[mysqld]\n{MYSQLD}ssl-ca = {}\nssl-cert = {}\nssl-key = {}\n",
                world.ca_file.display(),
                cert.display(),
                key.display()
            ),
        );
        let bad_file = if bad_key == "ssl-cert" { cert } else { key };
        let subject = named("mysqld", bad_key, bad_file, &cnf);
        let dst = world.path("dst");
        let dst_s = dst.display().to_string();
        let cnf_s = cnf.display().to_string();
        let mut joiner = Proc::spawn(
            world.dir.path(),
            name,
            &[
                "joiner",
                "--defaults-file",
                &cnf_s,
                "--address",
                "127.0.0.1:0",
                "--datadir",
                &dst_s,
            ],
        );
        assert_eq!(
            joiner.wait(STEP),
            code(exit),
            "{name}:\n{}",
            joiner.stderr()
        );
        let line = joiner.log_line(&["ERROR", &format!("{subject}: "), cause]);
        assert!(line.contains(cause), "{name}: {line}");
        assert_eq!(
            joiner.rest(STEP),
            Vec::<String>::new(),
            "{name}: the joiner said ready"
        );

        let (status, stdout, _) = check(&cnf);
        assert_eq!(status, 22, "{name}: check\n{stdout}");
        finding(&stdout, "FAIL", &[&format!("{subject}: "), cause]);
    }
}

/// No certificate in `[sst]`, in the flags or in any server group: exit 3
/// before anything listens, naming every key looked at, never plaintext.
#[test]
fn no_certificate_anywhere_is_exit_3_naming_the_keys_looked_at() {
    let world = World::new();
    let node = world.node("node", Eku::Absent);
    let cnf = world.cnf(
        "nocert.cnf",
        &format!(
            "[mysqld]\nssl-ca = {}\nssl-key = {}\nssl-cert =\n[sst]\nssl-server-cert =\n",
            world.ca_file.display(),
            node.key.display()
        ),
    );
    let cnf_s = cnf.display().to_string();
    let dst_s = world.path("dst").display().to_string();
    let src = world.path("src");
    populate(&src);
    let src_s = src.display().to_string();
    let runs: [(&str, Vec<&str>, &str); 2] = [
        (
            "joiner",
            vec!["--address", "127.0.0.1:0", "--datadir", &dst_s],
            "ssl-server-cert and ssl-cert",
        ),
        (
            "donor",
            vec!["--address", "127.0.0.1:9", "--datadir", &src_s],
            "ssl-client-cert and ssl-cert",
        ),
    ];
    for (role, extra, names) in runs {
        let mut args = vec![role, "--defaults-file", &cnf_s];
        args.extend(extra);
        let mut p = Proc::spawn(world.dir.path(), role, &args);
        assert_eq!(
            p.wait(STEP),
            code(ExitCode::Interrupted),
            "{role}:\n{}",
            p.stderr()
        );
        p.log_line(&[
            "ERROR",
            "no certificate configured",
            "--tcert, [sst] tcert",
            names,
            "[mysqld]",
            &cnf_s,
            "never transfers in plaintext",
        ]);
        assert_eq!(
            p.rest(STEP),
            Vec::<String>::new(),
            "{role} printed a protocol line"
        );
    }
}

/// The SST method mariadbd runs resolves the files of the role it was
/// given: the joiner starts on `ssl-server-*`, and a donor of the same node,
/// which has no `ssl-client-cert` and no generic `ssl-cert`, ends with exit 3
/// naming the keys it looked for.
#[test]
fn the_sst_method_resolves_the_keys_of_its_role() {
    let world = World::new();
    let server = world.node("server", Eku::Absent);
    let cnf = world.cnf(
        "method.cnf",
        &format!(
            "[mysqld]\nssl-ca = {}\n[sst]\nssl-server-cert = {}\nssl-server-key = {}\n",
            world.ca_file.display(),
            server.cert.display(),
            server.key.display()
        ),
    );
    let method = world.path("wsrep_sst_rsync_tunnel");
    std::os::unix::fs::symlink(testkit::project::binary(), &method).unwrap();
    let datadir = world.path("data");
    fs::create_dir_all(&datadir).unwrap();
    let (cnf_s, data_s) = (cnf.display().to_string(), datadir.display().to_string());
    let parent = std::process::id().to_string();
    let spawn = |name: &str, args: &[&str]| Proc::spawn_as(&method, world.dir.path(), name, args);
    let mut joiner = spawn(
        "method-joiner",
        &[
            "--role",
            "joiner",
            "--address",
            "127.0.0.1:0",
            "--datadir",
            &data_s,
            "--defaults-file",
            &cnf_s,
            "--parent",
            &parent,
            "--progress",
            "0",
        ],
    );
    let ready = joiner.line(STEP);
    assert!(ready.starts_with("ready 127.0.0.1:"), "{ready}");
    let line = joiner.log_line(&["tls files:", "joiner"]);
    assert!(
        line.contains(&format!(
            "certificate {}",
            named("sst", "ssl-server-cert", &server.cert, &cnf)
        )),
        "{line}"
    );
    drop(joiner);

    let mut donor = spawn(
        "method-donor",
        &[
            "--role",
            "donor",
            "--address",
            "127.0.0.1:9/rsync_sst",
            "--datadir",
            &data_s,
            "--defaults-file",
            &cnf_s,
            "--local-port",
            "3306",
            "--socket",
            "/nonexistent/mysqld.sock",
            "--gtid",
            "6a9c2a54-1f56-11ef-9a3e-0242ac120002:1",
            "--progress",
            "0",
        ],
    );
    assert_eq!(
        donor.wait(STEP),
        code(ExitCode::Interrupted),
        "{}",
        donor.stderr()
    );
    donor.log_line(&[
        "no certificate configured",
        "ssl-client-cert and ssl-cert",
        "never transfers in plaintext",
    ]);
    assert_eq!(
        donor.rest(STEP),
        Vec::<String>::new(),
        "the donor printed a protocol line"
    );
}
