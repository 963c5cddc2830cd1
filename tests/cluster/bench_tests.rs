//! Fast tests of the socat reference peer on the [`bench`](testkit::cluster::bench) (no mariadbd, a few
//! seconds each, not ignored): a full SST handshake and transfer through real socat TLS and a
//! real rsync daemon, IST bypass, and the exit codes the cluster tests rely on.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use testkit::bytes::pattern;
use testkit::cluster::bench::{Bench, Side};
use testkit::cluster::{DONOR_IP, JOINER_IP};
use testkit::net;
use testkit::poll::{must, Probe};

const UUID: &str = "2f0f2f0f-1111-11f1-8000-0123456789ab";
const LINE: Duration = Duration::from_secs(30);

fn put(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {parent:?}: {e}"));
    }
    fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
}

fn s(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn joiner_args(side: &Side, port: u16, parent: i32) -> Vec<String> {
    [
        "--role",
        "joiner",
        "--address",
        &format!("{JOINER_IP}:{port}"),
        "--datadir",
        &format!("{}/", s(&side.datadir)),
        "--defaults-file",
        &s(&side.cnf),
        "--parent",
        &parent.to_string(),
        "--progress",
        "0",
        "--binlog",
        "mysql-bin",
        "--mysqld-args",
        &format!("--defaults-file={}", s(&side.cnf)),
    ]
    .map(String::from)
    .to_vec()
}

fn donor_args(side: &Side, port: u16, gtid: &str, domain: &str, bypass: bool) -> Vec<String> {
    let mut args: Vec<String> = [
        "--role",
        "donor",
        "--address",
        &format!("{JOINER_IP}:{port}/rsync_tunnel_sst"),
        "--local-port",
        "3306",
        "--socket",
        "/nonexistent/mysqld.sock",
        "--progress",
        "0",
        "--datadir",
        &format!("{}/", s(&side.datadir)),
        "--defaults-file",
        &s(&side.cnf),
        "--gtid",
        gtid,
        "--gtid-domain-id",
        domain,
        "--binlog",
        "mysql-bin",
    ]
    .map(String::from)
    .to_vec();
    if bypass {
        args.push("--bypass".into());
    }
    args.extend(["--mysqld-args".into(), "--wsrep-new-cluster".into()]);
    args
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn assert_bench_clean(bench: &Bench, ports: &[(std::net::Ipv4Addr, u16)]) {
    must(
        "bench: no fixture process left",
        Duration::from_secs(5),
        || {
            if bench.processes().is_empty() {
                Probe::Ready(())
            } else {
                Probe::Pending
            }
        },
    );
    for (ip, port) in ports {
        net::is_bindable(*ip, *port).unwrap();
    }
}

#[test]
fn fixture_transfers_a_datadir_through_socat_tls() {
    let bench = Bench::new();
    let port = net::free_port_on(&[JOINER_IP]);
    let relay = net::free_port_on(&[DONOR_IP]);
    let joiner = bench.side("joiner", &bench.tls_lines());
    let donor = bench.side(
        "donor",
        &format!("{}fixture-relay-port={relay}\n", bench.tls_lines()),
    );
    let shipped = [
        ("ibdata1", pattern(1 << 20, 1)),
        ("ib_logfile0", pattern(512 << 10, 2)),
        ("db1/t1.ibd", pattern(3 << 20, 3)),
        ("db1/t1.frm", pattern(1500, 4)),
        ("db2/t2.ibd", pattern(1 << 20, 5)),
        ("mysql-bin.000002", pattern(4000, 7)),
    ];
    for (name, bytes) in &shipped {
        put(&donor.datadir, name, bytes);
    }
    put(&donor.datadir, "mysql-bin.000001", &pattern(9000, 6));
    put(
        &donor.datadir,
        "mysql-bin.index",
        b"./mysql-bin.000001\n./mysql-bin.000002\n",
    );
    put(
        &donor.datadir,
        "stray.txt",
        b"top-level files other than ibdata* stay",
    );
    put(
        &joiner.datadir,
        "mysql-bin.000007",
        b"an old binlog of the joiner",
    );
    bench.fix_owner();

    let mut j = bench.run(
        &joiner.datadir,
        &refs(&joiner_args(&joiner, port, bench.parent_pid())),
    );
    assert_eq!(
        j.line("ready", LINE),
        format!("ready {JOINER_IP}:{port}/rsync_tunnel_sst")
    );
    assert!(joiner.datadir.join("sst_in_progress").exists());
    let gtid = format!("{UUID}:5");
    let mut d = bench.run(
        &donor.datadir,
        &refs(&donor_args(&donor, port, &gtid, "0", false)),
    );
    assert_eq!(d.line("flush", LINE), "flush tables");
    // Play the server: FTWRL done, state written via tmp + rename.
    let flushed = donor.datadir.join("tables_flushed.tmp");
    fs::write(&flushed, format!("{UUID}:7 0\n")).unwrap();
    fs::rename(&flushed, donor.datadir.join("tables_flushed")).unwrap();
    assert_eq!(d.line("continue", LINE), "continue");
    assert_eq!(d.line("done", LINE), format!("done {UUID}:7 0"));
    let status = d.wait(LINE);
    assert_eq!(status.code(), Some(0), "donor: {}", bench.stderr("donor"));
    assert_eq!(j.line("state", LINE), format!("{UUID}:7 0"));
    let status = j.wait(LINE);
    assert_eq!(status.code(), Some(0), "joiner: {}", bench.stderr("joiner"));

    for (name, bytes) in &shipped {
        let got = fs::read(joiner.datadir.join(name))
            .unwrap_or_else(|e| panic!("{name} did not arrive: {e}"));
        assert!(got == *bytes, "{name} arrived with different content");
    }
    let index = fs::read_to_string(joiner.datadir.join("mysql-bin.index")).unwrap();
    assert_eq!(index, "./mysql-bin.000002\n", "rebuilt binlog index");
    for absent in [
        "mysql-bin.000001",
        "mysql-bin.000007",
        "stray.txt",
        "wsrep_sst_binlog.tar",
        "rsync_tunnel_sst_complete",
        "rsync_tunnel_sst.conf",
        "rsync_tunnel_sst.pid",
        "rsync_tunnel_sst-socat.pid",
        "sst_in_progress",
    ] {
        assert!(
            !joiner.datadir.join(absent).exists(),
            "joiner datadir still has {absent}"
        );
    }
    for absent in [
        "wsrep_sst_binlog.tar",
        "tables_flushed",
        "rsync_tunnel_sst-socat.pid",
    ] {
        assert!(
            !donor.datadir.join(absent).exists(),
            "donor datadir still has {absent}"
        );
    }
    assert_bench_clean(
        &bench,
        &[(JOINER_IP, port), (DONOR_IP, port), (DONOR_IP, relay)],
    );
}

#[test]
fn fixture_ist_bypass_sends_only_the_marker() {
    let bench = Bench::new();
    let port = net::free_port_on(&[JOINER_IP]);
    let relay = net::free_port_on(&[DONOR_IP]);
    let joiner = bench.side("joiner", &bench.tls_lines());
    let donor = bench.side(
        "donor",
        &format!("{}fixture-relay-port={relay}\n", bench.tls_lines()),
    );
    put(&donor.datadir, "db1/t1.ibd", &pattern(4096, 9));
    bench.fix_owner();

    let mut j = bench.run(
        &joiner.datadir,
        &refs(&joiner_args(&joiner, port, bench.parent_pid())),
    );
    assert!(j.line("ready", LINE).starts_with("ready "));
    let gtid = format!("{UUID}:9");
    let mut d = bench.run(
        &donor.datadir,
        &refs(&donor_args(&donor, port, &gtid, "3", true)),
    );
    assert_eq!(d.line("continue (no flush for IST)", LINE), "continue");
    assert_eq!(d.line("done", LINE), format!("done {UUID}:9 3"));
    assert_eq!(
        d.wait(LINE).code(),
        Some(0),
        "donor: {}",
        bench.stderr("donor")
    );
    assert_eq!(j.line("state", LINE), format!("{UUID}:9 3"));
    assert_eq!(
        j.wait(LINE).code(),
        Some(0),
        "joiner: {}",
        bench.stderr("joiner")
    );
    assert!(
        !joiner.datadir.join("db1").exists(),
        "an IST bypass must not copy data"
    );
    assert_bench_clean(&bench, &[(JOINER_IP, port), (DONOR_IP, relay)]);
}

#[test]
fn fixture_joiner_exits_32_when_its_parent_dies() {
    let mut bench = Bench::new();
    let port = net::free_port_on(&[JOINER_IP]);
    let joiner = bench.side("joiner", &bench.tls_lines());
    let mut j = bench.run(
        &joiner.datadir,
        &refs(&joiner_args(&joiner, port, bench.parent_pid())),
    );
    assert!(j.line("ready", LINE).starts_with("ready "));
    let killed = Instant::now();
    bench.kill_parent();
    let status = j.wait(Duration::from_secs(5));
    assert_eq!(
        status.code(),
        Some(32),
        "joiner: {}",
        bench.stderr("joiner")
    );
    assert!(
        killed.elapsed() < Duration::from_secs(2),
        "joiner noticed its parent's death only after {:?}",
        killed.elapsed()
    );
    assert!(bench.stderr("joiner").contains("terminated unexpectedly"));
    assert!(!joiner.datadir.join("sst_in_progress").exists());
    assert_bench_clean(&bench, &[(JOINER_IP, port), (DONOR_IP, port)]);
}

#[test]
fn fixture_exit_codes_for_bad_setups() {
    let bench = Bench::new();
    let port = net::free_port_on(&[JOINER_IP]);

    // No tcert in [sst]: exit 3 before printing anything.
    let bare = bench.side("bare", "");
    let mut j = bench.run(
        &bare.datadir,
        &refs(&joiner_args(&bare, port, bench.parent_pid())),
    );
    assert_eq!(j.wait(LINE).code(), Some(3));
    assert!(bench.stderr("joiner").contains("tcert"));

    // A live helper from a previous SST: exit 114.
    let busy = bench.side("busy", &bench.tls_lines());
    put(
        &busy.datadir,
        "rsync_tunnel_sst-socat.pid",
        bench.parent_pid().to_string().as_bytes(),
    );
    bench.fix_owner();
    let mut j = bench.run(
        &busy.datadir,
        &refs(&joiner_args(&busy, port, bench.parent_pid())),
    );
    assert_eq!(j.wait(LINE).code(), Some(114), "{}", bench.stderr("joiner"));

    // Unknown role: exit 22.
    let mut r = bench.run(
        &busy.datadir,
        &[
            "--role",
            "bystander",
            "--address",
            "x",
            "--datadir",
            "/tmp/",
        ],
    );
    assert_eq!(r.wait(LINE).code(), Some(22));
    assert_bench_clean(&bench, &[(JOINER_IP, port)]);
}
