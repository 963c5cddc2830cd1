//! Throwaway certificates for the cluster nodes, made with the `openssl` CLI in each test's
//! temp dir (nothing is committed): a CA, a second unrelated CA for the wrong-CA scenario, and
//! one EC P-256 leaf per node usable as TLS server and client.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A certificate authority: its certificate and private key.
pub struct Ca {
    /// PEM certificate (what `tca` points to).
    pub cert: PathBuf,
    key: PathBuf,
}

/// A node certificate signed by a [`Ca`].
pub struct Leaf {
    /// PEM certificate (`tcert`).
    pub cert: PathBuf,
    /// PEM private key (`tkey`).
    pub key: PathBuf,
}

fn openssl(args: &[&str], what: &str) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl ({e}): apt-get install openssl"));
    assert!(
        out.status.success(),
        "openssl failed to {what} ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn path_str(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {}", path.display()))
}

impl Ca {
    /// Creates a self-signed CA named `name` in `dir` (`<name>-ca.pem`, `<name>-ca.key`).
    pub fn create(dir: &Path, name: &str) -> Ca {
        let cert = dir.join(format!("{name}-ca.pem"));
        let key = dir.join(format!("{name}-ca.key"));
        let subject = format!("/CN=sst cluster test {name} CA");
        openssl(
            &[
                "req",
                "-x509",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                path_str(&key),
                "-out",
                path_str(&cert),
                "-days",
                "2",
                "-subj",
                &subject,
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            &format!("create CA {name}"),
        );
        Ca { cert, key }
    }

    /// Issues a leaf for `name` with the given IP SANs (plus `localhost`), valid for both
    /// server and client authentication, into `dir` (`<name>.pem`, `<name>.key`).
    pub fn issue(&self, dir: &Path, name: &str, ips: &[Ipv4Addr]) -> Leaf {
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        let csr = dir.join(format!("{name}.csr"));
        let ext = dir.join(format!("{name}.ext"));
        let mut san: Vec<String> = ips.iter().map(|ip| format!("IP:{ip}")).collect();
        san.push("DNS:localhost".into());
        fs::write(
            &ext,
            format!(
                "subjectAltName={}\nbasicConstraints=CA:FALSE\n\
                 keyUsage=critical,digitalSignature,keyEncipherment\n\
                 extendedKeyUsage=serverAuth,clientAuth\n",
                san.join(",")
            ),
        )
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", ext.display()));
        let subject = format!("/CN={name}");
        openssl(
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                path_str(&key),
                "-out",
                path_str(&csr),
                "-subj",
                &subject,
            ],
            &format!("create the key and request for {name}"),
        );
        let serial = format!("0x{:016x}", rand_u64());
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                path_str(&csr),
                "-CA",
                path_str(&self.cert),
                "-CAkey",
                path_str(&self.key),
                "-set_serial",
                &serial,
                "-days",
                "2",
                "-out",
                path_str(&cert),
                "-extfile",
                path_str(&ext),
            ],
            &format!("sign the certificate for {name}"),
        );
        for scrap in [&csr, &ext] {
            let _ignored = fs::remove_file(scrap);
        }
        Leaf { cert, key }
    }
}

/// A serial number that differs between runs (not security relevant).
fn rand_u64() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish() >> 1
}
