//! Start-up checks: each failure is one line naming the `[sst]` key, the
//! path and the cause, with the documented exit code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod identity;

use std::fs;
use std::path::Path;

use sst_tunnel::exit::ExitCode;
use sst_tunnel::pki::{write_capath, Eku, LeafSpec, Validity};
use sst_tunnel::tls::{
    preflight, SockOpts, TlsClient, TlsError, TlsServer, TlsSettings, TrustSource,
};
use testkit::pki::Pki;
use testkit::tls::*;

fn fails(s: &TlsSettings) -> TlsError {
    let e = preflight(s).expect_err("preflight should fail");
    // The constructors refuse the same settings with the same error.
    let server = TlsServer::new(s).err().expect("TlsServer::new should fail");
    assert_eq!(server.to_string(), e.to_string());
    let client = TlsClient::new(s, "localhost")
        .err()
        .expect("TlsClient::new should fail");
    assert_eq!(client.to_string(), e.to_string());
    e
}

fn one_line(e: &TlsError, key: &str, path: &Path, cause: &str) {
    let text = e.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(
        text.starts_with(&format!("[sst] {key} {}", path.display())),
        "{text}"
    );
    assert!(text.contains(cause), "{text}");
}

#[test]
fn good_settings_report_subject_names_expiry_and_trust() {
    let pki = Pki::new();
    let n = pki.node("node");
    let p = preflight(&settings(&n, &pki.ca_file, "")).unwrap();
    assert!(p.subject.contains("CN=localhost"));
    assert_eq!(
        p.names,
        vec!["DNS:localhost", "IP:127.0.0.1", "IP:::1", "CN=localhost"]
    );
    assert!(!p.not_after.is_empty());
    assert_eq!(p.trust, TrustSource::File(pki.ca_file.clone()));
    assert!(p.verify);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let line = p.to_string();
    assert!(line.contains("CN=localhost") && line.contains(&pki.ca_file.display().to_string()));
}

#[test]
fn missing_files_name_their_key_and_exit_2() {
    let pki = Pki::new();
    let n = pki.node("node");
    let nowhere = pki.path().join("nope.pem");
    for (key, mutate) in [
        (
            "tcert",
            &(|s: &mut TlsSettings, p: &Path| s.cert = p.to_path_buf())
                as &dyn Fn(&mut TlsSettings, &Path),
        ),
        ("tkey", &|s: &mut TlsSettings, p: &Path| {
            s.key = Some(p.to_path_buf())
        }),
        ("tca", &|s: &mut TlsSettings, p: &Path| {
            s.ca_file = Some(p.to_path_buf())
        }),
        ("tcapath", &|s: &mut TlsSettings, p: &Path| {
            s.ca_file = None;
            s.ca_path = Some(p.to_path_buf())
        }),
    ] {
        let mut s = settings(&n, &pki.ca_file, "");
        mutate(&mut s, &nowhere);
        let e = fails(&s);
        one_line(&e, key, &nowhere, "cannot read");
        assert_eq!(e.exit_code(), ExitCode::NotFound, "{key}");
    }
}

#[test]
fn unreadable_file_is_reported_with_the_os_cause() {
    let pki = Pki::new();
    let n = pki.node("node");
    let mut s = settings(&n, &pki.ca_file, "");
    let dir_as_key = pki.path().to_path_buf();
    s.key = Some(dir_as_key.clone());
    let e = fails(&s);
    one_line(&e, "tkey", &dir_as_key, "is a directory");
}

#[test]
fn garbage_files_do_not_parse() {
    let pki = Pki::new();
    let n = pki.node("node");
    let junk = pki.path().join("junk.pem");
    fs::write(&junk, "hello, not a certificate\n").unwrap();
    let mut s = settings(&n, &pki.ca_file, "");
    s.cert = junk.clone();
    let e = fails(&s);
    one_line(&e, "tcert", &junk, "no PEM certificate");
    assert_eq!(e.exit_code(), ExitCode::Invalid);

    let mut s = settings(&n, &pki.ca_file, "");
    s.key = Some(junk.clone());
    one_line(&fails(&s), "tkey", &junk, "no PEM private key");

    let mut s = settings(&n, &pki.ca_file, "");
    s.ca_file = Some(junk.clone());
    one_line(&fails(&s), "tca", &junk, "no PEM certificate");

    let broken = pki.path().join("broken.pem");
    fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let mut s = settings(&n, &pki.ca_file, "");
    s.cert = broken.clone();
    one_line(&fails(&s), "tcert", &broken, "cannot parse");
}

