//! `tc` impairments on one end of the link (egress of its veth device).
//!
//! - [`rate`]: a token bucket (`tbf`) at N Mbit/s.
//! - [`delay_and_rate`]: `netem delay D rate R` (needs `sch_netem`).
//! - [`black_hole`]: nothing is delivered any more: `netem loss 100%`, or,
//!   on a kernel built without `sch_netem`, a `tbf` whose bucket is smaller
//!   than any packet, which makes the kernel drop every packet.
//! - [`link_down`]: `ip link set DEV down`.

use super::link::End;

/// How the black hole was made, for the figure notes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlackHole {
    /// `netem loss 100%`.
    NetemLoss,
    /// `tbf` with a 1-byte bucket (the kernel lacks `sch_netem`): why netem was not used.
    TbfDropAll(String),
}

impl std::fmt::Display for BlackHole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlackHole::NetemLoss => f.write_str("tc netem loss 100% on both veth ends"),
            BlackHole::TbfDropAll(why) => write!(
                f,
                "tc tbf burst 1b on both veth ends (drops every packet; netem unavailable: {why})"
            ),
        }
    }
}

fn tc(end: &End, args: &[&str]) -> Result<(), String> {
    let mut all = vec!["tc", "qdisc", "replace", "dev", end.dev.as_str(), "root"];
    all.extend_from_slice(args);
    end.try_run(&all).map(|_| ())
}

fn tc_ok(end: &End, args: &[&str]) {
    if let Err(e) = tc(end, args) {
        panic!(
            "tc qdisc replace dev {} root {}: {e}",
            end.dev,
            args.join(" ")
        );
    }
}

/// Whether `sch_netem` can be used, after trying `modprobe sch_netem`.
/// `Err` says why not, clearly enough for a failure message.
pub fn netem(end: &End) -> Result<(), String> {
    let probe = || tc(end, &["netem", "delay", "0ms"]);
    let first = match probe() {
        Ok(()) => return clear(end),
        Err(e) => e,
    };
    let modprobe = match super::try_run(&["modprobe", "sch_netem"]) {
        Ok(_) => match probe() {
            Ok(()) => return clear(end),
            Err(e) => format!("modprobe sch_netem succeeded but tc still fails: {e}"),
        },
        Err(e) if e.starts_with("cannot run") => {
            "modprobe is not installed (apt-get install kmod)".to_string()
        }
        Err(e) => format!("modprobe sch_netem failed: {e}"),
    };
    Err(format!(
        "the kernel has no sch_netem qdisc (tc: {first}; {modprobe}; {}); \
         run on a kernel with CONFIG_NET_SCH_NETEM (module sch_netem, package linux-modules-extra-$(uname -r) on Ubuntu)",
        kernel_config("CONFIG_NET_SCH_NETEM")
    ))
}

fn clear(end: &End) -> Result<(), String> {
    end.try_run(&["tc", "qdisc", "del", "dev", &end.dev, "root"])
        .map(|_| ())
}

/// The line of /proc/config.gz for `key`, when the kernel exposes it.
fn kernel_config(key: &str) -> String {
    let Ok(out) = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "zcat /proc/config.gz 2>/dev/null | grep -E '^(# )?{key}[= ]'; \
             zcat /proc/config.gz 2>/dev/null | grep -E '^# CONFIG_MODULES is not set'"
        ))
        .output()
    else {
        return "kernel config not readable".into();
    };
    let text = String::from_utf8_lossy(&out.stdout)
        .trim()
        .replace('\n', ", ");
    if text.is_empty() {
        "kernel config not readable".into()
    } else {
        format!("/proc/config.gz: {text}")
    }
}

/// Limits `end`'s egress to `mbit` Mbit/s with a token bucket.
pub fn rate(end: &End, mbit: u32) {
    let r = format!("{mbit}mbit");
    tc_ok(
        end,
        &["tbf", "rate", &r, "burst", "64kb", "latency", "200ms"],
    );
}

/// `netem delay {ms}ms rate {mbit}mbit` on `end`'s egress.
pub fn delay_and_rate(end: &End, ms: u32, mbit: u32) -> Result<(), String> {
    netem(end)?;
    let d = format!("{ms}ms");
    let r = format!("{mbit}mbit");
    tc(end, &["netem", "delay", &d, "rate", &r, "limit", "10000"])
}

/// Stops delivery on both ends (every packet dropped from now on).
pub fn black_hole(ends: &[&End]) -> BlackHole {
    let how = match netem(ends[0]) {
        Ok(()) => BlackHole::NetemLoss,
        Err(why) => BlackHole::TbfDropAll(why),
    };
    for end in ends {
        match &how {
            BlackHole::NetemLoss => tc_ok(end, &["netem", "loss", "100%"]),
            // A packet longer than the bucket is dropped by tbf, and every
            // packet is longer than one byte.
            BlackHole::TbfDropAll(_) => {
                tc_ok(end, &["tbf", "rate", "8bit", "burst", "1", "limit", "1"])
            }
        }
    }
    how
}

/// Packets `end`'s root qdisc dropped so far (proves the black hole works).
pub fn dropped(end: &End) -> u64 {
    let out = end
        .try_run(&["tc", "-s", "qdisc", "show", "dev", &end.dev])
        .unwrap_or_default();
    out.split("dropped ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Takes `end`'s veth device down.
pub fn link_down(end: &End) {
    end.run(&["ip", "link", "set", &end.dev, "down"]);
}
