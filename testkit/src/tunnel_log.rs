//! sst-tunnel's stderr log as the tests read it: a `key=N` field of any line
//! (tracing writes an event's fields as `key=value`), and the line every
//! tunnelled connection gets when it closes (src/relay/log.rs), which says
//! how many bytes came in and how long the connection lasted.
//!
//! [`closed_connections`] reads the manual commands' log (`sst-tunnel
//! joiner`/`donor`), whose lines start with their UTC time in RFC 3339
//! (tracing-subscriber's default format); [`number`] reads any line,
//! the SST method's `WSREP_SST:` ones included.

/// The number right after `key` in `line`: `number(line, "bytes_in=")`.
///
/// Panics, naming the line, when `key` is not there or no digits follow it.
pub fn number(line: &str, key: &str) -> u64 {
    let at = line
        .find(key)
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
        + key.len();
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {key} in {line:?}"))
}

/// One connection as its `connection closed` line tells it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Closed {
    /// The bytes that came in through it (`bytes_in`: from the TLS peer).
    pub bytes_in: u64,
    /// When it opened, in seconds since the epoch: the line's time less its
    /// `elapsed_ms`.
    pub opened: f64,
    /// When it closed, in seconds since the epoch: the line's time.
    pub closed: f64,
}

/// Every `connection closed` line of a manual command's log, in order. A
/// closed preflight (a handshake only, no `bytes_in`) is not a connection
/// that carried data and is left out.
///
/// Panics, naming the line, when one does not start with an RFC 3339 time.
pub fn closed_connections(log: &str) -> Vec<Closed> {
    log.lines()
        .filter(|l| l.contains("connection closed") && l.contains("bytes_in="))
        .map(|l| {
            let time = l.split_whitespace().next().unwrap_or_default();
            let closed = chrono::DateTime::parse_from_rfc3339(time)
                .unwrap_or_else(|e| panic!("no time at the start of {l:?}: {e}"))
                .timestamp_micros() as f64
                / 1e6;
            Closed {
                bytes_in: number(l, "bytes_in="),
                opened: closed - number(l, "elapsed_ms=") as f64 / 1e3,
                closed,
            }
        })
        .collect()
}

/// The bytes that came in through all the connections of a manual
/// command's log: on a joiner, everything the donor sent (its rsyncs'
/// data and protocol) as counted after TLS.
pub fn total_bytes_in(log: &str) -> u64 {
    closed_connections(log).iter().map(|c| c.bytes_in).sum()
}
