//! The stderr convention of SST scripts (sst-protocol.md §3.3):
//! `WSREP_SST: [INFO|WARNING|ERROR] <message> (YYYYMMDD HH:MM:SS.mmm)`.

/// True when `line` has the `WSREP_SST:` form.
pub fn is_wsrep_line(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("WSREP_SST: [") else {
        return false;
    };
    let Some((level, rest)) = rest.split_once("] ") else {
        return false;
    };
    if !matches!(level, "INFO" | "WARNING" | "ERROR" | "DEBUG") || rest.is_empty() {
        return false;
    }
    // " (YYYYMMDD HH:MM:SS.mmm)" is 24 bytes.
    if rest.len() < 25 || !rest.is_char_boundary(rest.len() - 24) {
        return false;
    }
    let (msg, stamp) = rest.split_at(rest.len() - 24);
    if msg.trim().is_empty() {
        return false;
    }
    let b = stamp.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b[0] == b' '
        && b[1] == b'('
        && digits(2..10)
        && b[10] == b' '
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b')'
}

/// Asserts every non-empty line of `log` has the form (a successful run
/// writes nothing else to stderr: rsync runs with `--quiet`).
pub fn assert_all_wsrep(role: &str, log: &str) {
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| !l.is_empty() && !is_wsrep_line(l))
        .collect();
    assert!(
        bad.is_empty(),
        "{role}: stderr lines not in the `WSREP_SST: [LEVEL] msg (YYYYMMDD HH:MM:SS.mmm)` form: {bad:#?}\nfull log:\n{log}"
    );
    assert!(!log.trim().is_empty(), "{role}: nothing logged at all");
}

/// The first `WSREP_SST:` line containing every needle, if any.
pub fn find<'a>(log: &'a str, needles: &[&str]) -> Option<&'a str> {
    log.lines()
        .find(|l| is_wsrep_line(l) && needles.iter().all(|n| l.contains(n)))
}
