//! What the joiner's connections met, kept for its final error: the last
//! connection failure (peer, subject, typed cause) for a stall, and a full
//! file system, which ends the run at once.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use super::error::{ConnectionFailure, JoinerError};
use crate::rsync::daemon::DaemonConfig;

#[derive(Debug, Default)]
struct Seen {
    last: Option<Arc<ConnectionFailure>>,
    no_space: Option<JoinerError>,
}

/// Shared by every connection task and the accept loop.
#[derive(Clone, Debug, Default)]
pub(super) struct LastFailure(Arc<Mutex<Seen>>);

impl LastFailure {
    fn lock(&self) -> MutexGuard<'_, Seen> {
        // A poisoned record of failures is still worth reading.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a served connection's failure (the latest wins); if its
    /// rsync found the file system full (`conf` tells which directory it
    /// was writing into), the run's full-disk error is recorded too.
    pub(super) fn record(&self, failure: ConnectionFailure, conf: Option<&DaemonConfig>) {
        let failure = Arc::new(failure);
        let no_space = conf.and_then(|conf| no_space(conf, &failure));
        let mut seen = self.lock();
        if seen.no_space.is_none() {
            seen.no_space = no_space;
        }
        seen.last = Some(failure);
    }

    /// The latest failure recorded.
    pub(super) fn get(&self) -> Option<Arc<ConnectionFailure>> {
        self.lock().last.clone()
    }

    /// Takes the full-file-system error, if a connection met one.
    pub(super) fn no_space(&self) -> Option<JoinerError> {
        self.lock().no_space.take()
    }
}

/// The full-disk error for `failure`, when its rsync reported one: the
/// directory it was writing into (the log module's, else the data
/// directory) and the mount holding that directory.
fn no_space(conf: &DaemonConfig, failure: &Arc<ConnectionFailure>) -> Option<JoinerError> {
    let line = failure.error.no_space_line()?;
    // rsync names the module it was writing into: `... (in MODULE): ...`.
    let module = line
        .split_once("(in ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(name, _)| name);
    let dir: &Path = module
        .and_then(|m| conf.dirs().dir_of(m))
        .unwrap_or_else(|| conf.datadir());
    Some(JoinerError::NoSpace {
        dir: dir.to_path_buf(),
        mount: crate::mount::containing(dir).map(Box::new),
        line: line.to_string(),
        connection: failure.clone(),
    })
}
