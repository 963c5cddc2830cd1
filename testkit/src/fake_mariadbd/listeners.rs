//! Listening TCP sockets owned by a set of processes: their socket inodes
//! from `/proc/<pid>/fd`, matched against the LISTEN rows of
//! `/proc/net/tcp` and `/proc/net/tcp6`.

use std::collections::BTreeSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::procs;

/// Socket inodes held by `pid` (`socket:[N]` descriptors).
pub fn socket_inodes(pid: u32) -> BTreeSet<u64> {
    procs::fds(pid)
        .into_iter()
        .filter_map(|(_, t)| t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok())
        .collect()
}

fn parse_v4(hex: &str) -> Option<IpAddr> {
    let n = u32::from_str_radix(hex, 16).ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(n.to_le_bytes())))
}

fn parse_v6(hex: &str) -> Option<IpAddr> {
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for i in 0..4 {
        let word = u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).ok()?;
        bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}

/// Every LISTEN socket in the kernel's TCP tables: (inode, local address).
pub fn all_listening() -> Vec<(u64, SocketAddr)> {
    let mut out = Vec::new();
    for (table, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let Some((addr, port)) = f[1].split_once(':') else {
                continue;
            };
            let ip = if v6 { parse_v6(addr) } else { parse_v4(addr) };
            let (Some(ip), Ok(port), Ok(inode)) =
                (ip, u16::from_str_radix(port, 16), f[9].parse::<u64>())
            else {
                continue;
            };
            out.push((inode, SocketAddr::new(ip, port)));
        }
    }
    out
}

/// The listening sockets held by any of `pids`: (pid, local address).
pub fn listening_of(pids: &[u32]) -> Vec<(u32, SocketAddr)> {
    let table = all_listening();
    let mut out = Vec::new();
    for &pid in pids {
        let inodes = socket_inodes(pid);
        for (inode, addr) in &table {
            if inodes.contains(inode) {
                out.push((pid, *addr));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Where a client reaches a listener bound to `addr` (wildcards → loopback).
pub fn reach(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}
