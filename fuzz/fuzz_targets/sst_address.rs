//! Fuzz target `sst_address`: see `checks/sst_address.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sst_tunnel_fuzz::sst_address::check(data));
