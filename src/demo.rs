//! `sst-tunnel demo`: a complete encrypted transfer on loopback. It makes a
//! throwaway CA and node certificates, a sample data directory (schema
//! directories, mixed file sizes, InnoDB/Aria system files), runs a joiner
//! and a donor in this process with the real rsync, checks that the
//! received tree is identical and prints a summary on stdout.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::cli::DemoArgs;
use crate::config::mycnf::OptionFiles;
use crate::config::ConfigArgs;
use crate::config::Settings;
use crate::donor;
use crate::error::Error;
use crate::exit::ExitCode;
use crate::joiner::{self, Backend, JoinerConfig, JoinerOutcome};
use crate::manual::say;
use crate::meter::Meter;
use crate::pki::{Ca, LeafSpec};
use crate::rsync::ServerDirs;
use crate::shutdown::Shutdown;
use crate::sst::address::SstAddress;
use crate::tls::TlsServer;

const STATE: &str = "5ee7d3a0-0000-4000-8000-00000000demo:42 0";

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

/// Runs the demo.
pub async fn run(args: DemoArgs, shutdown: Shutdown) -> Result<ExitCode, Error> {
    let tmp = tempfile::Builder::new()
        .prefix("sst-tunnel-demo.")
        .tempdir()
        .map_err(io_err(
            "create a temporary directory in",
            &std::env::temp_dir(),
        ))?;
    let root = tmp.path().to_path_buf();
    let certs = root.join("certs");
    let (src, dst) = (root.join("donor-datadir"), root.join("joiner-datadir"));
    for d in [&certs, &src, &dst] {
        std::fs::create_dir_all(d).map_err(io_err("create", d))?;
    }
    let pki = Error::Pki;
    let ca = Ca::new("sst-tunnel demo CA").map_err(pki)?;
    let ca_file = ca.write(&certs, "ca").map_err(pki)?;
    let node = |cn: &str| LeafSpec::new(cn).dns("localhost").ip("127.0.0.1");
    let joiner_files = ca
        .issue(&node("joiner.demo"))
        .map_err(pki)?
        .write(&certs, "joiner")
        .map_err(pki)?;
    let donor_files = ca
        .issue(&node("donor.demo"))
        .map_err(pki)?
        .write(&certs, "donor")
        .map_err(pki)?;
    let bytes = make_datadir(&src, args.size_mib.max(1) * 1024 * 1024)?;
    say(&format!(
        "demo: {} of sample data in {}",
        human(bytes),
        src.display()
    ))?;

    let settings_for = |cert: &Path, key: &Path| {
        let cli = ConfigArgs {
            tca: Some(ca_file.clone()),
            tcert: Some(cert.to_path_buf()),
            tkey: Some(key.to_path_buf()),
            no_defaults: true,
            ..ConfigArgs::default()
        };
        Settings::resolve(&cli, OptionFiles::default())
    };
    let joiner_settings = settings_for(&joiner_files.cert, &joiner_files.key)?;
    let donor_settings = settings_for(&donor_files.cert, &donor_files.key)?;

    // Joiner: a TLS listener on an ephemeral loopback port, rsync per connection.
    let joiner_meter = Arc::new(Meter::new());
    let modules = ServerDirs::with_log_dir(dst.clone(), dst.clone());
    let conf = Arc::new(joiner::prepare_datadir(&modules)?);
    let (listener, bound) = joiner::bind_listener(&SstAddress::parse("127.0.0.1:0")?).await?;
    let port = bound.port();
    let jcfg = JoinerConfig::new(
        &joiner_settings,
        Arc::new(TlsServer::new(&joiner_settings.tls)?),
        Backend::Rsync(conf.clone()),
        Some(dst.clone()),
        &joiner_meter,
    );
    let joiner_task = tokio::spawn(joiner::run_joiner(jcfg, listener, shutdown.token().clone()));

    // Donor: relay on loopback, preflight handshake, the SST rsync sequence.
    let started = Instant::now();
    let donor_meter = Arc::new(Meter::new());
    let dcfg = Arc::new(donor::donor_config(
        &donor_settings,
        &format!("127.0.0.1:{port}"),
        &donor_meter,
    )?);
    let relay = donor::Relay::start(dcfg.clone(), None, shutdown.token()).await?;
    let peer = donor::preflight(&dcfg, shutdown.token()).await?;
    let src_dirs = ServerDirs::with_log_dir(src.clone(), src.clone());
    let plan = donor::transfer_plan(&donor_settings, src_dirs, relay.addr, None)?;
    let sent = relay.send(&plan, STATE, shutdown.token()).await;
    relay.finish().await?;
    sent?;
    let outcome = match joiner_task.await {
        Ok(r) => r?,
        Err(e) => return Err(Error::Task(e)),
    };
    let elapsed = started.elapsed();
    let state = match outcome {
        JoinerOutcome::Complete(state) => state,
        JoinerOutcome::Stopped => return Ok(ExitCode::Interrupted),
    };
    drop(conf);
    std::fs::remove_file(dst.join(crate::rsync::MARKER))
        .map_err(io_err("remove the marker", &dst.join(crate::rsync::MARKER)))?;

    let mismatches = compare_trees(&src, &dst)?;
    let moved = joiner_meter.inbound();
    let rate = moved as f64 / elapsed.as_secs_f64().max(1e-6) / 1e6;
    say(&format!("demo: joiner received state {state:?}"))?;
    say(&format!(
        "demo: {} of rsync traffic in {:.2} s = {rate:.0} MB/s through {} connections",
        human(moved),
        elapsed.as_secs_f64(),
        joiner_meter.connections()
    ))?;
    say(&format!("demo: TLS {} with {}", peer.protocol, peer.cipher))?;
    say(&format!(
        "demo: donor verified the joiner as {:?} (names {}); the joiner required the donor's certificate CN=donor.demo from the same CA",
        peer.subject,
        peer.names.join(", ")
    ))?;
    if mismatches.is_empty() {
        say("demo: OK, the received tree is identical to the donor's")?;
    } else {
        for m in &mismatches {
            say(&format!("demo: MISMATCH {m}"))?;
        }
    }
    if args.keep {
        let kept = tmp.keep();
        say(&format!("demo: kept {}", kept.display()))?;
    }
    Ok(if mismatches.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::TransferFailed
    })
}

