//! `check` on the donor allow-list of issue 9 (`[sst] sst-allowed-donors`):
//! off by default (an OK line saying what that means), the resolved names
//! with their origin, `auto` without a cluster address as a FAIL naming the
//! key, and a WARN when this node's own certificate would be refused.

use testkit::check::{node, node_spec, run, FAIL_EXIT, MYSQLD};
use testkit::pki::Pki;

use super::cnf;

const KEY: &str = "[sst] sst-allowed-donors:";

fn with_sst_line(path: &std::path::Path, line: &str) {
    let mut text = std::fs::read_to_string(path).unwrap();
    text.push_str(&format!("\n[sst]\n{line}\n"));
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_allow_list_is_reported_off_listed_or_unresolvable() {
    let pki = Pki::new();
    let files = node(&pki, "node", &node_spec());
    let path = cnf(&pki, &files, &pki.ca_file, "verify=1", MYSQLD);
    let out = run("check allow-list off", &path, &[]);
    out.assert_code(0);
    out.line(
        "OK",
        &[KEY, "off: any certificate that chains to the CA may donate"],
    );

    // auto, from the cluster address of the server groups: our own
    // certificate (SAN IP 127.0.0.1) passes, so no warning.
    let mysqld = format!("{MYSQLD}\nwsrep_cluster_address = gcomm://127.0.0.1:4567,10.1.1.2");
    let path = cnf(&pki, &files, &pki.ca_file, "verify=1", &mysqld);
    with_sst_line(&path, "sst-allowed-donors = auto");
    let out = run("check allow-list auto", &path, &[]);
    out.assert_code(0);
    out.line(
        "OK",
        &[
            KEY,
            "donor certificates must carry one of [127.0.0.1, 10.1.1.2]",
            "the hosts of wsrep_cluster_address",
        ],
    );
    out.no_line("WARN", &[KEY]);

    // A list our own certificate is not on: it would be refused as a donor.
    let path = cnf(&pki, &files, &pki.ca_file, "verify=1", MYSQLD);
    with_sst_line(&path, "sst-allowed-donors = db7.example");
    let out = run("check allow-list others", &path, &[]);
    out.assert_code(0);
    out.line(
        "WARN",
        &[
            KEY,
            "would be refused as a donor",
            "db7.example",
            "node1.test",
        ],
    );

    // auto with no cluster address anywhere: an SST would fail to start.
    let path = cnf(&pki, &files, &pki.ca_file, "verify=1", MYSQLD);
    with_sst_line(&path, "sst-allowed-donors = auto");
    let out = run("check allow-list auto without address", &path, &[]);
    out.assert_code(FAIL_EXIT);
    out.line("FAIL", &[KEY, "wsrep_cluster_address is set neither"]);
}
