//! Fuzz target `sst_args`: see `testkit/src/fuzz/sst_args.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| testkit::fuzz::sst_args::check(data));
