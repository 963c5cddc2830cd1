//! `child::ChildCommand` / `Supervised` with real processes: exit status and
//! stderr tail, stdout never inherited, leaked descriptors not passed on,
//! the whole process group killed by `kill()` and by `Drop`, `SIGKILL` after
//! the grace period (at once with `kill_now()`), the parent-death signal,
//! and pipes larger than the kernel's default.

#![allow(clippy::expect_used)]

use std::time::{Duration, Instant};

use sst_tunnel::child::{ChildCommand, Output};
use testkit::poll::{eventually, until, within};
use testkit::procs::alive;
use tokio::io::AsyncReadExt;

/// Bound of every await here.
const STEP: Duration = Duration::from_secs(20);

/// Waits until `pid` is gone (no /proc entry, or only a zombie).
async fn wait_gone(pid: u32) {
    eventually(
        &format!("process {pid} to be gone"),
        Duration::from_secs(10),
        || !alive(pid),
    )
    .await;
}

fn sh(script: &str) -> ChildCommand {
    let mut c = ChildCommand::new("sh", "sh");
    c.arg("-c").arg(script);
    c
}

#[tokio::test]
async fn exit_status_and_stderr_tail() {
    let mut c = sh("echo one >&2; printf 'two\\r\\nthree' >&2; exit 3");
    c.stdout(Output::Null);
    let mut child = c.spawn().expect("spawn");
    let exit = within(STEP, child.wait()).await.expect("wait");
    assert_eq!(exit.status.code(), Some(3));
    assert_eq!(exit.stderr_tail, "one\ntwo\nthree");
}

#[tokio::test]
async fn stderr_tail_is_bounded() {
    let mut c = sh("i=0; while [ $i -lt 100 ]; do echo line$i >&2; i=$((i+1)); done");
    let mut child = c.stdout(Output::Null).spawn().expect("spawn");
    let exit = within(STEP, child.wait()).await.expect("wait");
    let lines: Vec<&str> = exit.stderr_tail.lines().collect();
    assert_eq!(lines.len(), sst_tunnel::child::TAIL_LINES);
    assert_eq!(lines.last(), Some(&"line99"));
}

#[tokio::test]
async fn piped_stdout_and_stdin() {
    let mut c = ChildCommand::new("cat", "cat");
    c.stdin_piped().stdout(Output::Piped);
    let mut child = c.spawn().expect("spawn");
    let mut stdin = child.take_stdin().expect("stdin");
    let mut stdout = child.take_stdout().expect("stdout");
    tokio::io::AsyncWriteExt::write_all(&mut stdin, b"ping")
        .await
        .expect("write");
    drop(stdin);
    let mut got = String::new();
    within(STEP, stdout.read_to_string(&mut got))
        .await
        .expect("read");
    assert_eq!(got, "ping");
    assert!(within(STEP, child.wait())
        .await
        .expect("wait")
        .status
        .success());
}

/// The pipes handed out are larger than the kernel's 64 KiB default, so
/// the joiner's relay is not woken every 64 KiB.
#[tokio::test]
async fn child_pipes_are_enlarged() {
    let mut c = ChildCommand::new("cat", "cat");
    c.stdin_piped().stdout(Output::Piped);
    let mut child = c.spawn().expect("spawn");
    let stdin = child.take_stdin().expect("stdin");
    let stdout = child.take_stdout().expect("stdout");
    for (name, size) in [
        ("stdin", rustix::pipe::fcntl_getpipe_size(&stdin)),
        ("stdout", rustix::pipe::fcntl_getpipe_size(&stdout)),
    ] {
        let size = size.expect("F_GETPIPE_SZ");
        assert!(size > 64 * 1024, "{name} pipe holds only {size} bytes");
    }
    drop(stdin);
    assert!(within(STEP, child.wait())
        .await
        .expect("wait")
        .status
        .success());
}

/// Prints the shell's own fd 1 target on stderr (the shell must not exec
/// readlink in its place, or the redirection would change what it sees).
const FD1: &str = "x=$(readlink /proc/$$/fd/1); echo \"$x\" >&2";

#[tokio::test]
async fn stdout_is_never_ours() {
    let ours = std::fs::read_link("/proc/self/fd/2").expect("our stderr");
    let mut c = sh(FD1);
    let mut child = c.stdout(Output::Stderr).spawn().expect("spawn");
    let exit = within(STEP, child.wait()).await.expect("wait");
    assert_eq!(exit.stderr_tail, ours.to_string_lossy());

    let mut c = sh(FD1);
    let mut child = c.stdout(Output::Null).spawn().expect("spawn");
    let exit = within(STEP, child.wait()).await.expect("wait");
    assert_eq!(exit.stderr_tail, "/dev/null");
}

