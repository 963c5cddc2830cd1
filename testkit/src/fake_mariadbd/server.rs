//! The server's side of the stdout protocol (sst-protocol.md §3): what
//! mariadbd does when the donor prints `flush tables`, and the strict
//! checks that every stdout line is one of the protocol's forms.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use super::run::Sst;

/// What the fake server does on `flush tables`.
#[derive(Clone, Debug)]
pub enum Flush {
    /// FTWRL succeeded: write `tables_flushed` with this content (`uuid:seqno domain`).
    State(String),
    /// FTWRL failed: create an empty `sst_error`.
    Error,
}

/// Writes `<datadir>/<name>` through `<name>.tmp` and a rename, as mariadbd does.
pub fn write_atomically(datadir: &Path, name: &str, content: &str) {
    let tmp = datadir.join(format!("{name}.tmp"));
    fs::write(&tmp, content).unwrap();
    fs::rename(&tmp, datadir.join(name)).unwrap();
}

/// Expects the donor's first stdout line to be `flush tables` and answers
/// it as mariadbd does: `tables_flushed` holding `state`, written twice.
pub fn answer_first_flush(sst: &mut Sst, datadir: &Path, state: &str, within: Duration) {
    let first = sst.next_line(within);
    assert_eq!(
        first.as_deref(),
        Some("flush tables"),
        "{}",
        sst.diagnostics()
    );
    let content = format!("{state}\n");
    write_atomically(datadir, "tables_flushed", &content);
    write_atomically(datadir, "tables_flushed", &content);
}

/// Plays the donor's server until the method's stdout reaches EOF:
/// answers `flush tables` per `reply` (mariadbd writes `tables_flushed`
/// twice, same content), returns every line.
pub fn serve_donor(sst: &mut Sst, datadir: &Path, reply: &Flush, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(line) = sst.next_line(left.max(Duration::from_millis(1))) else {
            return out;
        };
        if line.eq_ignore_ascii_case("flush tables") {
            match reply {
                Flush::State(s) => {
                    let content = format!("{s}\n");
                    write_atomically(datadir, "tables_flushed", &content);
                    write_atomically(datadir, "tables_flushed", &content);
                }
                Flush::Error => write_atomically(datadir, "sst_error", ""),
            }
        }
        out.push(line);
    }
}

/// Reads the joiner's first line and returns the address mariadbd would
/// send to the donor (everything after the first 6 characters).
pub fn read_ready(sst: &mut Sst) -> String {
    let line = sst
        .next_line(super::STEP)
        .unwrap_or_else(|| panic!("joiner: EOF before ready\n{}", sst.diagnostics()));
    assert!(
        line.starts_with("ready ") && line.len() >= 7,
        "joiner: first line {line:?} is not `ready <address>`\n{}",
        sst.diagnostics()
    );
    line[6..].to_string()
}

/// Parses `total N` / `complete N`.
pub fn is_progress(line: &str) -> bool {
    let Some((kw, n)) = line.split_once(' ') else {
        return false;
    };
    (kw == "total" || kw == "complete") && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
}

fn assert_terminated(sst: &Sst, max_len: usize) {
    for l in &sst.lines {
        assert!(
            l.terminated,
            "{}: stdout line {:?} not terminated by \\n",
            sst.role, l.text
        );
        assert!(
            !l.text.contains('\r'),
            "{}: stdout line {:?} holds \\r",
            sst.role,
            l.text
        );
        assert!(
            l.text.len() < max_len,
            "{}: stdout line {:?} longer than mariadbd's {max_len}-byte buffer",
            sst.role,
            l.text
        );
    }
}

/// The joiner's whole stdout must be: `ready 127.0.0.1:PORT/rsync_tunnel_sst`,
/// progress lines only when `progress`, then exactly `state`, then EOF.
pub fn check_joiner_stdout(sst: &Sst, port: u16, state: &str, progress: bool) {
    assert_terminated(sst, 512);
    let lines = sst.texts();
    let ready = format!("ready 127.0.0.1:{port}/rsync_tunnel_sst");
    assert!(
        !lines.is_empty() && lines[0] == ready,
        "joiner: first line must be {ready:?}, stdout was {lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some(state),
        "joiner: last stdout line must be the state; stdout was {lines:?}"
    );
    assert!(lines.len() >= 2, "joiner stdout {lines:?}");
    for l in &lines[1..lines.len() - 1] {
        assert!(
            progress && is_progress(l),
            "joiner: unexpected stdout line {l:?} (progress lines allowed: {progress}); stdout was {lines:?}"
        );
    }
}

/// The donor's whole stdout must be: `flush tables` (SST only), `continue`,
/// `done <state>`, with progress lines only when `progress`, then EOF.
pub fn check_donor_stdout(sst: &Sst, state: &str, flush: bool, progress: bool) {
    assert_terminated(sst, 128);
    let lines = sst.texts();
    let proto: Vec<&String> = lines.iter().filter(|l| !is_progress(l)).collect();
    let done = format!("done {state}");
    let expected: Vec<&str> = if flush {
        vec!["flush tables", "continue", &done]
    } else {
        vec!["continue", &done]
    };
    assert_eq!(
        proto, expected,
        "donor: protocol lines (full stdout {lines:?})"
    );
    if !progress {
        assert!(
            lines.iter().all(|l| !is_progress(l)),
            "donor: progress lines without --progress 1: {lines:?}"
        );
    }
    assert_eq!(
        lines.last().map(String::as_str),
        Some(done.as_str()),
        "donor: `done` must be the last line: {lines:?}"
    );
}
