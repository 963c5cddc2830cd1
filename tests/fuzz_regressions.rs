//! Replays the fuzz targets' committed inputs through the same checks the
//! fuzzers run (`testkit::fuzz`, shared with fuzz/, so no libFuzzer is needed):
//! the seeds in `fuzz/seeds/<target>/` and every crash input the fuzzers
//! found, kept in `tests/data/fuzz/<target>/` after the fix in src/. A check
//! panics when a parser panics or breaks one of its invariants (errors that
//! name their input, parse → write back → parse round trips).

use std::fs;
use std::path::{Path, PathBuf};

use testkit::fuzz;

/// The files of `dir` (none when it does not exist), sorted.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| {
            e.map(|e| e.path())
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        })
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `check` on every seed and crash input of `target`; returns how many
/// crash inputs there were.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = inputs(&root.join("fuzz/seeds").join(target));
    let crashes = inputs(&root.join("tests/data/fuzz").join(target));
    assert!(
        !seeds.is_empty(),
        "no seeds in fuzz/seeds/{target}: the replay would prove nothing"
    );
    for file in seeds.iter().chain(&crashes) {
        let data = fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        eprintln!("replaying {}", file.display());
        check(&data);
    }
    crashes.len()
}

#[test]
fn mycnf_inputs() {
    replay("mycnf", fuzz::mycnf::check);
}

#[test]
fn sockopt_inputs() {
    replay("sockopt", fuzz::sockopt::check);
}

#[test]
fn sst_address_inputs() {
    replay("sst_address", fuzz::sst_address::check);
}

#[test]
fn sst_args_inputs() {
    replay("sst_args", fuzz::sst_args::check);
}
