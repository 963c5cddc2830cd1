//! `sst-cluster-bench`: the real-cluster SST benchmark ([`testkit::cluster_bench`]), run by
//! `scripts/bench --cluster`, which builds it, reads its JSON lines and writes the report.
//!
//! ```text
//! sst-cluster-bench --bin PATH [--size BYTES] [--reps N] [--loopback] [--paths a,b]
//! ```
//! Exit status: 0 done, 1 failed (the reason on stderr), 2 bad arguments, 130 interrupted.
//! Everything it created is gone in every case.

use std::path::PathBuf;
use std::process::ExitCode;

use testkit::cluster::method::Method;
use testkit::cluster_bench::{interrupt, run, Network, Options};

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "sst-cluster-bench: {problem}\nusage: sst-cluster-bench --bin PATH [--size BYTES] \
         [--reps N] [--loopback] [--paths sst-tunnel,socat-reference]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut opts = Options {
        size: 1 << 30,
        reps: 3,
        network: Network::Namespaces,
        binary: PathBuf::new(),
        paths: vec![Method::SstTunnel, Method::SocatReference],
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let parsed: Result<(), String> = match arg.as_str() {
            "--bin" => value("--bin").map(|v| opts.binary = PathBuf::from(v)),
            "--size" => value("--size").and_then(|v| {
                v.parse()
                    .map(|n| opts.size = n)
                    .map_err(|e| format!("--size {v}: {e} (bytes)"))
            }),
            "--reps" => value("--reps").and_then(|v| match v.parse() {
                Ok(n) if n > 0 => {
                    opts.reps = n;
                    Ok(())
                }
                _ => Err(format!("--reps {v}: a positive number")),
            }),
            "--loopback" => {
                opts.network = Network::Loopback;
                Ok(())
            }
            "--paths" => value("--paths").and_then(|v| {
                v.split(',')
                    .map(|p| match p {
                        "sst-tunnel" => Ok(Method::SstTunnel),
                        "socat-reference" => Ok(Method::SocatReference),
                        other => Err(format!("--paths: unknown path {other:?}")),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(|paths| opts.paths = paths)
            }),
            other => Err(format!("unknown argument {other:?}")),
        };
        if let Err(problem) = parsed {
            return usage(&problem);
        }
    }
    if opts.binary.as_os_str().is_empty() {
        return usage("--bin is required (the sst-tunnel release binary)");
    }
    if !opts.binary.is_file() {
        return usage(&format!("--bin {}: no such file", opts.binary.display()));
    }
    interrupt::install();
    // A failure panics where it happens; unwinding runs the harness's Drops, which stop
    // both nodes, remove their directories and delete the namespaces.
    match std::panic::catch_unwind(|| run(&opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) if interrupt::interrupted() => {
            eprintln!("sst-cluster-bench: interrupted; everything it started is stopped");
            ExitCode::from(130)
        }
        Err(_) => ExitCode::FAILURE,
    }
}
