//! Fuzz target `sockopt`: see `testkit/src/fuzz/sockopt.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz::sockopt::check(data));
