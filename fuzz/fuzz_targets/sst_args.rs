//! Fuzz target `sst_args`: see `checks/sst_args.rs` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sst_tunnel_fuzz::sst_args::check(data));
