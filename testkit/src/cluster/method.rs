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
    /// `bin_dir/wsrep_sst_<method>`; the wrapper logs to `trace_log`.
    pub fn install(self, root: &Path, bin_dir: &Path, trace_log: &Path) {
        let libexec = root.join("libexec").join(self.label());
        create_dir(&libexec);
        create_dir(bin_dir);
        let target: PathBuf = match self {
            Method::SstTunnel => {
                let binary = libexec.join("sst-tunnel");
                copy(crate::project::binary(), &binary);
                let link = libexec.join(self.script_name());
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
