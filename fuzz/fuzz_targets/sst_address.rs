//! Fuzz target `sst_address`: see `testkit/src/fuzz/sst_address.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz::sst_address::check(data));
