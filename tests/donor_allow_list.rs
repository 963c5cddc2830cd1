//! Issue 9: the joiner's optional donor allow-list (`[sst]
//! sst-allowed-donors`, `--allowed-donors`). By default any certificate
//! from the cluster CA may donate (socat's rule); with the list, the donor's
//! certificate must also carry one of the names, or the handshake fails
//! with both sides' names in the joiner's log and the donor exits with the
//! TLS authentication code (13), having sent nothing.
//!
//! Driven two ways: the SST method under the fake mariadbd (names from the
//! option file, and `auto` from mariadbd's own `--wsrep_cluster_address`),
//! and the manual `sst-tunnel joiner` / `donor` commands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;

use std::process::Command;

use fake_mariadbd::command::CommandLine;
use fake_mariadbd::datadir;
use fake_mariadbd::pair::{self, Pair, Plan};
use fake_mariadbd::run::{Sst, Stdin};
use fake_mariadbd::server;
use fake_mariadbd::world::World;
use fake_mariadbd::{code, STEP, TRANSFER};
use sst_tunnel::pki::LeafFiles;
use sst_tunnel::ExitCode;
use testkit::child::Proc;
use testkit::fake_mariadbd;
use testkit::poll;
use testkit::project::binary;

/// The message a refused donor gets in the joiner's log.
const REFUSED: &str = "match none of the allowed donor names";

/// A donor certificate from the cluster CA that carries no cluster name:
/// what an application client of a shared CA holds.
fn attacker_cert(world: &World) -> LeafFiles {
    world.ca.issue("attacker", &["attacker.example"], &[])
}

/// Runs a donor against the pair's joiner and returns the donor, its
/// stdout lines and its exit code; the joiner is then ended by its
/// parent's death, and nothing may have landed in its datadir.
fn refused_donor(pair: &mut Pair, plan: &Plan) -> (Sst, Sst) {
    let joiner_before = datadir::snapshot(&pair.joiner.datadir);
    let (mut joiner, port, addr) = pair::start_joiner(pair, plan);
    let cmd = pair::donor_command(pair, plan, &addr);
    let mut donor = Sst::spawn(&pair.world, &pair.donor, "donor", cmd, Stdin::DevNull);
    let lines = server::serve_donor(&mut donor, &pair.donor.datadir, &plan.flush, TRANSFER);
    let donor_code = donor.wait(STEP);
    assert_eq!(
        donor_code,
        code(ExitCode::AuthFailed),
        "a donor outside the allow-list must fail authentication\n{}\n{}",
        donor.diagnostics(),
        joiner.diagnostics()
    );
    assert!(
        !lines
            .iter()
            .any(|l| l == "continue" || l.starts_with("done")),
        "donor stdout {lines:?}"
    );
    pair::end_joiner_by_parent_death(pair, &mut joiner, port);
    datadir::assert_trees_equal(
        "joiner datadir after a refused donor (nothing may land)",
        &datadir::snapshot(&pair.joiner.datadir),
        &joiner_before,
    );
    (joiner, donor)
}

/// A listed donor (by the SAN IP of the cluster address, through `auto`
/// and mariadbd's `--wsrep_cluster_address`) completes the SST; the
/// joiner says at start which names it requires.
#[test]
fn auto_from_mysqld_args_accepts_a_cluster_host() {
    let mut pair = Pair::new();
    pair.joiner.set_sst("sst-allowed-donors", "auto");
    let plan = Plan {
        joiner_edit: Box::new(|cmd: &mut CommandLine| {
            cmd.mysqld_args
                .push("--wsrep_cluster_address=gcomm://10.9.9.9,127.0.0.1:4567".into());
        }),
        ..Plan::default()
    };
    let out = pair::run(&pair, &plan);
    out.assert_success(&pair, &plan);
    let log = out.joiner.log_text();
    let start = log
        .lines()
        .find(|l| l.contains("donor certificates must carry one of the allowed names"))
        .unwrap_or_else(|| panic!("no allow-list line at start\n{log}"));
    assert!(start.contains("10.9.9.9, 127.0.0.1"), "{start}");
    assert!(start.contains("--mysqld-args"), "{start}");
    assert!(!log.contains(REFUSED), "{log}");
}

