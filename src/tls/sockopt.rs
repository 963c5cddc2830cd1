//! socat's OPENSSL option grammar for `[sst] sockopt`, with the support /
//! ignore-with-warning / reject decisions of tls-compat.md §0 and §2.
//!
//! STUB: being written.

/// Parsed `sockopt`.
#[derive(Clone, Debug, Default)]
pub struct SockOpts {}
