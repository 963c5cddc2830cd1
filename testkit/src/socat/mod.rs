//! The socat reference peers (tests/interop_socat.rs, and the manual
//! command line's tests): socat set up the way the original
//! `wsrep_sst_rsync_tunnel` runs it (tls-compat.md §1), the
//! reference donor's rsync client sequence (sst-protocol.md §5.3 \[ref\]), the
//! reference joiner's rsync daemon, and the sst-tunnel processes they meet.

pub mod gen_certs;
pub mod tree;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::child::{self, Proc};
use crate::net;
use crate::procs::is_root;
use crate::project::binary;
use gen_certs::GenCerts;

/// The original `wsrep_sst_rsync_tunnel` (bash, socat, rsync), kept as data
/// in `tests/support/socat-sst/`: the reference peer ours must interoperate with.
pub fn reference_script() -> PathBuf {
    crate::project::file("tests/support/socat-sst/wsrep_sst_rsync_tunnel")
}

/// Deadline for a process to become ready (port listening, `ready` line).
pub const READY: Duration = Duration::from_secs(20);

/// Deadline for a whole transfer.
pub const TRANSFER: Duration = Duration::from_secs(120);

/// The main rsync module of the rsync_tunnel method.
pub const MODULE: &str = "rsync_tunnel_sst";

/// Its second module, for the InnoDB redo logs.
pub const LOG_MODULE: &str = "rsync_tunnel_sst-log_dir";

/// The completion marker's file name.
pub const MARKER: &str = "rsync_tunnel_sst_complete";

/// Flags common to every rsync client run of the socat reference script's
/// SST sequence. Written out here, not taken from sst_tunnel's own donor
/// (`rsync::client::COMMON_FLAGS`), so that tests hold our joiner to what
/// the script sends even when our donor changes.
pub const SST_FLAGS: [&str; 10] = [
    "--owner",
    "--group",
    "--perms",
    "--links",
    "--specials",
    "--ignore-times",
    "--inplace",
    "--delete",
    "--quiet",
    "--whole-file",
];

/// A socat with verbose notices, so the tests can read its listening port
/// from stderr instead of guessing one.
fn socat(name: &str, left: String, right: String) -> (Proc, u16) {
    let mut cmd = Command::new("socat");
    cmd.args(["-d", "-d"]).arg(&left).arg(&right);
    let mut proc = Proc::spawn(name, cmd);
    // socat 1.7.4 prints "N listening on AF=2 127.0.0.1:PORT" after listen(2).
    let line = proc.stderr_line_matching(|l| l.contains(" listening on "), READY);
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse::<u16>().ok())
        .unwrap_or_else(|| panic!("{name}: no port in socat notice {line:?}"));
    (proc, port)
}

/// The reference donor's tunnel:
/// `socat tcp-listen:P,bind=localhost,reuseaddr,fork openssl:HOST:PORT,cert=..,key=..,cafile=..`
/// (port 0 here, read back from socat's notice). Returns the plaintext port.
pub fn socat_donor(pki: &GenCerts, node: &str, joiner_host: &str, joiner_port: u16) -> (Proc, u16) {
    socat_donor_with(&pki.socat_opts(node), joiner_host, joiner_port)
}

/// [`socat_donor`] with explicit OPENSSL options (e.g. a certificate from another CA).
pub fn socat_donor_with(opts: &str, joiner_host: &str, joiner_port: u16) -> (Proc, u16) {
    socat(
        "socat donor",
        "tcp-listen:0,bind=localhost,reuseaddr,fork".to_owned(),
        format!("openssl:{joiner_host}:{joiner_port},{opts}"),
    )
}

/// The reference joiner's tunnel:
/// `socat openssl-listen:PORT,bind=127.0.0.1,reuseaddr,fork,cert=..,key=..,cafile=.. tcp:localhost:BACKEND`.
/// Returns the TLS port.
pub fn socat_joiner(pki: &GenCerts, node: &str, backend_port: u16) -> (Proc, u16) {
    socat(
        "socat joiner",
        format!(
            "openssl-listen:0,bind=127.0.0.1,reuseaddr,fork,{}",
            pki.socat_opts(node)
        ),
        format!("tcp:localhost:{backend_port}"),
    )
}

/// The reference joiner's rsync daemon serving `datadir` (both modules),
/// started as the original does: `rsync --daemon --no-detach --address
/// localhost --port P --config C`. Returns the daemon and its port.
pub fn rsync_daemon(conf_dir: &Path, datadir: &Path) -> (Proc, u16) {
    let conf = conf_dir.join(format!("{MODULE}.conf"));
    // The original runs as the mysql user, so the daemon keeps its uid. Run as
    // root (as in CI containers) an rsync daemon would switch to "nobody" and
    // could not write the datadir, so keep root's identity explicitly.
    let identity = if is_root() { "uid = 0\ngid = 0\n" } else { "" };
    let text = format!(
        "pid file = {pid}\n{identity}use chroot = no\nread only = no\ntimeout = 300\n\
         [{MODULE}]\n    path = {data}\n[{MODULE}-log_dir]\n    path = {data}\n",
        pid = conf_dir.join(format!("{MODULE}.pid")).display(),
        data = datadir.display(),
    );
    std::fs::write(&conf, text).expect("write rsyncd.conf");
    let port = net::free_port();
    let mut cmd = Command::new("rsync");
    cmd.args([
        "--daemon",
        "--no-detach",
        "--address",
        "localhost",
        "--port",
    ])
    .arg(port.to_string())
    .arg("--config")
    .arg(&conf);
    let proc = Proc::spawn("rsync daemon", cmd);
    net::wait_listening(
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        READY,
        "rsync daemon",
    );
    (proc, port)
}

