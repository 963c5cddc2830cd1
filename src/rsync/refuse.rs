//! The rsync options an authenticated donor may not send to the joiner's
//! daemon (`refuse options`), and why the rest are accepted.
//!
//! A donor reaches rsync with the arguments its client builds for the
//! server side (`--server` and what follows). Every option the donor's
//! sequences (ours, the socat script's) never send is refused by name, so
//! that a peer with a valid certificate cannot turn the receiver into a
//! reader (`--sender`), point it at paths outside the module
//! (`--temp-dir`, `--partial-dir`, `--backup-dir`, `--link-dest`,
//! `--copy-dest`, `--compare-dest`, `--files-from`), follow links
//! (`--keep-dirlinks`, `--copy-links`), write into devices
//! (`--write-devices`), change ownership or modes at will (`--chown`,
//! `--chmod`, `--usermap`, `--super`, `--fake-super`) or create
//! directories (`--mkpath`).
//!
//! # What stays accepted
//!
//! What our donor's runs, the socat script's runs and the marker run
//! (`--archive --checksum`) put on the server's command line, captured on
//! the wire from an rsync 3.5.0 client:
//!
//! - short options `q l d W o g p I r D t c R`, and `e` (`--rsh`: its value
//!   carries the `-e.xxx` capability flags; rsync 3.1.3 parses it as an
//!   option, so refusing it would refuse every client) and `s`
//!   (`--protect-args`/`--secluded-args`, harmless: the arguments still go
//!   through this list);
//! - `server`, `no-r`/`no-recursive`, `specials`, `delete` and
//!   `delete-during` (rsync picks `--delete-during` for a plain `--delete`
//!   when `delete-before` is refused), `inplace`, `timeout`, `bwlimit`;
//! - `R` (`--relative`): our donor's delete pass sends it, and its schema
//!   streams use `--files-from` (with `--from0`), which implies it; a
//!   sending client reads the list itself and forwards neither
//!   `--files-from` nor `--from0`;
//! - `min-size`: our donor's delete pass sends `--min-size` above its
//!   largest file (src/rsync/client/mod.rs says why). It exists in rsync
//!   3.1.3 (`options.c`, forwarded by a sending client as `--min-size
//!   SIZE`; 3.2+ as `--min-size=SIZE`) and gives a peer nothing more: it
//!   is a transfer rule of the receiving side that only makes it skip
//!   regular files smaller than SIZE. It names no path, reads nothing,
//!   and writes less, never elsewhere; the value is a number the daemon
//!   parses and rejects when invalid.
//!
//! Also left out, on purpose:
//!
//! - the other spellings of an accepted option (`del` is
//!   `--delete-during`; `protect-args`, `secluded-args`, `recursive`,
//!   `dirs`, ...): rsync 3.5.0 refuses every spelling of a refused
//!   capability, so refusing an alias would refuse the accepted option;
//! - `partial`: rsync treats `--inplace` as `--partial` for refusal
//!   purposes, so refusing it refuses `--inplace`;
//! - `no-iconv`: refusing it means "require `--iconv`", which would refuse
//!   every client;
//! - `archive` and `a`: rsync 3.2+ expands a refused `archive` to
//!   `r d l p t g o D`;
//! - `log-file*` and (without a `charset`) `iconv` are refused by rsync
//!   itself in daemon mode; they are listed anyway where the table has
//!   them, which is harmless.
//!
//! # Compatibility
//!
//! The list names options only, exactly: rsync 3.1.3 knows neither `!name`
//! negation nor a safe wildcard (`*` would refuse `--server` too). A name
//! the serving rsync does not know is logged by it ("No match for
//! refuse-options string", to syslog) and ignored, never fatal, so the
//! names that newer versions added are safe for an rsync 3.1.3 daemon.
//!
//! # How the list was derived, and how to regenerate it
//!
//! From the `long_options[]` table of `options.c` at every release tag
//! from v3.1.3 to v3.5.0 and the master branch of 2026-08-20 (commit
//! 7c20b077) of the rsync repository: every long name, plus the letters of
//! the rows that have no long name (`D`, `F`, `P`), minus the accepted
//! rows above and the rows rsync 3.5.0 treats as the same capability (same
//! variable and same constant, `same_refuse_action` in options.c), minus
//! the exceptions above; sorted. To regenerate after a new rsync release:
//! for each tag, `git show TAG:options.c`, take the rows between
//! `static struct poptOption long_options[] = {` and `};`, apply the same
//! rule, and diff against [`REFUSED_OPTIONS`]; the unit tests in
//! `refuse/tests.rs` check the exceptions and the accepted names.

