//! Fuzz target `mycnf`: see `checks/mycnf.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sst_tunnel_fuzz::mycnf::check(data));
