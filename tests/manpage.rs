//! The generated manual page (`sst-tunnel man`): groff accepts it without a
//! single warning, and it carries what `--help` carries: every subcommand,
//! every `[sst]` key, every exit code and the my.cnf example.

#![allow(clippy::expect_used)] // tests: a panic is the failure report

use std::io::Write;
use std::process::{Command, Output, Stdio};

use sst_tunnel::config::keys::keys;
use sst_tunnel::exit::ALL;
use testkit::project::binary;

/// The my.cnf example lines `--help` shows.
const EXAMPLE: [&str; 4] = [
    "[sst]",
    "tca   = /etc/mysql/ssl/ca.pem",
    "tcert = /etc/mysql/ssl/node.crt",
    "tkey  = /etc/mysql/ssl/node.key",
];

fn run(cmd: &mut Command, input: Option<&[u8]>, what: &str, install: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {what}: {e}; install it with: apt-get install {install}")
        });
    if let Some(bytes) = input {
        let mut stdin = child.stdin.take().expect("stdin is piped");
        stdin.write_all(bytes).expect("write to stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait for child")
}

fn page() -> Vec<u8> {
    let out = run(Command::new(binary()).arg("man"), None, "sst-tunnel", "");
    assert!(out.status.success(), "sst-tunnel man failed: {out:?}");
    assert!(
        out.stderr.is_empty(),
        "sst-tunnel man wrote to stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.starts_with(b".ie"),
        "not roff: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    out.stdout
}

/// The page as `man -l` shows it on an 80-column terminal.
fn rendered() -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sst-tunnel.1");
    std::fs::write(&path, page()).expect("write page");
    let out = run(
        Command::new("man")
            .arg("-l")
            .arg(&path)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .env_remove("MAN_KEEP_FORMATTING"),
        None,
        "man",
        "man-db groff-base",
    );
    assert!(out.status.success(), "man -l failed: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8 page")
}

fn assert_carries_everything(text: &str, what: &str) {
    for key in keys().iter().map(|k| k.name) {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{key} "))),
            "{what} lacks the [sst] key {key}:\n{text}"
        );
    }
    for code in ALL {
        let row = format!("{} {}", code.code(), code.name());
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" ") == row),
            "{what} lacks the exit code row {row}:\n{text}"
        );
    }
    for line in EXAMPLE {
        assert!(
            text.lines().any(|l| l.trim() == line),
            "{what} lacks the my.cnf example line {line:?}:\n{text}"
        );
    }
}

#[test]
fn groff_reports_no_warning() {
    let out = run(
        Command::new("groff").args(["-man", "-ww", "-z", "-Tutf8"]),
        Some(&page()),
        "groff",
        "groff-base",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "groff failed: {stderr}");
    assert!(stderr.is_empty(), "groff warnings:\n{stderr}");
}

#[test]
fn page_has_every_subcommand_key_exit_code_and_example() {
    let text = rendered();
    for sub in ["joiner", "donor", "demo"] {
        let heading = format!("SST-TUNNEL {}", sub.to_uppercase());
        assert!(
            text.lines().any(|l| l == heading),
            "no section {heading}:\n{text}"
        );
        // The synopsis is filled and justified: compare words, not spaces.
        let synopsis = format!("sst-tunnel {sub} ");
        assert!(
            text.lines().any(|l| {
                let words = l.split_whitespace().collect::<Vec<_>>().join(" ");
                words.starts_with(&synopsis)
            }),
            "no synopsis for {sub}:\n{text}"
        );
    }
    assert!(
        !text.contains("SST-TUNNEL MAN"),
        "the hidden man command is documented:\n{text}"
    );
    assert!(
        text.contains("--relay-only"),
        "donor options missing:\n{text}"
    );
    assert!(text.contains("CONFIGURATION AND EXIT STATUS"), "{text}");
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    assert!(
        text.lines().any(|l| l.trim() == version),
        "no VERSION {version}:\n{text}"
    );
    assert_carries_everything(&text, "the manual page");
}

#[test]
fn help_carries_the_same_epilogue() {
    let out = run(Command::new(binary()).arg("--help"), None, "sst-tunnel", "");
    assert!(out.status.success(), "--help failed: {out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8 help");
    assert_carries_everything(&text, "--help");
}

#[test]
fn page_is_reproducible_under_source_date_epoch() {
    let with = |epoch: &str| {
        let out = run(
            Command::new(binary())
                .arg("man")
                .env("SOURCE_DATE_EPOCH", epoch),
            None,
            "sst-tunnel",
            "",
        );
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).expect("utf-8 page")
    };
    let a = with("1700000000");
    assert_eq!(a, with("1700000000"));
    let th = a
        .lines()
        .find(|l| l.starts_with(".TH "))
        .unwrap_or_default();
    assert_eq!(
        th,
        format!(
            ".TH sst-tunnel 1 2023-11-14 \"sst-tunnel {}\" \"User Commands\"",
            env!("CARGO_PKG_VERSION")
        )
    );
}
