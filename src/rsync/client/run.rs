//! Supervised rsync runs of the donor: one to completion
//! ([`run`]), or a set of them a few at a time ([`run_parallel`]); the
//! first failure stops the siblings.

use std::ffi::OsString;
use std::path::Path;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::RsyncError;
use crate::child::{ChildCommand, Output};

/// Runs one rsync to completion; cancellation kills its group.
pub(super) async fn run(
    rsync: &Path,
    step: String,
    args: Vec<OsString>,
    token: &CancellationToken,
) -> Result<(), RsyncError> {
    tracing::debug!(step = %step, "rsync starting");
    let mut cmd = ChildCommand::new("rsync", rsync);
    cmd.args(&args).stdout(Output::Stderr);
    let mut child = cmd.spawn().map_err(|source| RsyncError::Child {
        step: step.clone(),
        source,
    })?;
    let waited = tokio::select! {
        r = child.wait() => Some(r),
        () = token.cancelled() => None,
    };
    let exit = match waited {
        Some(r) => r.map_err(|source| RsyncError::Child {
            step: step.clone(),
            source,
        })?,
        None => {
            // The run is stopped from outside: no grace, nothing to tidy on
            // this side (the client only reads the data directory).
            if let Err(e) = child.kill_now().await {
                tracing::warn!(step = %step, error = %e, "killing rsync failed");
            }
            return Err(RsyncError::Cancelled { step });
        }
    };
    if exit.status.success() {
        tracing::debug!(step = %step, "rsync done");
        Ok(())
    } else {
        Err(RsyncError::Failed {
            step,
            status: exit.status,
            stderr_tail: exit.stderr_tail,
        })
    }
}

/// Runs `jobs` (step name, arguments), `parallel` at a time (at least
/// one). The first failure cancels the others (children of `token`, so
/// the caller is not cancelled) and is returned once all have ended.
pub(super) async fn run_parallel(
    rsync: &Path,
    jobs: Vec<(String, Vec<OsString>)>,
    parallel: usize,
    token: &CancellationToken,
) -> Result<(), RsyncError> {
    let stop = token.child_token();
    let mut set: JoinSet<Result<(), RsyncError>> = JoinSet::new();
    let mut pending = jobs.into_iter();
    let mut first_err: Option<RsyncError> = None;
    let parallel = parallel.max(1);
    loop {
        while first_err.is_none() && set.len() < parallel {
            let Some((step, args)) = pending.next() else {
                break;
            };
            let rsync = rsync.to_path_buf();
            let stop = stop.clone();
            set.spawn(async move { run(&rsync, step, args, &stop).await });
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let result = joined.unwrap_or_else(|e| {
            Err(RsyncError::Child {
                step: "parallel run".into(),
                source: crate::child::ChildError::Wait {
                    program: "rsync".into(),
                    source: std::io::Error::other(e.to_string()),
                },
            })
        });
        if let Err(e) = result {
            // Keep the first real failure; siblings then end as cancelled.
            let replace = match &first_err {
                None => true,
                Some(RsyncError::Cancelled { .. }) => !matches!(e, RsyncError::Cancelled { .. }),
                Some(_) => false,
            };
            if replace {
                first_err = Some(e);
            }
            stop.cancel();
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
