//! Which SST implementation a node runs, and how it is installed in the node's private
//! `<basedir>/bin` behind a trace wrapper.
//!
//! mariadbd prepends `<basedir>/bin` to its PATH, so each node gets its own basedir whose
//! `bin/` holds `wsrep_sst_<method>`: the first match on the PATH of every SST child of that
//! node. The donor runs the method named by the *joiner's* `wsrep_sst_method`, found on the
//! donor's own PATH, so each node's private bin decides what runs on that node.
//!
//! The file in `bin/` is a small `/bin/sh` wrapper that appends one line (implementation, pid,
//! PATH, argv) to `log/sst-trace.log` and then `exec`s the implementation, so the process tree
//! and pids are the same as with a direct install, and the test can prove what ran where.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The `sst-tunnel` binary [`Method::SstTunnel`] installs, when not the one of this build.
static BINARY: OnceLock<PathBuf> = OnceLock::new();

/// Makes [`Method::SstTunnel`] install `binary` instead of [`crate::project::binary`] (a
/// program outside `target/<profile>/deps/`, such as the cluster benchmark, names its release
/// build). Only the first call counts.
pub fn use_binary(binary: PathBuf) {
    let _first = BINARY.set(binary);
}

fn sst_tunnel_binary() -> &'static Path {
    match BINARY.get() {
        Some(path) => path,
        None => crate::project::binary(),
    }
}

/// The SST implementation installed on one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Our binary: a copy of `sst-tunnel` in the node dir, run through a symlink named
    /// `wsrep_sst_rsync_tunnel` (it dispatches on argv\[0\]).
    SstTunnel,
    /// The socat + rsync reference peer `tests/support/socat-sst/wsrep_sst_rsync_tunnel`.
    SocatReference,
}

impl Method {
    /// The `wsrep_sst_method` value that selects this implementation.
    pub fn sst_method(self) -> &'static str {
        match self {
            Method::SstTunnel | Method::SocatReference => "rsync_tunnel",
        }
    }

    /// Short name used in the trace log and in messages.
    pub fn label(self) -> &'static str {
        match self {
            Method::SstTunnel => "sst-tunnel",
            Method::SocatReference => "socat-reference",
        }
    }

    /// File name mariadbd looks for on PATH.
    pub fn script_name(self) -> String {
        format!("wsrep_sst_{}", self.sst_method())
    }

    /// Installs the implementation under `root/libexec/<label>/` and the trace wrapper as
    /// `bin_dir/wsrep_sst_<method>`; the wrapper logs to `trace_log`. Installing again (the
    /// same or the other method) replaces both, so a node can switch between SSTs.
    pub fn install(self, root: &Path, bin_dir: &Path, trace_log: &Path) {
        let libexec = root.join("libexec").join(self.label());
        create_dir(&libexec);
        create_dir(bin_dir);
        let target: PathBuf = match self {
            Method::SstTunnel => {
                let binary = libexec.join("sst-tunnel");
                copy(sst_tunnel_binary(), &binary);
                let link = libexec.join(self.script_name());
                if link.symlink_metadata().is_ok() {
                    fs::remove_file(&link).unwrap_or_else(|e| {
                        panic!("cannot replace symlink {}: {e}", link.display())
                    });
                }
                symlink("sst-tunnel", &link)
                    .unwrap_or_else(|e| panic!("cannot create symlink {}: {e}", link.display()));
                link
            }
            Method::SocatReference => {
                let fixture = crate::socat::reference_script();
                let script = libexec.join(self.script_name());
                copy(&fixture, &script);
                script
            }
        };
        let wrapper = bin_dir.join(self.script_name());
        let text = format!(
            "#!/bin/sh\n\
             # cluster-test trace wrapper: record what ran, then become it (same pid)\n\
             printf 'impl={label} pid=%s path=%s argv=%s\\n' \"$$\" \"$PATH\" \"$*\" >>'{log}'\n\
             exec '{target}' \"$@\"\n",
            label = self.label(),
            log = trace_log.display(),
            target = target.display(),
        );
        fs::write(&wrapper, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", wrapper.display()));
        make_executable(&wrapper);
    }
}

impl super::node::Node {
    /// Installs `method` in place of the node's SST implementation (no SST may be running):
    /// mariadbd looks the script up on its PATH for each SST, so the next one runs it.
    pub fn set_method(&mut self, method: Method) {
        let root = self.root().to_path_buf();
        method.install(
            &root,
            &root.join("base/bin"),
            &root.join("log/sst-trace.log"),
        );
        for sub in ["libexec", "base"] {
            let dir = root.join(sub);
            let status = std::process::Command::new("chown")
                .args(["-R", "mysql:mysql"])
                .arg(&dir)
                .status()
                .unwrap_or_else(|e| panic!("cannot run chown: {e}"));
            assert!(
                status.success(),
                "chown -R mysql:mysql {} failed",
                dir.display()
            );
        }
        self.method = method;
    }
}

fn create_dir(dir: &Path) {
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
}

fn copy(from: &Path, to: &Path) {
    assert!(
        from.exists(),
        "{} does not exist (build it first: cargo build)",
        from.display()
    );
    fs::copy(from, to)
        .unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", from.display(), to.display()));
    make_executable(to);
}

fn make_executable(path: &Path) {
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
}

/// One line of a node's SST trace log: one run of `wsrep_sst_<method>` on that node.
#[derive(Clone, Debug)]
pub struct TraceLine {
    /// Which implementation ran ([`Method::label`]).
    pub implementation: String,
    /// Its pid.
    pub pid: i32,
    /// The PATH it was started with.
    pub path: String,
    /// Its arguments, space-joined.
    pub argv: String,
}

impl TraceLine {
    /// The `--role` argument.
    pub fn role(&self) -> Option<&str> {
        let mut words = self.argv.split_whitespace();
        words.find(|w| *w == "--role")?;
        words.next()
    }

    /// Whether mariadbd passed `--bypass` (IST instead of SST).
    pub fn bypass(&self) -> bool {
        let ours = self.argv.split(" --mysqld-args").next().unwrap_or_default();
        ours.split_whitespace().any(|w| w == "--bypass")
    }
}

/// Parses the trace log written by the wrappers (missing file = no runs yet).
pub fn read_trace(trace_log: &Path) -> Vec<TraceLine> {
    let text = fs::read_to_string(trace_log).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let line = line.strip_prefix("impl=")?;
            let (implementation, line) = line.split_once(" pid=")?;
            let (pid, line) = line.split_once(" path=")?;
            let (path, argv) = line.split_once(" argv=")?;
            Some(TraceLine {
                implementation: implementation.to_string(),
                pid: pid.parse().ok()?,
                path: path.to_string(),
                argv: argv.to_string(),
            })
        })
        .collect()
}
