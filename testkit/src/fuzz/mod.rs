//! The checks the fuzz targets run on each input: one module per parser,
//! each with `check(data)`, which panics when an invariant does not hold.
//!
//! The fuzz targets in `fuzz/fuzz_targets/` call these; so does
//! `tests/fuzz_regressions.rs`, which replays the committed seeds and crash
//! inputs through the same checks, so `cargo test` needs no libFuzzer.

pub mod mycnf;
pub mod sockopt;
pub mod sst_address;
pub mod sst_args;
