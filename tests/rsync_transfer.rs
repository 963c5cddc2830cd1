//! The donor's transfer sequence against a joiner-side `rsync --server
//! --daemon` per connection, with REAL rsync on both ends: a test listener
//! on 127.0.0.1:0 pumps each accepted socket into `spawn_server` with
//! `relay::pump`, exactly the joiner's data path minus TLS.
//!
//! Checked: the trees match (content, size, mode, symlinks, empty dirs, a
//! schema with many files), redo logs land in the log dir, undo and Aria
//! files arrive, stale joiner files are deleted while the joiner's own root
//! files survive, the marker holds the state line; failures map to the
//! documented exit codes; cancellation and drop leave no rsync behind; the
//! daemon configuration is 0600 and removed.

#![allow(clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sst_tunnel::relay::{pump, RelayOpts};
use sst_tunnel::rsync::client::{send_data, send_marker};
use sst_tunnel::rsync::daemon::{spawn_server, DaemonConfig, CONFIG_FILE};
use sst_tunnel::rsync::ServerDirs;
use sst_tunnel::rsync::{RsyncError, MARKER};
use testkit::poll::{eventually, within};
use testkit::procs::{group_members, with_cmdline};
use testkit::rsync::{
    check_joiner, dirs, donor_tree, plan, rsync_path, seed_joiner, write, STATE, STEP,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Bound for an rsync process to appear or to be gone.
const UNTIL: Duration = Duration::from_secs(10);

/// A joiner without TLS: accept, spawn the daemon, pump, wait.
struct Joiner {
    addr: std::net::SocketAddr,
    token: CancellationToken,
    errors: Arc<Mutex<Vec<String>>>,
    conf: Arc<DaemonConfig>,
    task: tokio::task::JoinHandle<()>,
}

async fn joiner(modules: ServerDirs) -> Joiner {
    let conf = Arc::new(DaemonConfig::write(&modules).expect("daemon config"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let token = CancellationToken::new();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let (t, e, c) = (token.clone(), errors.clone(), conf.clone());
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                () = t.cancelled() => break,
            };
            let (tcp, _) = accepted.expect("accept");
            let (e, c) = (e.clone(), c.clone());
            // Connections drain on their own: stopping only stops accepting.
            let t = CancellationToken::new();
            conns.spawn(async move {
                let mut server = spawn_server(&c).expect("spawn server");
                let pumped = pump(tcp, &mut server, &RelayOpts::default(), &t).await;
                if let Err(err) = pumped {
                    e.lock().expect("lock").push(format!("pump: {err}"));
                }
                if let Err(err) = server.wait().await {
                    e.lock().expect("lock").push(format!("server: {err}"));
                }
            });
        }
        while conns.join_next().await.is_some() {}
    });
    Joiner {
        addr,
        token,
        errors,
        conf,
        task,
    }
}

