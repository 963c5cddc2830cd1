//! Tests for [`super`]: the accepted names are never refused, the
//! dangerous ones are, and the list stays exact, unique and sorted.

use super::*;

#[test]
fn no_accepted_option_is_refused() {
    for name in ACCEPTED_OPTIONS {
        assert!(!REFUSED_OPTIONS.contains(name), "{name} is refused");
    }
}

#[test]
fn refusals_that_would_break_every_transfer_are_left_out() {
    // `partial` refuses --inplace, `no-iconv` requires --iconv,
    // `archive`/`a` expand to the parts of -a in rsync 3.2+.
    for name in ["partial", "no-iconv", "archive", "a"] {
        assert!(!REFUSED_OPTIONS.contains(&name), "{name} is refused");
    }
}

#[test]
fn the_dangerous_options_are_refused() {
    for name in [
        "sender",
        "keep-dirlinks",
        "temp-dir",
        "partial-dir",
        "backup-dir",
        "compare-dest",
        "copy-dest",
        "link-dest",
        "files-from",
        "write-devices",
        "copy-devices",
        "remove-source-files",
        "chmod",
        "chown",
        "usermap",
        "groupmap",
        "super",
        "fake-super",
        "mkpath",
        "delete-before",
        "delete-after",
        "delete-delay",
        "delete-excluded",
        "log-file",
        "log-file-format",
        "checksum-choice",
        "compress",
        "compress-level",
        "copy-links",
        "hard-links",
        "devices",
    ] {
        assert!(REFUSED_OPTIONS.contains(&name), "{name} is not refused");
    }
}

#[test]
fn names_are_exact_unique_and_sorted() {
    for name in REFUSED_OPTIONS {
        assert!(
            !name.is_empty() && !name.contains([' ', '*', '?', '[', '!', '=']),
            "{name:?} is not a plain option name"
        );
    }
    let mut sorted = REFUSED_OPTIONS.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, REFUSED_OPTIONS, "sorted and without duplicates");
    assert_eq!(REFUSED_OPTIONS.len(), 228);
}
