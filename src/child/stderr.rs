//! A child's stderr: drained concurrently, logged line by line, its last
//! lines kept for error messages.

use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;

use super::{MAX_LINE, TAIL_LINES};

/// The last lines of a child's stderr.
#[derive(Debug, Default)]
pub(super) struct Tail {
    lines: std::collections::VecDeque<String>,
}

impl Tail {
    pub(super) fn push(&mut self, line: String) {
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    pub(super) fn joined(&self) -> String {
        let mut out = String::new();
        for (i, l) in self.lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(l);
        }
        out
    }
}

pub(super) fn lock(tail: &Mutex<Tail>) -> std::sync::MutexGuard<'_, Tail> {
    // A panic while holding the lock cannot leave a VecDeque of lines in a
    // state worth refusing to read.
    tail.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads stderr to its end, logging each line and keeping the tail. Lines
/// are cut at [`MAX_LINE`] bytes so a child without newlines stays bounded.
pub(super) async fn drain_stderr(
    name: String,
    mut err: tokio::process::ChildStderr,
    tail: Arc<Mutex<Tail>>,
) {
    let mut chunk = [0u8; 4096];
    let mut line: Vec<u8> = Vec::with_capacity(256);
    let emit = |line: &mut Vec<u8>| {
        let text = String::from_utf8_lossy(line)
            .trim_end_matches('\r')
            .to_string();
        line.clear();
        if text.is_empty() {
            return;
        }
        tracing::warn!(program = %name, "{text}");
        lock(&tail).push(text);
    };
    loop {
        let n = match err.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(program = %name, error = %e, "reading stderr failed");
                break;
            }
        };
        for &b in &chunk[..n] {
            if b == b'\n' {
                emit(&mut line);
            } else if line.len() < MAX_LINE {
                line.push(b);
            }
        }
    }
    emit(&mut line);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let mut t = Tail::default();
        for i in 0..(TAIL_LINES + 5) {
            t.push(format!("line {i}"));
        }
        let j = t.joined();
        assert!(j.starts_with("line 5\n"), "{j}");
        assert!(j.ends_with(&format!("line {}", TAIL_LINES + 4)), "{j}");
        assert_eq!(j.lines().count(), TAIL_LINES);
    }
}
