//! A userspace delay line between the two namespaces, for kernels built
//! without `sch_netem` (the only qdisc that delays packets).
//!
//! Each namespace gets a TUN device made by `socat TUN:ADDR/24` (run with
//! `ip netns exec`), which hands every IP packet the namespace sends to a
//! Unix datagram socket, one packet per datagram, and writes every datagram
//! it receives back into the namespace as a packet. Two threads of the test
//! move the packets across, each holding them for the delay: TCP, TLS and
//! rsync run end to end over a link with a real round-trip time. Rate limits
//! stay in the kernel (`tc tbf` on the TUN devices).

use std::collections::VecDeque;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::link::End;

/// Packets held at most per direction (as netem's default `limit 1000`).
const QUEUE_LIMIT: usize = 1000;

/// The socat processes and the two forwarding threads; stopped on drop.
pub struct Wire {
    dir: tempfile::TempDir,
    socats: Vec<Child>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The one-way delay.
    pub delay: Duration,
}

fn sock(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

impl Wire {
    /// Creates the TUN devices `end.dev` in both namespaces, addressed
    /// `end.ip/24` and up, and starts forwarding with `delay` each way.
    pub fn start(ends: [&End; 2], delay: Duration) -> Wire {
        let dir = tempfile::Builder::new()
            .prefix("sst-netns-wire-")
            .tempdir()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let mut wire = Wire {
            dir,
            socats: Vec::new(),
            stop,
            threads: Vec::new(),
            delay,
        };
        // Our side first: socat sends to it as soon as the TUN is up.
        let ours: Vec<UnixDatagram> = (0..2)
            .map(|i| UnixDatagram::bind(sock(wire.dir.path(), &format!("wire{i}"))).unwrap())
            .collect();
        for (i, end) in ends.iter().enumerate() {
            let tun = format!(
                "TUN:{}/24,tun-name={},tun-type=tun,iff-up,iff-no-pi",
                end.ip, end.dev
            );
            let unix = format!(
                "UNIX-SENDTO:{},bind={}",
                sock(wire.dir.path(), &format!("wire{i}")).display(),
                sock(wire.dir.path(), &format!("tun{i}")).display()
            );
            let child = Command::new("ip")
                .args([
                    "netns", "exec", &end.ns, "socat", "-b", "65536", &tun, &unix,
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start socat (apt-get install socat): {e}"));
            wire.socats.push(child);
        }
        for end in ends {
            let up = crate::poll::until(Duration::from_secs(20), || {
                end.try_run(&["ip", "link", "show", &end.dev]).is_ok()
            });
            assert!(
                up,
                "socat did not create the TUN device {} in {}",
                end.dev, end.ns
            );
        }
        for (i, from) in ours.into_iter().enumerate() {
            let to = sock(wire.dir.path(), &format!("tun{}", 1 - i));
            let stop = wire.stop.clone();
            wire.threads.push(std::thread::spawn(move || {
                forward(&from, &to, delay, &stop)
            }));
        }
        wire
    }
}

/// Moves datagrams from `from` to `to`, each `delay` after it arrived.
fn forward(from: &UnixDatagram, to: &Path, delay: Duration, stop: &AtomicBool) {
    let out = UnixDatagram::unbound().unwrap();
    out.set_nonblocking(true).unwrap();
    let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let mut backlog = false;
        while let Some((due, packet)) = queue.front() {
            if *due > now {
                break;
            }
            match out.send_to(packet, to) {
                // socat's queue is full: keep the packet, go on receiving
                // (blocking here could deadlock with socat sending to us).
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    backlog = true;
                    break;
                }
                // Sent, or a peer not (yet, or any more) there: a lost packet.
                _ => {
                    queue.pop_front();
                }
            }
        }
        let wait = if backlog {
            Duration::from_micros(200)
        } else {
            queue
                .front()
                .map_or(Duration::from_millis(20), |(due, _)| {
                    due.saturating_duration_since(now)
                })
                .clamp(Duration::from_micros(100), Duration::from_millis(20))
        };
        from.set_read_timeout(Some(wait)).unwrap();
        if let Ok(n) = from.recv(&mut buf) {
            if queue.len() < QUEUE_LIMIT {
                queue.push_back((Instant::now() + delay, buf[..n].to_vec()));
            }
        }
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for c in &mut self.socats {
            let _ = c.kill();
            let _ = c.wait();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
