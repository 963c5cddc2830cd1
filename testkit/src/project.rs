//! The sst-tunnel project under test, as files: the `sst-tunnel` binary cargo
//! built for this test run, and the repository's root (scripts, fixtures,
//! documents the tests read).
//!
//! `env!("CARGO_BIN_EXE_sst-tunnel")` exists only when cargo compiles an
//! integration test of the sst-tunnel package, never in a library such as
//! this one. So the binary is found at run time, next to the test
//! executable: cargo puts integration tests in `target/<profile>/deps/` and
//! the package's binaries in `target/<profile>/`, and builds those binaries
//! before it runs any integration test.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The binary's file name in cargo's target directory.
const BINARY: &str = "sst-tunnel";

/// The `sst-tunnel` binary of this build (canonical path): the one
/// `target/<profile>/sst-tunnel` next to the running test executable.
///
/// Panics, saying how to build it, when it is not there (a test executable
/// run by hand after `cargo build --tests` alone).
pub fn binary() -> &'static Path {
    static FOUND: OnceLock<PathBuf> = OnceLock::new();
    FOUND.get_or_init(|| {
        let exe = std::env::current_exe()
            .unwrap_or_else(|e| panic!("cannot find the running test executable: {e}"));
        // target/<profile>/deps/<test>-<hash> → target/<profile>/sst-tunnel
        let profile = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("test executable {} has no grandparent", exe.display()));
        let path = profile.join(BINARY);
        std::fs::canonicalize(&path).unwrap_or_else(|e| {
            panic!(
                "the binary under test {} is missing ({e}): build it with \
                 `cargo build --bin {BINARY}` (`cargo test` builds it before the integration tests)",
                path.display()
            )
        })
    })
}

/// The repository's root directory (where `Cargo.toml`, `scripts/` and
/// `tests/data/` are).
pub fn root() -> &'static Path {
    // This crate lives in `<root>/testkit`.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit/ lies inside the repository")
}

/// `path` (relative to the repository's root) as a full path.
pub fn file(path: &str) -> PathBuf {
    root().join(path)
}