impl Joiner {
    async fn stop(self) -> Vec<String> {
        self.token.cancel();
        within(STEP, self.task).await.expect("joiner task");
        let errors = self.errors.lock().expect("lock").clone();
        errors
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_transfer_matches_the_donor_tree() {
    let d = dirs();
    donor_tree(&d.d_data, &d.d_log);
    seed_joiner(&d);

    let j = joiner(ServerDirs::with_log_dir(d.j_data.clone(), d.j_log.clone())).await;
    let p = plan(&d, j.addr);
    let token = CancellationToken::new();
    let summary = within(STEP, send_data(&p, &token))
        .await
        .expect("send_data");
    assert_eq!(summary.directories, 3, "{summary:?}");
    assert!(!d.j_data.join(MARKER).exists(), "marker before send_marker");
    within(STEP, send_marker(&p, STATE, &token))
        .await
        .expect("send_marker");
    let conf_path = j.conf.path().to_path_buf();
    let errors = j.stop().await;
    assert!(errors.is_empty(), "joiner errors: {errors:?}");

    assert!(!conf_path.exists(), "daemon config outlived the joiner");
    check_joiner(&d);
}
#[tokio::test]
async fn unreachable_relay_is_exit_255_with_rsync_stderr() {
    let d = dirs();
    donor_tree(&d.d_data, &d.d_log);
    // A port with nothing behind it: the first step (the top level) fails.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let err = within(STEP, send_data(&plan(&d, addr), &CancellationToken::new()))
        .await
        .expect_err("must fail");
    assert!(
        matches!(&err, RsyncError::Failed { step, status, .. } if step == "top level" && status.code() == Some(10)),
        "{err:?}"
    );
    assert_eq!(err.exit_code().code(), 255);
    assert!(err.to_string().contains("Connection refused"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_module_is_a_daemon_refusal() {
    let d = dirs();
    donor_tree(&d.d_data, &d.d_log);
    let j = joiner(ServerDirs::with_log_dir(d.j_data.clone(), d.j_log.clone())).await;
    let mut cmd = tokio::process::Command::new(rsync_path());
    cmd.arg("--dirs")
        .arg(format!("{}/", d.d_data.display()))
        .arg(format!("rsync://{}/no_such_module/", j.addr))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let out = within(STEP, cmd.output()).await.expect("rsync");
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unknown module"));
    j.stop().await;
}

/// A fake rsync that exits with `code`.
fn fake_rsync(dir: &Path, code: i32) -> PathBuf {
    let p = dir.join(format!("rsync-exit-{code}"));
    write(
        &p,
        format!("#!/bin/sh\necho fake rsync failing >&2\nexit {code}\n").as_bytes(),
        0o755,
    );
    p
}

#[tokio::test]
async fn rsync_exit_codes_map_like_the_original() {
    let d = dirs();
    let relay = "127.0.0.1:9".parse().expect("addr");
    for (rsync_code, ours) in [(12, 71), (22, 12), (23, 255), (1, 255)] {
        let mut p = plan(&d, relay);
        p.rsync = fake_rsync(d._tmp.path(), rsync_code);
        let err = within(STEP, send_data(&p, &CancellationToken::new()))
            .await
            .expect_err("fails");
        assert_eq!(err.exit_code().code(), ours, "rsync {rsync_code}: {err}");
        assert!(err.to_string().contains("fake rsync failing"), "{err}");
        let err = within(STEP, send_marker(&p, "u:1 0", &CancellationToken::new()))
            .await
            .expect_err("fails");
        assert_eq!(
            err.exit_code().code(),
            ours,
            "marker, rsync {rsync_code}: {err}"
        );
    }
}

#[tokio::test]
async fn marker_line_must_be_one_line() {
    let d = dirs();
    let p = plan(&d, "127.0.0.1:9".parse().expect("addr"));
    let err = send_marker(&p, "a\nb", &CancellationToken::new())
        .await
        .expect_err("rejected");
    assert_eq!(err.exit_code().code(), 22);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_kills_the_running_rsync() {
    let d = dirs();
    donor_tree(&d.d_data, &d.d_log);
    // A "joiner" that accepts and never answers: rsync waits for a greeting.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let needle = format!("rsync://{addr}/");
    let token = CancellationToken::new();
    let p = plan(&d, addr);
    let t = token.clone();
    let run = tokio::spawn(async move { send_data(&p, &t).await });
    eventually("rsync to start", UNTIL, || {
        !with_cmdline(&needle).is_empty()
    })
    .await;
    token.cancel();
    let err = within(STEP, run)
        .await
        .expect("join")
        .expect_err("cancelled");
    assert!(matches!(err, RsyncError::Cancelled { .. }), "{err:?}");
    assert_eq!(err.exit_code().code(), 3);
    eventually("rsync to be gone", UNTIL, || {
        with_cmdline(&needle).is_empty()
    })
    .await;
    holder.abort();
}

#[tokio::test]
async fn dropped_or_killed_server_leaves_no_process() {
    let d = dirs();
    let conf = DaemonConfig::write(&ServerDirs::with_log_dir(d.j_data.clone(), d.j_log.clone()))
        .expect("config");
    let server = spawn_server(&conf).expect("spawn");
    let pgid = server.pid();
    assert!(!group_members(pgid).is_empty(), "server not running");
    drop(server);
    eventually("dropped server's group to be gone", UNTIL, || {
        group_members(pgid).is_empty()
    })
    .await;

    let mut server = spawn_server(&conf).expect("spawn");
    let pgid = server.pid();
    within(STEP, server.kill()).await.expect("kill");
    assert!(
        group_members(pgid).is_empty(),
        "killed server's group still alive"
    );
}

#[tokio::test]
async fn daemon_config_is_private_and_removed() {
    let d = dirs();
    let modules = ServerDirs::with_log_dir(d.j_data.clone(), d.j_log.clone());
    let before: Vec<_> = std::fs::read_dir(&d.j_data)
        .expect("ls")
        .flatten()
        .collect();
    let conf = DaemonConfig::write(&modules).expect("config");
    let path = conf.path().to_path_buf();
    let dir = conf.private_dir().to_path_buf();
    // In its own directory (0700), outside both modules.
    assert_eq!(path, dir.join(CONFIG_FILE));
    assert!(!dir.starts_with(&d.j_data) && !dir.starts_with(&d.j_log));
    let dir_mode = std::fs::metadata(&dir).expect("stat").permissions().mode() & 0o7777;
    assert_eq!(dir_mode, 0o700, "directory mode {dir_mode:o}");
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(
        text.contains(&format!("path = {}", d.j_data.display())),
        "{text}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("ls")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers, [CONFIG_FILE], "temporary files left behind");
    let after: Vec<_> = std::fs::read_dir(&d.j_data)
        .expect("ls")
        .flatten()
        .collect();
    assert_eq!(
        after.len(),
        before.len(),
        "a file of ours in the data directory"
    );
    drop(conf);
    assert!(!dir.exists(), "removed on drop");

    let conf = DaemonConfig::write(&modules).expect("config");
    let dir = conf.private_dir().to_path_buf();
    conf.remove().expect("remove");
    assert!(!dir.exists(), "removed by remove()");
}