/// Every rsync option name the joiner's daemon refuses (see the module
/// documentation for the derivation).
pub const REFUSED_OPTIONS: &[&str] = &[
    "8-bit-output",
    "F",
    "P",
    "acls",
    "address",
    "append",
    "append-verify",
    "atimes",
    "backup",
    "backup-dir",
    "block-size",
    "blocking-io",
    "cc",
    "checksum-choice",
    "checksum-seed",
    "chmod",
    "chown",
    "compare-dest",
    "compress",
    "compress-choice",
    "compress-level",
    "compress-threads",
    "config",
    "confine-root",
    "contimeout",
    "copy-as",
    "copy-dest",
    "copy-devices",
    "copy-dirlinks",
    "copy-links",
    "copy-unsafe-links",
    "crtimes",
    "cvs-exclude",
    "daemon",
    "debug",
    "delay-updates",
    "delete-after",
    "delete-before",
    "delete-delay",
    "delete-excluded",
    "delete-missing-args",
    "detach",
    "devices",
    "dparam",
    "drop-D",
    "dry-run",
    "early-input",
    "exclude",
    "exclude-from",
    "executability",
    "existing",
    "fake-super",
    "files-from",
    "filter",
    "force",
    "from0",
    "fsync",
    "fuzzy",
    "groupmap",
    "hard-links",
    "help",
    "human-readable",
    "i-d",
    "i-r",
    "iconv",
    "ignore-errors",
    "ignore-existing",
    "ignore-missing-args",
    "ignore-non-existing",
    "implied-dirs",
    "inc-recursive",
    "include",
    "include-from",
    "info",
    "insecure-links",
    "ipv4",
    "ipv6",
    "itemize-changes",
    "keep-dirlinks",
    "link-dest",
    "list-only",
    "log-file",
    "log-file-format",
    "log-format",
    "max-alloc",
    "max-delete",
    "max-size",
    "mkpath",
    "modify-window",
    "motd",
    "msgs2stderr",
    "munge-links",
    "new-compress",
    "no-8",
    "no-8-bit-output",
    "no-A",
    "no-D",
    "no-H",
    "no-J",
    "no-N",
    "no-O",
    "no-R",
    "no-S",
    "no-U",
    "no-W",
    "no-X",
    "no-acls",
    "no-append",
    "no-atimes",
    "no-backup",
    "no-blocking-io",
    "no-bwlimit",
    "no-c",
    "no-checksum",
    "no-compress",
    "no-contimeout",
    "no-crtimes",
    "no-d",
    "no-delay-updates",
    "no-detach",
    "no-devices",
    "no-dirs",
    "no-drop-D",
    "no-force",
    "no-from0",
    "no-fuzzy",
    "no-g",
    "no-group",
    "no-h",
    "no-hard-links",
    "no-human-readable",
    "no-i",
    "no-i-d",
    "no-i-r",
    "no-ignore-errors",
    "no-implied-dirs",
    "no-inc-recursive",
    "no-inplace",
    "no-insecure-links",
    "no-itemize-changes",
    "no-l",
    "no-links",
    "no-m",
    "no-mkpath",
    "no-motd",
    "no-msgs2stderr",
    "no-munge-links",
    "no-numeric-ids",
    "no-o",
    "no-old-args",
    "no-omit-dir-times",
    "no-omit-link-times",
    "no-one-file-system",
    "no-open-noatime",
    "no-owner",
    "no-p",
    "no-partial",
    "no-perms",
    "no-progress",
    "no-protect-args",
    "no-prune-empty-dirs",
    "no-relative",
    "no-s",
    "no-secluded-args",
    "no-sparse",
    "no-specials",
    "no-super",
    "no-t",
    "no-timeout",
    "no-times",
    "no-v",
    "no-verbose",
    "no-whole-file",
    "no-write-devices",
    "no-x",
    "no-xattrs",
    "no-y",
    "no-z",
    "numeric-ids",
    "old-args",
    "old-compress",
    "old-d",
    "old-dirs",
    "omit-dir-times",
    "omit-link-times",
    "one-file-system",
    "only-write-batch",
    "open-noatime",
    "out-format",
    "outbuf",
    "partial-dir",
    "password-file",
    "port",
    "preallocate",
    "progress",
    "protocol",
    "prune-empty-dirs",
    "qsort",
    "read-batch",
    "remote-option",
    "remove-sent-files",
    "remove-source-files",
    "rsync-path",
    "safe-links",
    "sender",
    "size-only",
    "skip-compress",
    "sockopts",
    "sparse",
    "stats",
    "stderr",
    "stop-after",
    "stop-at",
    "suffix",
    "super",
    "temp-dir",
    "time-limit",
    "trust-sender",
    "update",
    "usermap",
    "verbose",
    "version",
    "write-batch",
    "write-devices",
    "xattrs",
    "zc",
    "zl",
    "zt",
];

/// The option names our donor's and the socat script's runs send to the
/// daemon, which must never be refused (long names, then the letters of
/// the short options).
pub const ACCEPTED_OPTIONS: &[&str] = &[
    "server",
    "no-r",
    "no-recursive",
    "specials",
    "delete",
    "delete-during",
    "del",
    "inplace",
    "timeout",
    "bwlimit",
    "min-size",
    "quiet",
    "links",
    "dirs",
    "whole-file",
    "owner",
    "group",
    "perms",
    "ignore-times",
    "recursive",
    "times",
    "checksum",
    "relative",
    "rsh",
    "protect-args",
    "secluded-args",
    "q",
    "l",
    "d",
    "W",
    "o",
    "g",
    "p",
    "I",
    "r",
    "D",
    "t",
    "c",
    "R",
    "e",
    "s",
];

/// The `refuse options` value: the names separated by single spaces.
pub fn refuse_options_value() -> String {
    REFUSED_OPTIONS.join(" ")
}

#[cfg(test)]
mod tests;
