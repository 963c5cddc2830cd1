//! Certificates for the interop tests, made by `scripts/gen-certs` (so the
//! script itself is exercised in CI; [`crate::pki`] is the tests' own
//! builder) into a temporary directory, plus the option strings socat and
//! sst-tunnel need to use them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::child::run_ok;

/// The certificate script under test, `scripts/gen-certs`.
pub fn script() -> PathBuf {
    crate::project::file("scripts/gen-certs")
}

/// A CA plus the `joiner` and `donor` node certificates, both valid for
/// `127.0.0.1` and `localhost`.
pub struct GenCerts {
    dir: TempDir,
    /// What gen-certs printed on stdout (the `[sst]` snippets).
    pub snippets: String,
}

impl GenCerts {
    /// Runs gen-certs (RSA keys) for the two test nodes.
    pub fn generate() -> GenCerts {
        GenCerts::generate_with(&[])
    }

    /// Runs gen-certs with extra options (for example `--key-type ec`).
    pub fn generate_with(extra: &[&str]) -> GenCerts {
        let dir = tempfile::Builder::new()
            .prefix("interop-pki")
            .tempdir()
            .expect("temp dir for certificates");
        let mut cmd = Command::new("bash");
        cmd.arg(script())
            .arg("--out")
            .arg(dir.path())
            .args(["--ca-name", "sst-tunnel interop test CA"])
            .args(extra)
            .args(["joiner=127.0.0.1,localhost", "donor=127.0.0.1,localhost"]);
        let snippets = run_ok("gen-certs", cmd, Duration::from_secs(60));
        GenCerts { dir, snippets }
    }

    /// The output directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `ca.pem`.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// `<node>.crt`.
    pub fn cert(&self, node: &str) -> PathBuf {
        self.dir.path().join(format!("{node}.crt"))
    }

    /// `<node>.key`.
    pub fn key(&self, node: &str) -> PathBuf {
        self.dir.path().join(format!("{node}.key"))
    }

    /// socat's OPENSSL options as the original script builds them:
    /// `cert=..,key=..,cafile=..`.
    pub fn socat_opts(&self, node: &str) -> String {
        format!(
            "cert={},key={},cafile={}",
            self.cert(node).display(),
            self.key(node).display(),
            self.ca().display()
        )
    }

    /// sst-tunnel's TLS options for `node`, ignoring any option file on the host.
    pub fn tunnel_args(&self, node: &str) -> Vec<OsString> {
        vec![
            "--no-defaults".into(),
            "--tca".into(),
            self.ca().into(),
            "--tcert".into(),
            self.cert(node).into(),
            "--tkey".into(),
            self.key(node).into(),
        ]
    }
}
