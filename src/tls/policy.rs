//! The peer-name rule: socat's acceptance rules (SAN DNS, SAN IP, then the
//! first CN; one-label wildcards), compared without regard to ASCII case.
//!
//! STUB: being written.