#[test]
fn key_that_does_not_match_the_certificate() {
    let pki = Pki::new();
    let n = pki.node("node");
    let other = pki.node("other");
    let mut s = settings(&n, &pki.ca_file, "");
    s.key = Some(other.key.clone());
    let e = fails(&s);
    one_line(
        &e,
        "tkey",
        &other.key,
        &format!(
            "private key does not match the certificate in [sst] tcert {}",
            n.cert.display()
        ),
    );
    assert_eq!(e.exit_code(), ExitCode::Invalid);
}

#[test]
fn certificate_without_key_and_no_tkey() {
    let pki = Pki::new();
    let n = pki.node("node");
    let mut s = settings(&n, &pki.ca_file, "");
    s.key = None;
    one_line(
        &fails(&s),
        "tcert",
        &n.cert,
        "no private key in the file and no [sst] tkey",
    );
}

#[test]
fn encrypted_key_is_refused_without_prompting() {
    let pki = Pki::new();
    let n = pki.node("node");
    let pem = fs::read(&n.key).unwrap();
    let key = openssl::pkey::PKey::private_key_from_pem(&pem).unwrap();
    let enc = key
        .private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_256_cbc(), b"secret")
        .unwrap();
    let path = pki.path().join("enc.key");
    fs::write(&path, enc).unwrap();
    let mut s = settings(&n, &pki.ca_file, "");
    s.key = Some(path.clone());
    one_line(&fails(&s), "tkey", &path, "encrypted");
}

#[test]
fn certificate_from_another_ca_does_not_chain() {
    let pki = Pki::new();
    let n = pki.rogue_leaf("rogue-node", &LeafSpec::new("localhost"));
    let e = fails(&settings(&n, &pki.ca_file, ""));
    one_line(&e, "tcert", &n.cert, "does not chain to [sst] tca");
    assert!(
        e.to_string()
            .contains("unable to get local issuer certificate"),
        "{e}"
    );
    assert!(
        e.to_string().contains(&pki.ca_file.display().to_string()),
        "{e}"
    );
}

#[test]
fn bundled_intermediate_completes_the_chain_and_a_bare_leaf_does_not() {
    let pki = Pki::new();
    let inter = pki.ca.intermediate("inter").unwrap();
    let files = inter
        .issue(&LeafSpec::new("localhost"))
        .unwrap()
        .write(pki.path(), "via-inter")
        .unwrap();
    preflight(&settings(&files, &pki.ca_file, "")).unwrap();
    let mut s = settings(&files, &pki.ca_file, "");
    s.cert = files.leaf.clone();
    one_line(
        &fails(&s),
        "tcert",
        &files.leaf,
        "unable to get local issuer certificate",
    );
}

