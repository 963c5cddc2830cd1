//! Fuzz target `mycnf`: see `testkit/src/fuzz/mycnf.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz::mycnf::check(data));
