//! Two network namespaces joined by a veth pair, and `tc` impairments on
//! it, for the network-fault tests (tests/net_faults.rs).
//!
//! - [`link`]: the namespaces, the veth pair and their addresses (a Drop
//!   guard deletes them; names carry the test's pid).
//! - [`tc`]: rate limits, delay, a black hole, the link taken down.
//! - [`wire`]: a userspace delay line, for kernels without `sch_netem`.
//! - [`pair`]: an SST (our method or the socat reference) run with the
//!   joiner in one namespace and the donor in the other.
//!
//! Everything here needs root and iproute2; [`require_root_and_iproute2`]
//! fails the test with the install command when they are missing.

pub mod link;
pub mod pair;
pub mod tc;
pub mod wire;

use std::process::Command;

/// Runs a command to completion; panics with its stderr when it fails.
pub fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "{} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command; returns its stderr when it fails.
pub fn try_run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(program).is_file())
}

/// Fails the test unless it runs as root with `ip` and `tc` available.
pub fn require_root_and_iproute2() {
    assert!(
        crate::procs::is_root(),
        "the network-fault tests create network namespaces and need root (run them as root)"
    );
    for tool in ["ip", "tc"] {
        assert!(
            on_path(tool),
            "`{tool}` not found: the network-fault tests need iproute2 (apt-get install iproute2)"
        );
    }
}
