//! Two network namespaces, `joiner` and `donor`, joined by one veth pair:
//! 10.77.0.1 (joiner end) and 10.77.0.2 (donor end), loopback up in both.
//! The addresses exist only inside these namespaces, so every test can use
//! the same ones; the names carry the pid and a counter so parallel tests
//! and other users of the machine never collide. Nothing touches the
//! host's interfaces: the veth pair is created inside the namespaces.

use std::sync::atomic::{AtomicU32, Ordering};

use super::{run, try_run};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// One end of the link.
#[derive(Clone, Debug)]
pub struct End {
    /// The namespace name.
    pub ns: String,
    /// The veth device inside it.
    pub dev: String,
    /// Its IPv4 address.
    pub ip: &'static str,
}

impl End {
    /// `ip netns exec NS`: prefix that runs a program inside the namespace
    /// (it execs, so the pid and the parent stay the same).
    pub fn exec_prefix(&self) -> Vec<String> {
        vec!["ip".into(), "netns".into(), "exec".into(), self.ns.clone()]
    }

    /// Runs `args` inside the namespace; panics with stderr on failure.
    pub fn run(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", self.ns.as_str()];
        all.extend_from_slice(args);
        run(&all)
    }

    /// Runs `args` inside the namespace; stderr on failure.
    pub fn try_run(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["ip", "netns", "exec", self.ns.as_str()];
        all.extend_from_slice(args);
        try_run(&all)
    }
}

/// The two namespaces and the veth pair; deleted on drop.
pub struct Link {
    /// Where the joiner runs.
    pub joiner: End,
    /// Where the donor runs.
    pub donor: End,
    /// The userspace delay line, when the link is one ([`Link::delay_line`]).
    wire: Option<super::wire::Wire>,
}

impl Link {
    /// Creates both namespaces and the link, up, addressed.
    pub fn new() -> Link {
        let link = Link::namespaces();
        run(&[
            "ip",
            "-n",
            &link.joiner.ns,
            "link",
            "add",
            &link.joiner.dev,
            "type",
            "veth",
            "peer",
            "name",
            &link.donor.dev,
            "netns",
            &link.donor.ns,
        ]);
        for end in [&link.joiner, &link.donor] {
            let cidr = format!("{}/24", end.ip);
            run(&["ip", "-n", &end.ns, "addr", "add", &cidr, "dev", &end.dev]);
            run(&["ip", "-n", &end.ns, "link", "set", &end.dev, "up"]);
        }
        link
    }

    /// Both namespaces joined by TUN devices and a userspace delay line
    /// holding every packet `delay` each way (see [`super::wire`]); the
    /// devices carry the same names and addresses as the veth pair would.
    pub fn delay_line(delay: std::time::Duration) -> Link {
        let mut link = Link::namespaces();
        link.wire = Some(super::wire::Wire::start([&link.joiner, &link.donor], delay));
        link
    }

    /// One round trip as TCP sees it: from the donor namespace, the time
    /// between a SYN to a closed port of the joiner and the RST (measured
    /// inside bash, so process start-up is not counted).
    pub fn syn_rtt(&self) -> std::time::Duration {
        let script = format!(
            "s=$EPOCHREALTIME; (exec 3<>/dev/tcp/{}/9) 2>/dev/null; e=$EPOCHREALTIME; echo $s $e",
            self.joiner.ip
        );
        let out = self.donor.run(&["bash", "-c", &script]);
        let t: Vec<f64> = out
            .split_whitespace()
            .map(|v| v.replace(',', ".").parse().unwrap())
            .collect();
        std::time::Duration::from_secs_f64((t[1] - t[0]).max(0.0))
    }

    /// Whether packets cross through the userspace delay line.
    pub fn is_delay_line(&self) -> bool {
        self.wire.is_some()
    }

    /// The two namespaces with loopback up, no link yet.
    fn namespaces() -> Link {
        super::require_root_and_iproute2();
        let id = format!(
            "{}x{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let link = Link {
            joiner: End {
                ns: format!("sstnf-j-{id}"),
                dev: format!("vj{id}"),
                ip: "10.77.0.1",
            },
            donor: End {
                ns: format!("sstnf-d-{id}"),
                dev: format!("vd{id}"),
                ip: "10.77.0.2",
            },
            wire: None,
        };
        assert!(link.joiner.dev.len() <= 15, "interface name too long");
        // The guard exists before anything is created, so a failure half-way
        // still deletes what was made.
        run(&["ip", "netns", "add", &link.joiner.ns]);
        run(&["ip", "netns", "add", &link.donor.ns]);
        for end in [&link.joiner, &link.donor] {
            run(&["ip", "-n", &end.ns, "link", "set", "lo", "up"]);
        }
        link
    }

    /// Both ends.
    pub fn ends(&self) -> [&End; 2] {
        [&self.joiner, &self.donor]
    }
}

impl Default for Link {
    fn default() -> Self {
        Link::new()
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // The socat processes hold the TUN devices inside the namespaces.
        drop(self.wire.take());
        for end in [&self.joiner, &self.donor] {
            // Deleting a namespace removes its end of the veth, and so the pair.
            let _ = try_run(&["ip", "netns", "del", &end.ns]);
        }
    }
}
