//! A coordinated hostile flood on the joiner's port while a transfer runs:
//! once the joiner runs rsync, every group of [`super::hostile`] clients is
//! launched at once on its own threads (20 silent first, then 50 garbage,
//! 10 TLS without a certificate, 10 from another CA, 10 expired, and a
//! burst), and the joiner method's peak RSS is sampled until it exits.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::hostile::{self, Silent};
use super::STEP;
use crate::procs;
use sst_tunnel::pki::LeafFiles;

/// Reads a process's peak RSS in KiB (`figures::peak_rss_kib`, which not
/// every test crate includes).
pub type PeakRss = fn(u32) -> Option<u64>;

/// Samples the peak RSS (VmHWM) of `pid` until it exits or `stop` is set.
fn rss_sampler(pid: u32, rss: PeakRss, stop: Arc<AtomicBool>) -> (JoinHandle<()>, Arc<AtomicU64>) {
    let peak = Arc::new(AtomicU64::new(0));
    let p2 = peak.clone();
    let t = std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match rss(pid) {
                Some(kib) => {
                    p2.fetch_max(kib, Ordering::Relaxed);
                }
                None => return,
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    (t, peak)
}

/// What every hostile group got.
#[derive(Default)]
pub struct Attack {
    /// When the groups were launched (the transfer was running).
    pub launched: Option<Instant>,
    /// When the last group finished.
    pub ended: Option<Instant>,
    /// What each plaintext-garbage client read back.
    pub garbage: Vec<Vec<u8>>,
    /// The connections that said nothing, held open.
    pub silent: Vec<Silent>,
    /// What each TLS client without a certificate read back.
    pub no_cert: Vec<Vec<u8>>,
    /// What each TLS client with a certificate from another CA read back.
    pub other_ca: Vec<Vec<u8>>,
    /// What each TLS client with an expired certificate read back.
    pub expired: Vec<Vec<u8>>,
    /// How many connections of the open-and-close burst were opened.
    pub burst_opened: usize,
    /// The joiner method's peak resident set size, in KiB.
    pub peak_rss_kib: u64,
    /// The joiner method's pid, once found.
    pub method_pid: Option<u32>,
}

fn join_all<T>(v: Vec<JoinHandle<T>>) -> Vec<T> {
    v.into_iter().map(|h| h.join().unwrap()).collect()
}

fn tls_group(port: u16, n: usize, cert: Option<&LeafFiles>) -> Vec<JoinHandle<Vec<u8>>> {
    (0..n)
        .map(|_| {
            let cert = cert.cloned();
            std::thread::spawn(move || hostile::tls(port, cert.as_ref()))
        })
        .collect()
}

/// Waits for the transfer to run, then launches every group at once and
/// collects the results (`within` bounds a silent client's wait);
/// samples the joiner's RSS until it exits.
pub fn attack(
    port: u16,
    datadir: PathBuf,
    rogue: LeafFiles,
    expired: LeafFiles,
    burst_size: usize,
    within: Duration,
    rss: PeakRss,
) -> Attack {
    let mut out = Attack::default();
    let mut pid = None;
    let found = crate::poll::until(STEP, || {
        pid = procs::method_pid(&datadir);
        pid.is_some_and(procs::runs_rsync)
    });
    assert!(found, "the joiner never started an rsync server");
    let pid = pid.unwrap();
    out.method_pid = Some(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let (sampler, peak) = rss_sampler(pid, rss, stop.clone());
    out.launched = Some(Instant::now());

    // Silent ones first, so they sit in the handshake table when the rest arrives.
    let silent: Vec<_> = (0..20)
        .map(|_| std::thread::spawn(move || hostile::silent(port, within)))
        .collect();
    let garbage: Vec<_> = (0..50)
        .map(|i| {
            std::thread::spawn(move || {
                hostile::garbage(port, &format!("garbage-{i}"), 64 + i * 97, within)
            })
        })
        .collect();
    let no_cert = tls_group(port, 10, None);
    let other_ca = tls_group(port, 10, Some(&rogue));
    let exp = tls_group(port, 10, Some(&expired));
    let burst = std::thread::spawn(move || hostile::burst(port, burst_size));
    out.silent = join_all(silent);
    out.garbage = join_all(garbage);
    out.no_cert = join_all(no_cert);
    out.other_ca = join_all(other_ca);
    out.expired = join_all(exp);
    out.burst_opened = burst.join().unwrap();
    out.ended = Some(Instant::now());
    // Keep sampling until the joiner exits (the sampler stops by itself).
    let _ = crate::poll::until(Duration::from_secs(60), || !procs::alive(pid));
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    out.peak_rss_kib = peak.load(Ordering::Relaxed);
    out
}
