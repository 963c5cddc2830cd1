//! Findings and the report that prints them: one line per finding on
//! stdout, `OK`, `WARN` or `FAIL`, then what was checked (the `[sst]` or
//! `[mysqld]` key and its file) and the cause. Lines are printed as they are
//! found, so a `--listen` run shows each handshake when it happens.

use std::fmt;
use std::io::Write;

use crate::exit::{ExitCode, CHECK_FAILED};

/// How bad a finding is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Checked and fine.
    Ok,
    /// Works, but deserves attention (an SST logs these at start).
    Warn,
    /// An SST with this configuration fails (or is not authenticated).
    Fail,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        })
    }
}

/// One checked fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Its level.
    pub level: Level,
    /// What was checked: the key and its file (`[sst] tkey /etc/mysql/ssl/node.key`).
    pub subject: String,
    /// The result or the cause.
    pub detail: String,
}

impl Finding {
    /// A finding of `level`.
    pub fn new(level: Level, subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding {
            level,
            subject: subject.into(),
            detail: detail.into(),
        }
    }

    /// An `OK` finding.
    pub fn ok(subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding::new(Level::Ok, subject, detail)
    }

    /// A `WARN` finding.
    pub fn warn(subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding::new(Level::Warn, subject, detail)
    }

    /// A `FAIL` finding.
    pub fn fail(subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding::new(Level::Fail, subject, detail)
    }

    /// A finding from a message that already starts with `subject: ` (the
    /// TLS layer's errors and warnings name their key and file that way).
    pub fn from_message(level: Level, message: &str) -> Self {
        match message.split_once(": ") {
            Some((subject, detail)) if subject.starts_with('[') => {
                Finding::new(level, subject, detail)
            }
            _ => Finding::new(level, "[sst]", message),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<4} {}: {}", self.level, self.subject, self.detail)
    }
}

/// The findings of one run, printed as they arrive.
#[derive(Debug, Default)]
pub struct Report {
    findings: Vec<Finding>,
    quiet: bool,
}

impl Report {
    /// A report that prints each finding on stdout.
    pub fn new() -> Self {
        Report::default()
    }

    /// A report that only collects (for the SST's own start-up use and tests).
    pub fn collecting() -> Self {
        Report {
            findings: Vec::new(),
            quiet: true,
        }
    }

    /// Records and prints one finding. A closed stdout is not a reason to
    /// stop checking: the exit code still tells.
    pub fn add(&mut self, finding: Finding) {
        if !self.quiet {
            let mut out = std::io::stdout().lock();
            let _best_effort = writeln!(out, "{finding}").and_then(|()| out.flush());
        }
        self.findings.push(finding);
    }

    /// Records several findings.
    pub fn extend(&mut self, findings: impl IntoIterator<Item = Finding>) {
        for f in findings {
            self.add(f);
        }
    }

    /// Everything found so far.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// How many findings of `level`.
    pub fn count(&self, level: Level) -> usize {
        self.findings.iter().filter(|f| f.level == level).count()
    }

    /// [`ExitCode::Success`] without a `FAIL`, else [`CHECK_FAILED`].
    pub fn exit_code(&self) -> ExitCode {
        if self.count(Level::Fail) == 0 {
            ExitCode::Success
        } else {
            CHECK_FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_start_with_the_level_and_name_the_subject() {
        let f = Finding::fail("[sst] tkey /x/node.key", "cannot read the file");
        assert_eq!(
            f.to_string(),
            "FAIL [sst] tkey /x/node.key: cannot read the file"
        );
        assert_eq!(Finding::ok("rsync", "3.2").to_string(), "OK   rsync: 3.2");
        let w = Finding::from_message(Level::Warn, "[sst] tcert /c.pem: expires soon: x");
        assert_eq!(w.subject, "[sst] tcert /c.pem");
        assert_eq!(w.detail, "expires soon: x");
    }

    #[test]
    fn any_fail_is_the_documented_exit_code() {
        let mut r = Report::collecting();
        r.add(Finding::ok("a", "b"));
        r.add(Finding::warn("a", "b"));
        assert_eq!(r.exit_code(), ExitCode::Success);
        r.add(Finding::fail("a", "b"));
        assert_eq!(r.exit_code(), CHECK_FAILED);
        assert_eq!(CHECK_FAILED.code(), 22);
    }
}
