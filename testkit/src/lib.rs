//! Test support for sst-tunnel, shared by the test targets in `tests/` and the
//! fuzz targets in `fuzz/`. Nothing here is product code: a panic naming what
//! failed is how a helper reports a failure.
//!
//! # Layout
//!
//! Building blocks, used by the harnesses below them:
//!
//! - [`project`]: the `sst-tunnel` binary of this build and the repository's root.
//! - [`poll`]: waiting with a deadline (async [`poll::within`], sync probes).
//! - [`net`]: free loopback ports, waiting for a listener, an echo service.
//! - [`bytes`]: deterministic pseudo-random test data.
//! - [`procs`]: `/proc` inspection, signals, our uid, nothing-left-behind checks.
//! - [`child`]: a child process run by a test, killed with its group when dropped.
//! - [`manual`]: the manual `sst-tunnel joiner`/`donor` commands' output (the `ready` address).
//! - [`pki`]: throwaway CAs and node certificates, built on `sst_tunnel::pki`.
//! - [`tls`]: TLS peers for the handshake tests (our server and client, raw OpenSSL ones).
//! - [`figures`]: the measured figures of docs/reliability.md.
//! - [`tunnel_log`]: sst-tunnel's log lines parsed: a `key=N` field, each
//!   connection's bytes in and when it opened and closed.
//!
//! Harnesses, each for one family of tests:
//!
//! - [`check`]: `sst-tunnel check` runs and their findings.
//! - [`fake_mariadbd`]: the SST method run as mariadbd runs it, end to end.
//! - [`netns`]: two network namespaces and `tc` faults between a joiner and a donor.
//! - [`socat`]: the socat reference peers of the original `wsrep_sst_rsync_tunnel`.
//! - [`rsync`]: real-rsync transfers through the library's parts.
//! - [`cluster`]: a real two-node Galera cluster.
//! - [`cluster_bench`]: the real-cluster SST benchmark (`scripts/bench --cluster`).
//! - [`fuzz`]: the invariants the fuzz targets check, replayed by the tests.

pub mod bytes;
pub mod check;
pub mod child;
pub mod cluster;
pub mod cluster_bench;
pub mod fake_mariadbd;
pub mod figures;
pub mod fuzz;
pub mod manual;
pub mod net;
pub mod netns;
pub mod pki;
pub mod poll;
pub mod procs;
pub mod project;
pub mod rsync;
pub mod socat;
pub mod tls;
pub mod tunnel_log;
