//! The test's world: one temp tree holding the private bin dir (the
//! `wsrep_sst_rsync_tunnel` symlink, first on PATH as mariadbd prepends its
//! basedir), the PKI, and one directory per node with its datadir, my.cnf and
//! error log; plus the sacrificial processes whose pids stand in for mariadbd.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use sst_tunnel::pki::LeafFiles;

use crate::pki::Issuer;
use crate::project::binary;

/// The method name mariadbd runs for `wsrep_sst_method=rsync_tunnel`.
pub const METHOD: &str = "wsrep_sst_rsync_tunnel";

/// A temp tree with a bin dir, a trusted CA and a rogue CA.
pub struct World {
    /// Keeps the tree alive; removed on drop.
    pub tmp: tempfile::TempDir,
    /// The tree's root (canonical).
    pub root: PathBuf,
    /// The private bin dir holding the symlink.
    pub bin: PathBuf,
    /// The CA both nodes trust.
    pub ca: Issuer,
    /// A CA nobody trusts.
    pub rogue: Issuer,
}

impl World {
    /// A fresh world.
    pub fn new() -> World {
        let tmp = tempfile::Builder::new()
            .prefix("sst-method-")
            .tempdir()
            .unwrap();
        let root = fs::canonicalize(tmp.path()).unwrap();
        let bin = root.join("bin");
        fs::create_dir(&bin).unwrap();
        symlink(binary(), bin.join(METHOD)).unwrap();
        let pki = root.join("pki");
        let ca = Issuer::new(&pki, "trusted");
        let rogue = Issuer::new(&pki, "rogue");
        World {
            tmp,
            root,
            bin,
            ca,
            rogue,
        }
    }

    /// PATH as mariadbd leaves it: its bin dir first.
    pub fn path_env(&self) -> OsString {
        let mut p = OsString::from(&self.bin);
        p.push(":");
        p.push(std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()));
        p
    }

    /// A node with an empty datadir and a my.cnf whose `[sst]` names a
    /// certificate from the trusted CA.
    pub fn node(&self, name: &str) -> Node {
        let cert = self.ca.issue_loopback(name);
        self.node_with_cert(name, cert)
    }

    /// A node using the given certificate.
    pub fn node_with_cert(&self, name: &str, cert: LeafFiles) -> Node {
        let dir = self.root.join(name);
        let datadir = dir.join("data");
        fs::create_dir_all(&datadir).unwrap();
        let node = Node {
            name: name.to_string(),
            cnf: dir.join(format!("{name}.cnf")),
            log: dir.join(format!("{name}.err")),
            socket: dir.join("mysqld.sock"),
            dir,
            datadir,
            env: Vec::new(),
            sst: vec![
                ("tca".into(), self.ca.file.display().to_string()),
                ("tcert".into(), cert.cert.display().to_string()),
                ("tkey".into(), cert.key.display().to_string()),
                // Bounded waits so that a broken binary fails the test
                // instead of hanging it; long enough for a loaded host.
                ("sst-initial-timeout".into(), "60".into()),
                ("sst-connect-retry".into(), "20".into()),
            ],
        };
        node.write_cnf();
        node
    }

    /// A sacrificial process standing in for mariadbd (`--parent`).
    pub fn parent(&self) -> Parent {
        let child = Command::new("sleep")
            .arg("600")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Parent { child }
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

/// One node: `<root>/<name>/{data/, <name>.cnf, <name>.err}`.
pub struct Node {
    /// Node name (also the certificate CN).
    pub name: String,
    /// `<root>/<name>`.
    pub dir: PathBuf,
    /// The datadir (no trailing slash; mariadbd passes it with one).
    pub datadir: PathBuf,
    /// The option file passed with `--defaults-file`.
    pub cnf: PathBuf,
    /// The error log: the method's stderr.
    pub log: PathBuf,
    /// The donor's `--socket` value (never used by rsync methods).
    pub socket: PathBuf,
    /// The `[sst]` keys, in order.
    pub sst: Vec<(String, String)>,
    /// Extra environment for the method process (e.g. a private `TMPDIR`).
    pub env: Vec<(String, PathBuf)>,
}

impl Node {
    /// The `--datadir` value as mariadbd renders it: with a trailing slash.
    pub fn datadir_arg(&self) -> String {
        format!("{}/", self.datadir.display())
    }

    /// Sets (or adds) an `[sst]` key and rewrites the option file.
    pub fn set_sst(&mut self, key: &str, value: &str) {
        match self.sst.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.sst.push((key.to_string(), value.to_string())),
        }
        self.write_cnf();
    }

    /// Removes an `[sst]` key and rewrites the option file.
    pub fn remove_sst(&mut self, key: &str) {
        self.sst.retain(|(k, _)| k != key);
        self.write_cnf();
    }

    /// Writes the option file: a `[mysqld]` group as a Galera node has it,
    /// then `[sst]`.
    pub fn write_cnf(&self) {
        let mut text = format!(
            "[mysqld]\ndatadir={}\nsocket={}\nlog-bin=mysql-bin\nbinlog_format=ROW\n\
             wsrep_on=ON\nwsrep_sst_method=rsync_tunnel\n\n[sst]\n",
            self.datadir.display(),
            self.socket.display()
        );
        for (k, v) in &self.sst {
            text.push_str(&format!("{k}={v}\n"));
        }
        fs::write(&self.cnf, text).unwrap();
    }

    /// The error log so far (empty when nothing was written).
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A stand-in for mariadbd's pid: kill it to "crash mariadbd".
pub struct Parent {
    child: Child,
}

impl Parent {
    /// Its pid, for `--parent`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Lists a directory's entry names, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}
