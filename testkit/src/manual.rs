//! The manual commands (`sst-tunnel joiner`, `sst-tunnel donor`) as the
//! tests drive them: what the joiner prints on stdout to say where a donor
//! finds it.

use std::time::Duration;

use crate::child::Proc;

/// Reads a manual joiner's first stdout line, `ready ADDRESS/rsync_tunnel_sst`,
/// and returns `ADDRESS` (`127.0.0.1:PORT`, `[::1]:PORT`): what `sst-tunnel
/// donor --address` takes.
///
/// Panics, naming the process and the line, when the line is another one
/// or does not come `within` (then with the joiner's stderr).
pub fn ready_address(joiner: &mut Proc, within: Duration) -> String {
    let ready = joiner.stdout_line(within);
    ready
        .strip_prefix("ready ")
        .and_then(|a| a.strip_suffix("/rsync_tunnel_sst"))
        .unwrap_or_else(|| {
            panic!(
                "{}: printed {ready:?}, not its ready line `ready ADDRESS/rsync_tunnel_sst`",
                joiner.name()
            )
        })
        .to_string()
}
