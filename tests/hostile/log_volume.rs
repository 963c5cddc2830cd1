//! Log volume under attack (issue 9): a thousand bad connections add a
//! bounded number of lines, the first few in full, then summaries by cause.

use super::*;

/// The sum, over the joiner's summary lines of turned-away connections, of
/// the count given for `cause` (`"handshake timeout"`), or of the totals
/// when `cause` is empty.
pub(crate) fn summarised(log: &str, cause: &str) -> u64 {
    log.lines()
        .filter_map(|l| l.split_once(" connections turned away"))
        .map(|(head, tail)| {
            let number_before = |text: &str| -> u64 {
                text.rsplit(|c: char| !c.is_ascii_digit())
                    .find(|w| !w.is_empty())
                    .and_then(|w| w.parse().ok())
                    .unwrap_or(0)
            };
            if cause.is_empty() {
                return number_before(head);
            }
            tail.split(", ")
                .filter_map(|part| {
                    let part = part.trim_start_matches(|c: char| !c.is_ascii_digit());
                    let (n, label) = part.split_once(' ')?;
                    label.starts_with(cause).then(|| n.parse::<u64>().ok())?
                })
                .sum()
        })
        .sum()
}

/// Issue 9: a flood of 1,000 bad connections during a transfer adds a
/// bounded number of lines to mariadbd's error log (the first few in full,
/// then one summary per interval and one at the end), while the transfer
/// still completes byte for byte. Before, every failed handshake was a
/// WARNING line of its own.
#[test]
fn a_thousand_bad_connections_add_a_bounded_number_of_log_lines() {
    use sst_tunnel::joiner::rejects::{FULL_LINES, SUMMARY_INTERVAL};
    let (pair, _plan, out, a, transfer, left) = flood(900);
    let log = out.joiner.log_text();
    let full = log
        .lines()
        .filter(|l| l.contains("tls handshake failed") || l.contains("connection cap reached"))
        .count();
    let summaries = log
        .lines()
        .filter(|l| l.contains("connections turned away"))
        .count();
    let counted = summarised(&log, "");
    let attempts = 100 + a.burst_opened;
    let periods = transfer.as_secs() / SUMMARY_INTERVAL.as_secs();
    figures::record(&Figure {
        scenario: "log volume: 1,000 bad connections during an SST".into(),
        time_to_end: Some(transfer),
        exit: exits(&out),
        procs_left: Some(left),
        peak_rss_kib: Some(a.peak_rss_kib),
        notes: format!(
            "{attempts} hostile connections; joiner log {} lines in all, {full} rejections in full, \
             {summaries} summary lines counting {counted} more",
            log.lines().count()
        ),
        ..Figure::default()
    });
    assert!(
        full <= FULL_LINES as usize,
        "{full} rejections logged in full (at most {FULL_LINES})\n{log}"
    );
    let max_summaries = usize::try_from(periods).unwrap_or(usize::MAX) + 2;
    assert!(
        (1..=max_summaries).contains(&summaries),
        "{summaries} summary lines for a {transfer:?} run (expected 1 to {max_summaries})\n{log}"
    );
    assert!(
        full as u64 + counted >= 100,
        "only {} of {attempts} rejections accounted for\n{log}",
        full as u64 + counted
    );
    for g in [&a.garbage, &a.no_cert, &a.other_ca, &a.expired] {
        assert_eq!(greeted(g), 0, "a hostile client reached rsync");
    }
    assert_eq!(left, 0, "processes left");
    drop(pair);
}
