//! `check --peer` and `check --listen` against a certificate-less peer (a
//! raw OpenSSL peer offering only anonymous suites), with a `cipher=` that
//! let such suites in: a FAIL naming the cause, never an OK.

use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use testkit::check::{node, node_spec, run, sst_lines, write_cnf, FAIL_EXIT, MYSQLD};
use testkit::pki::Pki;
use testkit::tls::{anonymous_acceptor, anonymous_connector};

use super::listener;

const PERMISSIVE: &str = "cipher=ALL:@SECLEVEL=0";

#[test]
fn peer_against_a_certificate_less_joiner_fails() {
    let pki = Pki::new();
    let donor = node(&pki, "donor", &node_spec());
    let dir = tempfile::tempdir().unwrap();
    let dcnf = write_cnf(
        dir.path(),
        MYSQLD,
        &sst_lines(&pki.ca_file, &donor.cert, &donor.key, PERMISSIVE),
    );
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = tcp.local_addr().unwrap().to_string();
    let acceptor = anonymous_acceptor();
    let joiner = thread::spawn(move || {
        let (stream, _) = tcp.accept().unwrap();
        acceptor
            .accept(stream)
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
    });
    let out = run("check --peer anonymous", &dcnf, &["--peer", &addr]);
    out.assert_code(FAIL_EXIT);
    out.assert_only_findings();
    out.line(
        "FAIL",
        &[
            &format!("--peer {addr}"),
            "handshake failure",
            "never negotiates anonymous",
        ],
    );
    out.no_line("OK", &["--peer", "handshake complete"]);
    out.no_line("OK", &["--peer", "presented"]);
    let seen = joiner.join().unwrap().unwrap_err();
    assert!(seen.contains("no shared cipher"), "{seen}");
}

#[test]
fn listen_fails_a_certificate_less_client() {
    let pki = Pki::new();
    let files = node(&pki, "joiner", &node_spec());
    let dir = tempfile::tempdir().unwrap();
    let jcnf = write_cnf(
        dir.path(),
        MYSQLD,
        &sst_lines(&pki.ca_file, &files.cert, &files.key, PERMISSIVE),
    );
    let (mut listen, addr) = listener(&jcnf);
    let tcp = std::net::TcpStream::connect(&addr).unwrap();
    let client = anonymous_connector()
        .configure()
        .unwrap()
        .verify_hostname(false)
        .connect("localhost", tcp);
    assert!(
        client.is_err(),
        "the anonymous client completed a handshake"
    );
    let line = listen.stdout_line(Duration::from_secs(30));
    assert!(
        line.starts_with("FAIL")
            && line.contains("--listen client")
            && line.contains("no shared cipher")
            && line.contains("never negotiates anonymous"),
        "{line}"
    );
    // --once waits for a success: the anonymous client was not one.
    assert!(listen.try_status().is_none());
}
