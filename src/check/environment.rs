//! Findings about the host rather than the certificates: the option files
//! read, the SST method configured, rsync (the same lookup the SST uses,
//! [`crate::rsync::find_rsync`]) and its version, and whether the SST port
//! is free (the same bind the joiner does, [`crate::joiner::bind_listener`],
//! naming the holder when it can).

use std::time::Duration;

use crate::config::mycnf::{OptionFiles, MYSQLD};
use crate::joiner::JoinerError;
use crate::sst::address::{SstAddress, DEFAULT_PORT};
use crate::sst::Method;

use super::address::SstTarget;
use super::report::{Finding, Report};

/// The methods this program implements, each run by mariadbd as
/// `wsrep_sst_<method>` from its `PATH`.
const METHODS: [Method; 2] = [Method::Tunnel, Method::TunnelWan];

/// How long `rsync --version` may take.
const RSYNC_VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// The option files read and the problems `my_print_defaults` would skip.
pub fn option_files(files: &OptionFiles, report: &mut Report) {
    match files.files_read_list() {
        Some(read) => report.add(Finding::ok("option files", format!("read {read}"))),
        None => report.add(Finding::warn(
            "option files",
            "no option file was read; everything comes from flags",
        )),
    }
    for w in files.warnings() {
        report.add(Finding::warn("option files", w.to_string()));
    }
}

/// `wsrep_sst_method`: this program only runs when it names `rsync_tunnel`
/// or `rsync_tunnel_wan`, and only when mariadbd finds
/// `wsrep_sst_<method>` in its `PATH` (ours: the same lookup).
pub fn sst_method(files: &OptionFiles, report: &mut Report) {
    let key = "wsrep_sst_method";
    let names = METHODS.map(Method::name).join(" or ");
    let Some(e) = files.get(&[MYSQLD], key) else {
        return report.add(Finding::warn(
            format!("[mysqld] {key}"),
            format!("not set: mariadbd uses rsync, not sst-tunnel (set {key}={names})"),
        ));
    };
    let value = e.value.as_deref().unwrap_or("").trim();
    let subject = format!("[{}] {key} ({}:{})", e.group, e.path.display(), e.line);
    let Some(method) = METHODS.into_iter().find(|m| m.name() == value) else {
        return report.add(Finding::warn(
            subject,
            format!("`{value}`: this node does not use sst-tunnel (set {key}={names})"),
        ));
    };
    let program = format!("wsrep_sst_{value}");
    let how = match method {
        Method::Tunnel => "whole files",
        Method::TunnelWan => "rsync's delta algorithm: only what differs from the joiner's copy",
    };
    let search = mariadbd_path(files);
    match crate::child::find_in_path(program.as_ref(), Some(&search)) {
        Some(path) => report.add(Finding::ok(
            subject,
            format!("`{value}`: SSTs use sst-tunnel ({how}), {}", path.display()),
        )),
        None => report.add(Finding::fail(
            subject,
            format!(
                "`{value}`: mariadbd runs {program} from its PATH and it is in none of {}: \
                 install the package, or link {program} to the sst-tunnel binary",
                search.to_string_lossy()
            ),
        )),
    }
}

/// systemd's default `PATH`, which a mariadbd started as a service has.
const SERVICE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where mariadbd looks for `wsrep_sst_<method>`, as near as this process
/// can tell: `<basedir>/bin` (mariadbd prepends it; `[mysqld] basedir`,
/// `/usr` by default), then our `PATH`, then a service's default `PATH`.
fn mariadbd_path(files: &OptionFiles) -> std::ffi::OsString {
    let basedir = files
        .get(&[MYSQLD], "basedir")
        .and_then(|e| e.value.clone())
        .map_or_else(|| "/usr".to_string(), |v| v.trim().to_string());
    let mut search = std::ffi::OsString::from(format!("{}/bin", basedir.trim_end_matches('/')));
    if let Some(path) = std::env::var_os("PATH") {
        search.push(":");
        search.push(path);
    }
    search.push(":");
    search.push(SERVICE_PATH);
    search
}

/// rsync is found as the SST finds it, and runs.
pub async fn rsync(report: &mut Report) {
    let path = match crate::rsync::find_rsync() {
        Ok(p) => p,
        Err(e) => return report.add(Finding::fail("rsync", e.to_string())),
    };
    let subject = format!("rsync {}", path.display());
    let mut cmd = tokio::process::Command::new(&path);
    cmd.arg("--version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(RSYNC_VERSION_TIMEOUT, cmd.output()).await {
        Err(_) => report.add(Finding::fail(
            subject,
            format!(
                "`rsync --version` did not finish within {}s",
                RSYNC_VERSION_TIMEOUT.as_secs()
            ),
        )),
        Ok(Err(e)) => report.add(Finding::fail(subject, format!("cannot run it: {e}"))),
        Ok(Ok(out)) if !out.status.success() => report.add(Finding::fail(
            subject,
            format!("`rsync --version` failed ({})", out.status),
        )),
        Ok(Ok(out)) => {
            let text = String::from_utf8_lossy(&out.stdout);
            match parse_version(&text) {
                Some((version, protocol)) => report.add(Finding::ok(
                    subject,
                    format!("version {version}, protocol {protocol}"),
                )),
                None => report.add(Finding::warn(
                    subject,
                    "runs, but its --version output names no version",
                )),
            }
        }
    }
}

/// `rsync  version 3.2.7  protocol version 31` → ("3.2.7", "31").
fn parse_version(text: &str) -> Option<(String, String)> {
    let first = text.lines().next()?;
    let words: Vec<&str> = first.split_whitespace().collect();
    let at = |w: &str| words.iter().position(|x| *x == w);
    let version = words.get(at("version")? + 1)?.to_string();
    let protocol = words
        .iter()
        .rposition(|x| *x == "version")
        .and_then(|i| words.get(i + 1))
        .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
        .map_or_else(|| "unknown".to_string(), |p| p.to_string());
    Some((version, protocol))
}

/// Binds the address:port the joiner would, and releases it at once.
pub async fn port(target: Option<&SstTarget>, report: &mut Report) {
    let (address, subject) = match target {
        Some(t) => (t.address.clone(), t.origin.clone()),
        None => match SstAddress::parse(&format!("0.0.0.0:{DEFAULT_PORT}")) {
            Ok(a) => (a, "SST port (address unknown: all interfaces)".to_string()),
            Err(e) => return report.add(Finding::fail("SST port", e.to_string())),
        },
    };
    match crate::joiner::bind_listener(&address).await {
        Ok((listener, bound)) => {
            drop(listener);
            report.add(Finding::ok(
                subject,
                format!("SST port free: {bound} can be bound"),
            ));
        }
        Err(JoinerError::Bind {
            address: a,
            held_by,
            source,
        }) => {
            let cause = if source.kind() == std::io::ErrorKind::AddrInUse {
                let held_by = held_by
                    .map(|h| format!(" (held by {h})"))
                    .unwrap_or_default();
                format!("SST port in use: cannot bind {a}{held_by}")
            } else {
                format!("cannot bind {a}: {source}")
            };
            report.add(Finding::fail(subject, cause));
        }
        Err(e) => report.add(Finding::fail(subject, crate::exit::chain(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsync_version_line_parses() {
        let v = parse_version("rsync  version 3.2.7  protocol version 31\nCopyright");
        assert_eq!(v, Some(("3.2.7".to_string(), "31".to_string())));
        assert_eq!(parse_version("nothing here"), None);
    }
}