#[test]
fn expired_and_not_yet_valid_certificates() {
    let pki = Pki::new();
    let old = pki.leaf("old", &LeafSpec::new("localhost").expired());
    let e = fails(&settings(&old, &pki.ca_file, ""));
    one_line(&e, "tcert", &old.cert, "certificate expired on");
    assert_eq!(e.exit_code(), ExitCode::Invalid);
    let young = pki.leaf(
        "young",
        &LeafSpec::new("localhost").validity(Validity::NotYetValid),
    );
    one_line(
        &fails(&settings(&young, &pki.ca_file, "")),
        "tcert",
        &young.cert,
        "not valid before",
    );
    // With verify=0 nobody checks dates, so it is only a warning.
    let p = preflight(&settings(&old, &pki.ca_file, "verify=0")).unwrap();
    assert!(
        p.warnings.iter().any(|w| w.contains("expired")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn capath_directory_is_a_trust_source() {
    let pki = Pki::new();
    let n = pki.node("node");
    let dir = pki.path().join("capath");
    write_capath(&dir, &[&pki.ca.cert]).unwrap();
    let mut s = settings(&n, &pki.ca_file, "");
    s.ca_file = None;
    s.ca_path = Some(dir.clone());
    let p = preflight(&s).unwrap();
    assert_eq!(p.trust, TrustSource::Path(dir.clone()));
    // A tca naming a directory is used as a CA path.
    let mut s = settings(&n, &dir, "");
    s.ca_path = None;
    assert_eq!(preflight(&s).unwrap().trust, TrustSource::Path(dir.clone()));
    // An un-hashed directory finds nothing: the chain check says so, with a hint.
    let plain = pki.path().join("plain");
    fs::create_dir(&plain).unwrap();
    fs::copy(&pki.ca_file, plain.join("ca.pem")).unwrap();
    let mut s = settings(&n, &pki.ca_file, "");
    s.ca_file = None;
    s.ca_path = Some(plain.clone());
    let e = fails(&s);
    one_line(&e, "tcert", &n.cert, "does not chain to [sst] tcapath");
    assert!(e.to_string().contains("openssl rehash"), "{e}");
    // tcapath that is a file.
    let mut s = settings(&n, &pki.ca_file, "");
    s.ca_file = None;
    s.ca_path = Some(pki.ca_file.clone());
    one_line(&fails(&s), "tcapath", &pki.ca_file, "is not a directory");
}

#[test]
fn system_store_is_used_with_a_loud_warning_when_no_ca_is_configured() {
    let pki = Pki::new();
    let n = pki.node("node");
    let mut s = settings(&n, &pki.ca_file, "");
    s.ca_file = None;
    let p = preflight(&s).unwrap();
    assert_eq!(p.trust, TrustSource::System);
    assert!(
        p.warnings.iter().any(|w| w.contains("system store")),
        "{:?}",
        p.warnings
    );
    // Our private CA is not in the system store: a warning, not an error.
    assert!(
        p.warnings.iter().any(|w| w.contains("does not chain")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn sockopt_cafile_stands_in_for_tca_but_never_duplicates_it() {
    let pki = Pki::new();
    let n = pki.node("node");
    let mut s = settings(&n, &pki.ca_file, "");
    s.ca_file = None;
    s.opts = SockOpts::parse(&format!("cafile={}", pki.ca_file.display())).unwrap();
    assert_eq!(
        preflight(&s).unwrap().trust,
        TrustSource::File(pki.ca_file.clone())
    );
    let s = settings(
        &n,
        &pki.ca_file,
        &format!("cafile={}", pki.ca_file.display()),
    );
    let e = fails(&s);
    let text = e.to_string();
    assert!(
        text.contains("cafile=") && text.contains("[sst] tca"),
        "{text}"
    );
    assert_eq!(e.exit_code(), ExitCode::Invalid);
    // A missing sockopt cafile names the sockopt item as its source.
    let mut s = settings(&n, &pki.ca_file, "cafile=/nonexistent/ca.pem");
    s.ca_file = None;
    one_line(
        &fails(&s),
        "sockopt cafile",
        Path::new("/nonexistent/ca.pem"),
        "cannot read",
    );
}

#[test]
fn dhparam_file_must_parse() {
    let pki = Pki::new();
    let n = pki.node("node");
    let junk = pki.path().join("dh.pem");
    fs::write(&junk, "not dh").unwrap();
    let s = settings(&n, &pki.ca_file, &format!("dhparam={}", junk.display()));
    one_line(
        &fails(&s),
        "sockopt dhparam",
        &junk,
        "cannot parse DH parameters",
    );
    let s = settings(&n, &pki.ca_file, "dhparam=/nonexistent/dh.pem");
    assert_eq!(fails(&s).exit_code(), ExitCode::NotFound);
    // A real DH file is accepted.
    let dh = openssl::dh::Dh::get_2048_256()
        .unwrap()
        .params_to_pem()
        .unwrap();
    fs::write(&junk, dh).unwrap();
    let s = settings(&n, &pki.ca_file, &format!("dhparam={}", junk.display()));
    TlsServer::new(&s).unwrap();
}

#[test]
fn eku_restricted_to_one_role_warns() {
    let pki = Pki::new();
    let n = pki.leaf(
        "server-only",
        &LeafSpec::new("localhost").eku(Eku::ServerOnly),
    );
    let p = preflight(&settings(&n, &pki.ca_file, "")).unwrap();
    assert!(
        p.warnings.iter().any(|w| w.contains("a client (donor)")),
        "{:?}",
        p.warnings
    );
    let both = pki.leaf(
        "both",
        &LeafSpec::new("localhost").eku(Eku::ServerAndClient),
    );
    assert!(preflight(&settings(&both, &pki.ca_file, ""))
        .unwrap()
        .warnings
        .is_empty());
}

#[test]
fn invalid_cipher_string_names_the_item() {
    let pki = Pki::new();
    let n = pki.node("node");
    let s = settings(&n, &pki.ca_file, "cipher=NOSUCHCIPHER");
    let e = TlsServer::new(&s).err().unwrap();
    assert!(e.to_string().contains("cipher=NOSUCHCIPHER"), "{e}");
    assert_eq!(e.exit_code(), ExitCode::Invalid);
    // TripleO's list is accepted.
    let s = settings(
        &n,
        &pki.ca_file,
        "cipher=!SSLv2:kEECDH:kRSA:kEDH:kPSK:+3DES:!aNULL:!eNULL:!MD5:!EXP:!RC4:!SEED:!IDEA:!DES:!SSLv3:!TLSv1",
    );
    TlsServer::new(&s).unwrap();
    TlsClient::new(&s, "localhost").unwrap();
}