/// `sst-tunnel joiner` on an ephemeral loopback port; returns it and the
/// port from its `ready 127.0.0.1:PORT/rsync_tunnel_sst` line.
pub fn tunnel_joiner(pki: &GenCerts, node: &str, extra: &[&std::ffi::OsStr]) -> (Proc, u16) {
    let mut cmd = Command::new(binary());
    cmd.args(["joiner", "--address", "127.0.0.1:0"])
        .args(extra)
        .args(pki.tunnel_args(node));
    let mut proc = Proc::spawn("sst-tunnel joiner", cmd);
    let line = proc.stdout_line(READY);
    let port = line
        .strip_prefix("ready 127.0.0.1:")
        .and_then(|rest| rest.strip_suffix(&format!("/{MODULE}")))
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| {
            panic!("joiner's first stdout line {line:?} is not `ready 127.0.0.1:PORT/{MODULE}`")
        });
    assert_ne!(port, 0, "joiner reported port 0");
    (proc, port)
}

/// `sst-tunnel donor --relay-only` towards `127.0.0.1:joiner_port`; returns it
/// and the relay port from its `relay 127.0.0.1:PORT` line.
pub fn tunnel_relay(pki: &GenCerts, node: &str, joiner_port: u16) -> (Proc, u16) {
    let mut cmd = Command::new(binary());
    cmd.args(["donor", "--address"])
        .arg(format!("127.0.0.1:{joiner_port}"))
        .arg("--relay-only")
        .args(pki.tunnel_args(node));
    let mut proc = Proc::spawn("sst-tunnel relay", cmd);
    let line = proc.stdout_line(READY);
    let port = line
        .strip_prefix("relay 127.0.0.1:")
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| {
            panic!("relay's first stdout line {line:?} is not `relay 127.0.0.1:PORT`")
        });
    (proc, port)
}

/// `sst-tunnel donor` sending `datadir` with `state` to the joiner at
/// `127.0.0.1:joiner_port`, `extra` before the TLS options (for example
/// `--parallel 2`); the caller waits for its exit.
pub fn tunnel_donor(
    pki: &GenCerts,
    node: &str,
    joiner_port: u16,
    datadir: &Path,
    state: &str,
    extra: &[&str],
) -> Proc {
    let mut cmd = Command::new(binary());
    cmd.args(["donor", "--address"])
        .arg(format!("127.0.0.1:{joiner_port}"))
        .arg("--datadir")
        .arg(datadir)
        .args(["--state", state])
        .args(extra)
        .args(pki.tunnel_args(node));
    Proc::spawn("sst-tunnel donor", cmd)
}

fn rsync_client(name: &str, args: Vec<String>) {
    let mut cmd = Command::new("rsync");
    cmd.args(&args);
    let (status, _, stderr) = child::run(name, cmd, TRANSFER);
    assert!(
        status.success(),
        "{name}: rsync {} exited {status:?}; stderr:\n{stderr}",
        args.join(" ")
    );
}

fn sst_args(extra: &[&str]) -> Vec<String> {
    SST_FLAGS
        .iter()
        .chain(extra)
        .map(|s| (*s).to_owned())
        .collect()
}

/// The reference donor's transfer (sst-protocol.md §5.3 \[ref\]) from
/// `datadir` (which is also the InnoDB log directory) to the plaintext
/// tunnel entry `rsync://localhost:PORT`, with `marker` (the marker's
/// content) sent last.
pub fn reference_donor_sequence(datadir: &Path, port: u16, marker: &str) {
    let base = format!("rsync://localhost:{port}/{MODULE}");
    let data = format!("{}/", datadir.display());

    // 1. top level: directories, ibdata*, ib_lru_dump, the binlog tar.
    let mut args = sst_args(&["--dirs"]);
    for filter in [
        "- /lost+found",
        "- /.fseventsd",
        "- /.Trashes",
        "+ /wsrep_sst_binlog.tar",
        "+ /ib_lru_dump",
        "+ /ibdata*",
        "+ /*/",
        "- /*",
    ] {
        args.push("-f".to_owned());
        args.push(filter.to_owned());
    }
    args.push(data.clone());
    args.push(base.clone());
    rsync_client("rsync top level", args);

    // 2. the InnoDB redo logs into the log_dir module.
    let mut args = sst_args(&["--recursive", "-f", "+ /ib_logfile[0-9]*", "-f", "- **"]);
    args.push(data.clone());
    args.push(format!("{base}-log_dir"));
    rsync_client("rsync log_dir", args);

    // 3. every top-level directory but lost+found, as many at once as CPUs.
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(datadir)
        .expect("read datadir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir() && !p.ends_with("lost+found"))
        .collect();
    dirs.sort();
    let parallel = thread::available_parallelism().map_or(1, |n| n.get());
    for batch in dirs.chunks(parallel) {
        let runs: Vec<_> = batch
            .iter()
            .map(|dir| {
                let name = dir
                    .file_name()
                    .expect("dir name")
                    .to_string_lossy()
                    .into_owned();
                let mut args = sst_args(&["--recursive", "--exclude", "*/ib_logfile*"]);
                args.push(format!("{}/", dir.display()));
                args.push(format!("{base}/{name}"));
                thread::spawn(move || rsync_client(&format!("rsync {name}"), args))
            })
            .collect();
        for run in runs {
            if let Err(panic) = run.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }

    // 4. the marker, last, with --archive --checksum.
    let marker_dir = tempfile::tempdir().expect("marker dir");
    let marker_path = marker_dir.path().join(MARKER);
    std::fs::write(&marker_path, marker).expect("write marker");
    rsync_client(
        "rsync marker",
        vec![
            "--archive".to_owned(),
            "--quiet".to_owned(),
            "--checksum".to_owned(),
            marker_path.display().to_string(),
            base,
        ],
    );
}