#[tokio::test]
async fn leaked_descriptors_are_not_inherited() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().expect("tempdir");
    let leaked = std::fs::File::create(dir.path().join("grastate.dat")).expect("file");
    let fd = leaked.as_raw_fd();
    // Simulate mariadbd's leak: clear close-on-exec on a descriptor.
    rustix::io::fcntl_setfd(&leaked, rustix::io::FdFlags::empty()).expect("clear FD_CLOEXEC");
    let mut c = sh("ls /proc/$$/fd >&2");
    let mut child = c.stdout(Output::Null).spawn().expect("spawn");
    let exit = within(STEP, child.wait()).await.expect("wait");
    let fds: Vec<&str> = exit.stderr_tail.lines().collect();
    assert!(
        !fds.contains(&fd.to_string().as_str()),
        "fd {fd} leaked: {fds:?}"
    );
    assert!(fds.contains(&"2"), "{fds:?}");
    drop(leaked);
}

/// Starts `sh` that runs a background `sleep` and prints its pid.
async fn with_grandchild(script: &str) -> (sst_tunnel::child::Supervised, u32) {
    let mut c = sh(script);
    c.stdout(Output::Piped);
    let mut child = c.spawn().expect("spawn");
    let mut out = child.take_stdout().expect("stdout");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while within(STEP, out.read(&mut byte)).await.expect("read") == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let pid = String::from_utf8(line)
        .expect("utf8")
        .trim()
        .parse()
        .expect("grandchild pid");
    (child, pid)
}

#[tokio::test]
async fn kill_takes_the_whole_group() {
    let (mut child, grandchild) = with_grandchild("sleep 1000 & echo $!; wait").await;
    let leader = child.pid();
    assert!(alive(grandchild));
    let exit = within(STEP, child.kill()).await.expect("kill");
    assert!(!exit.status.success());
    wait_gone(leader).await;
    wait_gone(grandchild).await;
}

#[tokio::test]
async fn drop_takes_the_whole_group() {
    let (child, grandchild) = with_grandchild("sleep 1000 & echo $!; wait").await;
    let leader = child.pid();
    drop(child);
    wait_gone(leader).await;
    wait_gone(grandchild).await;
}

#[tokio::test]
async fn sigterm_ignored_means_sigkill_after_the_grace() {
    use std::os::unix::process::ExitStatusExt;
    let (mut child, grandchild) =
        with_grandchild("trap '' TERM; sleep 1000 & echo $!; wait; wait").await;
    let start = Instant::now();
    let exit = within(STEP, child.kill()).await.expect("kill");
    assert_eq!(
        exit.status.signal(),
        Some(libc::SIGKILL),
        "{:?}",
        exit.status
    );
    assert!(start.elapsed() >= sst_tunnel::child::TERM_GRACE);
    wait_gone(grandchild).await;
}

#[tokio::test]
async fn kill_now_takes_the_group_without_the_grace() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let termed = dir.path().join("termed");
    let script = format!(
        "trap 'touch {}' TERM; sleep 1000 & echo $!; wait; wait",
        termed.display()
    );
    let (mut child, grandchild) = with_grandchild(&script).await;
    let exit = within(STEP, child.kill_now()).await.expect("kill_now");
    assert_eq!(
        exit.status.signal(),
        Some(libc::SIGKILL),
        "{:?}",
        exit.status
    );
    wait_gone(grandchild).await;
    // No SIGTERM was ever sent: the handler that would mark it never ran.
    assert!(!termed.exists(), "kill_now sent SIGTERM first");
}

#[test]
fn child_dies_with_the_thread_that_spawned_it() {
    let pid = std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut c = ChildCommand::new("sleep", "sleep");
            c.arg("1000");
            let child = c.spawn().expect("spawn");
            let pid = child.pid();
            // Leak it: only the parent-death signal can end it now.
            std::mem::forget(child);
            pid
        })
    })
    .join()
    .expect("thread");
    assert!(
        until(Duration::from_secs(10), || !alive(pid)),
        "sleep {pid} outlived its thread"
    );
}

#[tokio::test]
async fn missing_program_is_a_spawn_error() {
    let err = ChildCommand::new("nope", "/nonexistent/program")
        .spawn()
        .expect_err("must fail");
    assert!(err.to_string().contains("cannot start nope"), "{err}");
}
