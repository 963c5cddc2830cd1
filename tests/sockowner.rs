//! `sockowner::uid_of_peer` against real loopback connections: from this
//! process (our uid, IPv4, IPv6 and IPv4-mapped on a dual-stack listener)
//! and from a process running as another uid (`setpriv`, uid 65534).

#![allow(clippy::expect_used)]

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use sst_tunnel::sockowner::uid_of_peer;

/// Our uid, as the owner of our own /proc entry (no unsafe needed).
fn our_uid() -> u32 {
    std::fs::metadata("/proc/self").expect("/proc/self").uid()
}

fn check_self(listen: &str, connect_ip: &str) {
    let l = TcpListener::bind(listen).expect("bind");
    let port = l.local_addr().expect("addr").port();
    let target: SocketAddr = format!("{connect_ip}:{port}").parse().expect("addr");
    let _c = TcpStream::connect(target).expect("connect");
    let (s, peer) = l.accept().expect("accept");
    let local = s.local_addr().expect("local");
    assert_eq!(
        uid_of_peer(peer, local).expect("tables"),
        Some(our_uid()),
        "peer {peer} local {local}"
    );
    // Our own accepted socket is not "the peer's" socket.
    assert_eq!(
        uid_of_peer(local, "127.0.0.1:1".parse().expect("addr")).expect("tables"),
        None
    );
}

#[test]
fn connection_from_this_process_is_ours_ipv4() {
    check_self("127.0.0.1:0", "127.0.0.1");
}

#[test]
fn connection_from_this_process_is_ours_ipv6() {
    check_self("[::1]:0", "[::1]");
}

#[test]
fn ipv4_client_of_a_dual_stack_listener_is_found() {
    check_self("[::]:0", "127.0.0.1");
}

#[test]
fn unknown_connection_is_none() {
    let a: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let b: SocketAddr = "127.0.0.1:7".parse().expect("addr");
    assert_eq!(uid_of_peer(a, b).expect("tables"), None);
}

#[test]
fn connection_from_another_uid_reports_that_uid() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{port}; read -r _ <&3");
    let mut child = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "bash",
            "-c",
        ])
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("setpriv not runnable (apt-get install util-linux)");
    let (mut s, peer) = l.accept().expect("accept");
    let local = s.local_addr().expect("local");
    let uid = uid_of_peer(peer, local).expect("tables");
    s.write_all(b"bye\n").expect("write");
    drop(s);
    let status = child.wait().expect("wait");
    assert_eq!(uid, Some(65534), "peer {peer}");
    assert!(status.success(), "setpriv child: {status}");
}
