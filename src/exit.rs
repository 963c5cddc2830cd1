//! The exit-code table: the one place where every way this program can end
//! gets its number.
//!
//! The numbers are errno-style and follow the original `wsrep_sst_rsync_tunnel`
//! script (sst-protocol.md §5.5), because mariadbd logs a failed method's exit
//! status as an errno text and operators grep for those. `--help` prints
//! [`help_table`].
//!
//! Also here, because every layer needs it to say why a run ends: [`chain`],
//! the one-line rendering of an error and its causes used by every log line
//! and by the final message.

use std::fmt;

/// `sst-tunnel check` found at least one `FAIL`.
pub const CHECK_FAILED: ExitCode = ExitCode::Invalid;

/// Every exit status the program uses.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExitCode {
    /// Transfer complete (or the command did what it was asked).
    Success = 0,
    /// Unexpected internal failure.
    Failure = 1,
    /// ENOENT: a required program (rsync) or file is missing, or `--datadir` was not given.
    NotFound = 2,
    /// SIGINT, SIGQUIT or SIGTERM received (cleanup done); also "no certificate configured" (no tcert, nor ssl-cert standing in).
    Interrupted = 3,
    /// ECHILD: a helper process died unexpectedly.
    ChildDied = 10,
    /// ENOMEM: rsync ran out of memory (rsync exit 22).
    OutOfMemory = 12,
    /// EACCES: TLS authentication failed (peer certificate rejected, or ours rejected by the peer).
    AuthFailed = 13,
    /// EBUSY: the listening port is taken.
    Busy = 16,
    /// ENOSPC: the joiner's file system (data or InnoDB log directory) is full.
    NoSpace = 28,
    /// Unsafe characters in a value mariadbd or a helper would refuse (the SST address).
    UnsafeValue = 21,
    /// EINVAL: bad option, configuration, certificate, key or CA.
    Invalid = 22,
    /// EPIPE: SIGHUP/SIGPIPE, mariadbd (the parent) died, or the transfer ended without its marker.
    BrokenPipe = 32,
    /// EPROTO: incompatible rsync protocol (rsync exit 12).
    Protocol = 71,
    /// ETIMEDOUT: no first connection, a stalled transfer, or a connect/handshake timeout.
    TimedOut = 110,
    /// ECONNREFUSED: the joiner could not be reached within the connect retry window.
    Unreachable = 111,
    /// EALREADY: a previous transfer's processes are still running.
    AlreadyRunning = 114,
    /// The donor's FLUSH TABLES failed (`sst_error`), or rsync failed otherwise
    /// (a connection to the joiner that broke mid-transfer included).
    TransferFailed = 255,
}

impl ExitCode {
    /// The numeric status handed to the operating system.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The errno-style name used in the help table.
    pub fn name(self) -> &'static str {
        match self {
            ExitCode::Success => "OK",
            ExitCode::Failure => "FAILURE",
            ExitCode::NotFound => "ENOENT",
            ExitCode::Interrupted => "SIGNAL",
            ExitCode::ChildDied => "ECHILD",
            ExitCode::OutOfMemory => "ENOMEM",
            ExitCode::AuthFailed => "EACCES",
            ExitCode::Busy => "EBUSY",
            ExitCode::NoSpace => "ENOSPC",
            ExitCode::UnsafeValue => "UNSAFE",
            ExitCode::Invalid => "EINVAL",
            ExitCode::BrokenPipe => "EPIPE",
            ExitCode::Protocol => "EPROTO",
            ExitCode::TimedOut => "ETIMEDOUT",
            ExitCode::Unreachable => "ECONNREFUSED",
            ExitCode::AlreadyRunning => "EALREADY",
            ExitCode::TransferFailed => "TRANSFER",
        }
    }

    /// One line of explanation, as printed by `--help`.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitCode::Success => "transfer complete",
            ExitCode::Failure => "unexpected internal failure",
            ExitCode::NotFound => {
                "a required program (rsync) or file is missing, or --datadir not given"
            }
            ExitCode::Interrupted => "SIGINT/SIGQUIT/SIGTERM (cleaned up), or no certificate configured (tcert or ssl-cert)",
            ExitCode::ChildDied => "a helper process died unexpectedly",
            ExitCode::OutOfMemory => "rsync ran out of memory (rsync exit 22)",
            ExitCode::AuthFailed => "TLS authentication failed: certificate or name rejected",
            ExitCode::Busy => "the listening port is already in use",
            ExitCode::NoSpace => "the joiner's file system is full (No space left on device)",
            ExitCode::UnsafeValue => {
                "unsafe characters in the SST address (mariadbd would refuse it)"
            }
            ExitCode::Invalid => "bad option, configuration, certificate, key or CA",
            ExitCode::BrokenPipe => "SIGHUP/SIGPIPE, parent mysqld died, or no completion marker",
            ExitCode::Protocol => "incompatible rsync protocol (rsync exit 12)",
            ExitCode::TimedOut => "no first connection, stalled transfer, or connect timeout",
            ExitCode::Unreachable => "the joiner could not be reached within the retry window (sst-connect-retry, or sockopt retry)",
            ExitCode::AlreadyRunning => "a previous transfer is still running",
            ExitCode::TransferFailed => {
                "FLUSH TABLES failed (sst_error), rsync failed otherwise, or the tunnel broke"
            }
        }
    }

    /// Maps an rsync exit status to ours, as the original script does:
    /// 12 (protocol) becomes 71, 22 (out of memory) becomes 12, anything else 255.
    pub fn from_rsync_status(status: i32) -> ExitCode {
        match status {
            0 => ExitCode::Success,
            12 => ExitCode::Protocol,
            22 => ExitCode::OutOfMemory,
            _ => ExitCode::TransferFailed,
        }
    }
}

impl fmt::Display for ExitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.name())
    }
}

/// All codes, in numeric order.
pub const ALL: [ExitCode; 17] = [
    ExitCode::Success,
    ExitCode::Failure,
    ExitCode::NotFound,
    ExitCode::Interrupted,
    ExitCode::ChildDied,
    ExitCode::OutOfMemory,
    ExitCode::AuthFailed,
    ExitCode::Busy,
    ExitCode::NoSpace,
    ExitCode::UnsafeValue,
    ExitCode::Invalid,
    ExitCode::BrokenPipe,
    ExitCode::Protocol,
    ExitCode::TimedOut,
    ExitCode::Unreachable,
    ExitCode::AlreadyRunning,
    ExitCode::TransferFailed,
];

/// The table printed at the end of `--help`.
pub fn help_table() -> String {
    let mut out = String::from("Exit codes:\n");
    for code in ALL {
        out.push_str(&format!(
            "  {:>3}  {:<12} {}\n",
            code.code(),
            code.name(),
            code.meaning()
        ));
    }
    out
}

/// Renders an error and its `source()` chain on one line: `a: b: c`.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsync_statuses_map_as_the_original_script() {
        assert_eq!(ExitCode::from_rsync_status(12).code(), 71);
        assert_eq!(ExitCode::from_rsync_status(22).code(), 12);
        assert_eq!(ExitCode::from_rsync_status(5).code(), 255);
        assert_eq!(ExitCode::from_rsync_status(0).code(), 0);
    }

    #[test]
    fn table_lists_every_code_once() {
        let table = help_table();
        for code in ALL {
            assert_eq!(
                table.matches(&format!(" {} ", code.name())).count(),
                1,
                "{code} in\n{table}"
            );
        }
    }
}
