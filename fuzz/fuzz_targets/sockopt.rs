//! Fuzz target `sockopt`: see `checks/sockopt.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sst_tunnel_fuzz::sockopt::check(data));
