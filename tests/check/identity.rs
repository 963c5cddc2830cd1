//! `check` on the sockopt rules of issue 9: an empty `commonname=` is a
//! WARN naming the item and what it turns off (exit 0), a `cipher=` leaving
//! no authenticated suite is a FAIL naming the item (exit 22).

use testkit::check::{node, node_spec, run, FAIL_EXIT, MYSQLD};
use testkit::pki::Pki;

use super::cnf;

#[test]
fn an_empty_commonname_is_a_warning_naming_what_it_turns_off() {
    let pki = Pki::new();
    let files = node(&pki, "node", &node_spec());
    let path = cnf(&pki, &files, &pki.ca_file, "verify=1,cn=", MYSQLD);
    let out = run("check cn=", &path, &[]);
    out.assert_code(0);
    out.assert_only_findings();
    out.line(
        "WARN",
        &[
            "[sst] sockopt commonname:",
            "commonname= (cn=) is empty",
            "as a donor this node checks NO name on the joiner's certificate",
            "impersonate the joiner",
        ],
    );
    let path = cnf(&pki, &files, &pki.ca_file, "verify=1,cn=node1.test", MYSQLD);
    run("check cn=name", &path, &[]).no_line("WARN", &["commonname= (cn=) is empty"]);
}

#[test]
fn a_cipher_leaving_no_authenticated_suite_fails_naming_the_item() {
    let pki = Pki::new();
    let files = node(&pki, "node", &node_spec());
    for cipher in ["aNULL", "NULL-SHA256:@SECLEVEL=0"] {
        let path = cnf(
            &pki,
            &files,
            &pki.ca_file,
            &format!("cipher={cipher}"),
            MYSQLD,
        );
        let out = run("check cipher", &path, &[]);
        out.assert_code(FAIL_EXIT);
        out.assert_only_findings();
        out.line(
            "FAIL",
            &[
                &format!("[sst] sockopt item `cipher={cipher}`:"),
                "leaves no authenticated cipher suite",
            ],
        );
    }
}
