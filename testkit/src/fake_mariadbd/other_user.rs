//! Another local user (uid/gid 65534, no groups, through `setpriv` as the
//! relay and sockowner tests do) probing what the method leaves within
//! reach: a long-lived reader that tries to open paths for reading, and a
//! one-shot plaintext TCP client.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

/// The other user's uid (and gid).
pub const UID: u32 = 65534;

fn setpriv() -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        format!("--reuid={UID}"),
        format!("--regid={UID}"),
        "--clear-groups".into(),
    ]);
    c
}

/// What one read attempt found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// The other user opened it and read from it (a directory: listed it).
    Readable,
    /// `Permission denied` (on the path or a directory above it).
    Denied,
    /// The path was gone by the time of the attempt.
    Gone,
    /// Any other failure, with the message.
    Other(String),
}

/// A shell running as uid 65534 that tries `head -c1` (files) or `ls`
/// (directories) on every path written to it.
pub struct Reader {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

const READ_LOOP: &str = r#"while IFS= read -r p; do
  if [ -d "$p" ]; then err=$(ls -- "$p" 2>&1 >/dev/null); rc=$?
  else err=$(head -c1 -- "$p" 2>&1 >/dev/null); rc=$?; fi
  printf '%s\t%s\n' "$rc" "$(printf '%s' "$err" | tr '\n\t' '  ')"
done"#;

impl Reader {
    /// Starts the shell (panics with the package to install if it cannot).
    pub fn start() -> Reader {
        let mut child = setpriv()
            .args(["bash", "-c", READ_LOOP])
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("setpriv/bash not runnable (apt-get install util-linux bash)");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Reader {
            child,
            input,
            output,
        }
    }

    /// Tries to read `path` as the other user.
    pub fn try_read(&mut self, path: &std::path::Path) -> Access {
        let p = path.to_str().expect("utf-8 path");
        assert!(!p.contains('\n'), "path with a newline: {p:?}");
        writeln!(self.input, "{p}").unwrap();
        self.input.flush().unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        let (rc, err) = line.trim_end_matches('\n').split_once('\t').unwrap();
        if rc == "0" {
            Access::Readable
        } else if err.contains("Permission denied") {
            Access::Denied
        } else if err.contains("No such file") {
            Access::Gone
        } else {
            Access::Other(format!("rc {rc}: {err}"))
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a plaintext client running as uid 65534 got from `host:port`.
#[derive(Clone, Debug)]
pub struct Probe {
    /// bash could not connect (refused).
    pub refused: bool,
    /// Bytes received before the peer closed (or 3 s passed).
    pub got: Vec<u8>,
}

/// Connects to `host:port` as uid 65534 without TLS, sends rsync's
/// greeting and returns what came back within 3 s.
pub fn plaintext_probe(host: &str, port: u16) -> Probe {
    let script = format!(
        "exec 3<>/dev/tcp/{host}/{port} || exit 111\n\
         printf '@RSYNCD: 31.0\\nrsync_tunnel_sst\\n' >&3\n\
         timeout 3 cat <&3\nexit 0"
    );
    let out = setpriv()
        .args(["bash", "-c", &script])
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .expect("setpriv/bash not runnable (apt-get install util-linux bash coreutils)");
    Probe {
        refused: out.status.code() == Some(111),
        got: out.stdout,
    }
}

/// Bound for [`plaintext_probe`] (its own `timeout 3` plus start-up).
pub const PROBE_BOUND: Duration = Duration::from_secs(10);