fn human(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1048576.0)
}

/// A small deterministic generator: incompressible bytes without a dependency.
struct Noise(u64);

impl Noise {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let b = self.0.to_le_bytes();
            chunk.copy_from_slice(&b[..chunk.len()]);
        }
    }
}

/// Writes a data directory of about `total` bytes that looks like MariaDB's:
/// system tablespace, redo log, undo and Aria files, four schemas with a few
/// large tables and many small files. Returns the bytes written.
fn make_datadir(dir: &Path, total: u64) -> Result<u64, Error> {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut written = 0u64;
    let mut file = |path: PathBuf, size: u64| -> Result<(), Error> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err("create", parent))?;
        }
        let mut f = std::fs::File::create(&path).map_err(io_err("create", &path))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            noise.fill(&mut buf[..n]);
            f.write_all(&buf[..n]).map_err(io_err("write", &path))?;
            left -= n as u64;
        }
        written += size;
        Ok(())
    };
    file(dir.join("ibdata1"), total / 5)?;
    file(dir.join("ib_logfile0"), total / 20)?;
    file(dir.join("undo001"), total / 50)?;
    file(dir.join("aria_log_control"), 52)?;
    file(dir.join("aria_log.00000001"), 8192)?;
    let schemas = ["shop", "billing", "analytics", "mysql"];
    let per_schema = (total - total / 5 - total / 20 - total / 50) / schemas.len() as u64;
    for (i, schema) in schemas.iter().enumerate() {
        let d = dir.join(schema);
        // Two large tables, then many small ones (frm-sized).
        file(d.join("orders.ibd"), per_schema / 2)?;
        file(d.join("items.ibd"), per_schema / 3)?;
        let small = 40 + i * 20;
        let rest = per_schema - per_schema / 2 - per_schema / 3;
        for t in 0..small {
            file(d.join(format!("t{t:03}.frm")), (rest / small as u64).max(1))?;
        }
        file(d.join("db.opt"), 67)?;
    }
    std::fs::create_dir_all(dir.join("empty_schema"))
        .map_err(io_err("create", &dir.join("empty_schema")))?;
    Ok(written)
}

/// Differences between two trees (paths, types, sizes, bytes).
fn compare_trees(a: &Path, b: &Path) -> Result<Vec<String>, Error> {
    let list = |root: &Path| -> Result<Vec<PathBuf>, Error> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).map_err(io_err("list", &d))? {
                let e = e.map_err(io_err("list", &d))?;
                let p = e.path();
                if p.is_dir() {
                    stack.push(p.clone());
                }
                out.push(p.strip_prefix(root).unwrap_or(&p).to_path_buf());
            }
        }
        out.sort();
        Ok(out)
    };
    let (la, lb) = (list(a)?, list(b)?);
    let mut diffs: Vec<String> = Vec::new();
    for p in la.iter().filter(|p| !lb.contains(p)) {
        diffs.push(format!("missing on the joiner: {}", p.display()));
    }
    for p in lb.iter().filter(|p| !la.contains(p)) {
        diffs.push(format!("extra on the joiner: {}", p.display()));
    }
    for p in la.iter().filter(|p| lb.contains(p)) {
        let (fa, fb) = (a.join(p), b.join(p));
        if fa.is_file() {
            let same = std::fs::read(&fa).ok() == std::fs::read(&fb).ok();
            if !same {
                diffs.push(format!("content differs: {}", p.display()));
            }
        }
    }
    Ok(diffs)
}
