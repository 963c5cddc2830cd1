//! What the joiner's connections met, kept for its final error: the last
//! connection failure (peer, subject, cause) for a stall, and a full file
//! system, which ends the run at once.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use super::JoinerError;
use crate::rsync::daemon::DaemonConfig;

#[derive(Debug, Default)]
struct Seen {
    last: Option<String>,
    no_space: Option<JoinerError>,
}

/// Shared by every connection task and the accept loop.
#[derive(Clone, Debug, Default)]
pub(super) struct LastFailure(Arc<Mutex<Seen>>);

impl LastFailure {
    fn lock(&self) -> MutexGuard<'_, Seen> {
        // A poisoned slot of strings is still worth reading.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a served connection's failure (the latest wins).
    pub(super) fn record(&self, text: String) {
        self.lock().last = Some(text);
    }

    /// The latest failure recorded.
    pub(super) fn get(&self) -> Option<String> {
        self.lock().last.clone()
    }

    /// Takes the full-file-system error, if a connection met one.
    pub(super) fn no_space(&self) -> Option<JoinerError> {
        self.lock().no_space.take()
    }
}

/// If rsync's error `text` reports a full file system, records it with the
/// directory it was writing into (the log module's, else the data
/// directory) and the mount holding that directory.
pub(super) fn note_no_space(failures: &LastFailure, conf: &DaemonConfig, text: &str, from: &str) {
    let Some(line) = crate::rsync::no_space_line(&text.replace(" | ", "\n")).map(str::to_string)
    else {
        return;
    };
    let dir: &Path = if line.contains(crate::rsync::LOG_MODULE) {
        conf.log_dir()
    } else {
        conf.datadir()
    };
    let mount = crate::mount::containing(dir)
        .map_or_else(|| "an unknown mount".to_string(), |m| m.to_string());
    let err = JoinerError::NoSpace {
        dir: dir.to_path_buf(),
        mount,
        detail: format!("rsync reported, for the connection {from}: {}", line.trim()),
    };
    let mut seen = failures.lock();
    if seen.no_space.is_none() {
        seen.no_space = Some(err);
    }
}
