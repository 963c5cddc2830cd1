//! What a person watching a manual transfer or the demo sees (issue 11):
//! on a terminal, a live progress line; in a pipe or a log, no live line;
//! the demo's own output without the per-connection log unless `-v`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::process::Command;
use std::time::Duration;

use testkit::child::{run, Proc};
use testkit::manual::ready_address;
use testkit::project::binary;
use testkit::socat::gen_certs::GenCerts;
use testkit::socat::tree::{assert_same_tree, make_datadir, Symlinks};
use testkit::socat::{MARKER, TRANSFER};

const SHORT: Duration = Duration::from_secs(20);
const STATE: &str = "0b7d5f1e-1111-4222-8333-944455556666:78 0";

/// `'arg'` for `sh -c`, single quotes escaped.
fn quote(arg: &OsString) -> String {
    format!("'{}'", arg.to_string_lossy().replace('\'', "'\\''"))
}

/// The donor runs on a pseudo-terminal (`script`, from util-linux, which
/// Debian always installs): its stderr shows the live line, with the
/// percentage and ETA of what it sends. The joiner, whose stderr is a
/// pipe, shows none.
#[test]
fn a_terminal_gets_a_live_line_and_a_pipe_does_not() {
    let pki = GenCerts::generate();
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    make_datadir(&src);
    let mut cmd = Command::new(binary());
    cmd.args(["joiner", "--address", "127.0.0.1:0", "--datadir"])
        .arg(&dst)
        .args(pki.tunnel_args("joiner"));
    let mut joiner = Proc::spawn("joiner", cmd);
    let address = ready_address(&mut joiner, SHORT);

    let mut donor: Vec<OsString> = vec![
        binary().into(),
        "donor".into(),
        "--address".into(),
        address.into(),
        "--state".into(),
        STATE.into(),
        "--datadir".into(),
        src.clone().into(),
    ];
    donor.extend(pki.tunnel_args("donor"));
    let line: Vec<String> = donor.iter().map(quote).collect();
    let which = Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .unwrap();
    assert!(
        which.status.success(),
        "script(1) not found: apt-get install bsdutils"
    );
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line.join(" "), "/dev/null"]);
    let (status, screen, err) = run("donor on a terminal", cmd, TRANSFER);
    assert!(status.success(), "donor: {status:?}\n{screen}\n{err}");
    assert!(
        screen.contains("%), ") && screen.contains("ETA"),
        "no live progress line on the terminal:\n{screen}"
    );
    assert_eq!(joiner.wait(TRANSFER).code(), Some(0), "{}", joiner.stderr());
    assert_eq!(joiner.stdout_line(SHORT), STATE);
    let log = joiner.stderr();
    assert!(
        !log.contains("received, ") && !log.contains('\r'),
        "a live line went into a pipe:\n{log}"
    );
    assert_same_tree(&src, &dst, &[MARKER], Symlinks::Munged);
}

/// The demo prints its summary; the per-connection log lines appear only
/// with `-v`.
#[test]
fn the_demo_keeps_the_connection_log_for_verbose() {
    let demo = |extra: &[&str]| {
        let mut cmd = Command::new(binary());
        cmd.args(["demo", "--size-mib", "4"])
            .args(extra)
            .env_remove("SST_TUNNEL_LOG");
        let (status, out, err) = run("demo", cmd, TRANSFER);
        assert!(status.success(), "demo {extra:?}: {status:?}\n{out}\n{err}");
        assert!(out.contains("identical"), "demo summary:\n{out}");
        err
    };
    let quiet = demo(&[]);
    assert!(
        !quiet.contains("connection opened") && !quiet.contains("INFO"),
        "the demo logged connections without -v:\n{quiet}"
    );
    let verbose = demo(&["-v"]);
    assert!(
        verbose.contains("connection opened") && verbose.contains("connection closed"),
        "-v shows each connection:\n{verbose}"
    );
}