/// `auto` with the cluster address from the option file's server groups,
/// and a donor whose certificate carries none of its hosts: refused.
#[test]
fn auto_from_the_option_file_refuses_a_donor_with_another_name() {
    let mut pair = Pair::new();
    pair.joiner.set_sst("sst-allowed-donors", "auto");
    let mut cnf = fs::read_to_string(&pair.joiner.cnf).unwrap();
    cnf.push_str("\n[galera]\nwsrep_cluster_address = gcomm://127.0.0.1,node2.example\n");
    fs::write(&pair.joiner.cnf, cnf).unwrap();
    let attacker = attacker_cert(&pair.world);
    pair.donor
        .set_sst("tcert", &attacker.cert.display().to_string());
    pair.donor
        .set_sst("tkey", &attacker.key.display().to_string());
    let (joiner, donor) = refused_donor(&mut pair, &Plan::default());
    let log = joiner.log_text();
    let refusal = log
        .lines()
        .find(|l| l.contains(REFUSED))
        .unwrap_or_else(|| panic!("the joiner did not say why\n{log}"));
    for name in [
        "127.0.0.1",
        "node2.example",
        "attacker.example",
        "CN=attacker",
    ] {
        assert!(refusal.contains(name), "{name} missing from: {refusal}");
    }
    assert!(
        donor.log_text().contains("rejected our certificate"),
        "{}",
        donor.log_text()
    );
}

/// Without the key, the same certificate donates (socat's rule: the
/// joiner checks no donor name), so the list is what refuses it.
#[test]
fn without_the_list_any_certificate_from_the_ca_donates() {
    let mut pair = Pair::new();
    let attacker = attacker_cert(&pair.world);
    pair.donor
        .set_sst("tcert", &attacker.cert.display().to_string());
    pair.donor
        .set_sst("tkey", &attacker.key.display().to_string());
    let plan = Plan::default();
    let out = pair::run(&pair, &plan);
    out.assert_success(&pair, &plan);
}

/// A manual joiner or donor: `sst-tunnel ARGS`.
fn manual(name: &str, args: &[String]) -> Proc {
    let mut cmd = Command::new(binary());
    cmd.args(args);
    Proc::spawn(name, cmd)
}

fn tls_args(world: &World, cert: &LeafFiles) -> Vec<String> {
    [
        "--no-defaults",
        "--tca",
        &world.ca.file.display().to_string(),
        "--tcert",
        &cert.cert.display().to_string(),
        "--tkey",
        &cert.key.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The manual commands: `--allowed-donors` accepts a donor carrying a
/// listed name (its SAN DNS) and refuses one that does not, with both
/// name lists in the joiner's log and exit 13 on the donor.
#[test]
fn manual_joiner_allow_list_accepts_a_listed_donor_and_refuses_another() {
    let world = World::new();
    let joiner_cert = world.ca.issue_loopback("joiner");
    let listed = world.ca.issue("donor", &["donor1.example"], &[]);
    let other = attacker_cert(&world);
    let src = world.root.join("src");
    let dst = world.root.join("dst");
    fs::create_dir_all(&src).unwrap();
    fs::create_dir_all(&dst).unwrap();
    datadir::populate_donor(&src);
    let state = format!("{}:9 0", datadir::UUID);

    let mut args: Vec<String> = ["joiner", "--address", "127.0.0.1:0", "--datadir"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(dst.display().to_string());
    args.extend(tls_args(&world, &joiner_cert));
    args.extend([
        "--allowed-donors".into(),
        "db9.example, donor1.example".into(),
    ]);
    let mut joiner = manual("joiner", &args);
    let ready = joiner.stdout_line(STEP);
    let address = ready
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("{ready}"))
        .to_string();

    let donor_args = |cert: &LeafFiles| {
        let mut a: Vec<String> = [
            "donor",
            "--address",
            &address,
            "--state",
            &state,
            "--datadir",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(src.display().to_string());
        a.extend(tls_args(&world, cert));
        a
    };
    let mut refused = manual("other", &donor_args(&other));
    assert_eq!(
        refused.wait(TRANSFER).code(),
        Some(code(ExitCode::AuthFailed)),
        "{}",
        refused.stderr()
    );
    // The joiner logs the refusal after it sent its alert: wait for the line.
    poll::until(STEP, || joiner.stderr().contains(REFUSED));
    let log = joiner.stderr();
    let refusal = log
        .lines()
        .find(|l| l.contains(REFUSED))
        .unwrap_or_else(|| panic!("the joiner did not say why\n{log}"));
    for name in ["db9.example", "donor1.example", "attacker.example"] {
        assert!(refusal.contains(name), "{name} missing from: {refusal}");
    }
    let landed: Vec<_> = fs::read_dir(&dst)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(landed.is_empty(), "a refused donor wrote {landed:?}");

    let mut good = manual("donor", &donor_args(&listed));
    assert_eq!(good.wait(TRANSFER).code(), Some(0), "{}", good.stderr());
    assert_eq!(joiner.wait(TRANSFER).code(), Some(0), "{}", joiner.stderr());
    assert_eq!(joiner.stdout_line(STEP), state);
    datadir::assert_trees_equal(
        "manual transfer through the allow-list",
        &datadir::snapshot(&dst),
        &datadir::shipped(&datadir::snapshot(&src)),
    );
}
