//! `TlsError`, its exit codes, and the translation of an OpenSSL handshake
//! failure into a cause a user can act on (which certificate was rejected,
//! by whom, why; a plaintext client; a peer that hung up).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use openssl::error::ErrorStack;
use openssl::ssl::{self, ErrorCode};

use super::files::CnfKey;
use super::policy::{NameMismatch, NotAllowed};
use super::sockopt::SockoptError;
use crate::exit::ExitCode;

/// Errors of the TLS layer.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A configured file is missing or unreadable.
    #[error("{}: cannot read the file", .key.at(.path))]
    Unreadable {
        /// The configuration key naming the file.
        key: CnfKey,
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: io::Error,
    },
    /// A configured file is unusable (does not parse, key mismatch, expired, untrusted…).
    #[error("{}: {reason}", .key.at(.path))]
    BadFile {
        /// The configuration key naming the file.
        key: CnfKey,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
        /// OpenSSL's report, when it had one.
        #[source]
        source: Option<ErrorStack>,
    },
    /// A `sockopt` item is invalid.
    #[error(transparent)]
    Sockopt(#[from] SockoptError),
    /// OpenSSL refused a `sockopt` value (for example a cipher string matching nothing).
    #[error("[sst] sockopt item `{item}`: {reason}")]
    BadOption {
        /// The item.
        item: String,
        /// What OpenSSL did not accept.
        reason: String,
        /// OpenSSL's report.
        #[source]
        source: ErrorStack,
    },
    /// Building the TLS context failed for a reason outside the configuration.
    #[error("cannot set up tls: {what}")]
    Setup {
        /// The step that failed.
        what: &'static str,
        /// OpenSSL's report.
        #[source]
        source: ErrorStack,
    },
    /// The handshake did not finish in time.
    #[error("tls handshake with {peer} timed out after {:.1}s", timeout.as_secs_f64())]
    Timeout {
        /// The peer.
        peer: SocketAddr,
        /// The limit.
        timeout: Duration,
    },
    /// The peer's certificate failed the chain check.
    #[error("tls handshake with {peer}: peer certificate {presented} rejected: {reason} (at depth {depth}, subject {subject}); check that both nodes trust the same CA ([sst] tca)")]
    PeerCertRejected {
        /// The peer's own certificate: subject and names.
        presented: String,
        /// The peer.
        peer: SocketAddr,
        /// OpenSSL's verify error (`certificate has expired`, …).
        reason: String,
        /// Chain depth of the failing certificate (0 = the peer's own).
        depth: u32,
        /// Subject of the failing certificate.
        subject: String,
    },
    /// The peer's certificate chains fine but carries the wrong name.
    #[error("tls handshake with {peer}: peer certificate {subject} rejected: {mismatch}")]
    NameMismatch {
        /// The peer.
        peer: SocketAddr,
        /// The peer certificate's subject.
        subject: String,
        /// Expected and presented names.
        mismatch: NameMismatch,
    },
    /// The donor's certificate carries none of the joiner's allowed donor names.
    #[error("tls handshake with {peer}: donor certificate {subject} rejected: {refusal}")]
    DonorNotAllowed {
        /// The peer.
        peer: SocketAddr,
        /// The peer certificate's subject.
        subject: String,
        /// The allowed names and the names the certificate presented.
        refusal: NotAllowed,
    },
    /// The handshake completed, but the peer is not authenticated: the
    /// post-handshake check that holds whatever the cipher string allowed.
    #[error("tls handshake with {peer}: the peer is not authenticated: {why} (cipher {cipher}); a verified peer certificate is required whatever the cipher string")]
    Unauthenticated {
        /// The peer.
        peer: SocketAddr,
        /// The negotiated cipher suite.
        cipher: String,
        /// What is missing.
        why: Unverified,
    },
    /// The negotiated suite does not encrypt (a NULL suite): refused always,
    /// with `verify=0` too.
    #[error("tls handshake with {peer}: the negotiated cipher {cipher} does not encrypt; unencrypted (eNULL) suites are always refused")]
    NullCipher {
        /// The peer.
        peer: SocketAddr,
        /// The negotiated cipher suite.
        cipher: String,
    },
    /// A donor allow-list was configured with `verify=0`, which turns off
    /// the certificate checks the list relies on.
    #[error("sst-allowed-donors is set ({allowed}) but verify=0 in [sst] sockopt turns peer certificate checks off, so donor names cannot be checked; remove one of them")]
    AllowListWithoutVerify {
        /// The configured names, comma-separated.
        allowed: String,
    },
    /// The peer sent no certificate although one is required.
    #[error(
        "tls handshake with {peer}: the peer presented no certificate (mutual tls requires one)"
    )]
    NoPeerCert {
        /// The peer.
        peer: SocketAddr,
    },
    /// The peer refused our certificate (it sent a certificate alert).
    #[error("tls handshake with {peer}: the peer rejected our certificate (alert `{alert}`); check that its CA trusts our [sst] tcert")]
    RejectedByPeer {
        /// The peer.
        peer: SocketAddr,
        /// The alert it sent.
        alert: String,
    },
    /// The peer hung up before the handshake finished.
    #[error("tls handshake with {peer}: the peer closed the connection during the handshake")]
    PeerClosed {
        /// The peer.
        peer: SocketAddr,
    },
    /// The peer does not speak TLS (a plaintext client, or a wrong port).
    #[error("tls handshake with {peer}: the peer does not speak tls ({reason})")]
    NotTls {
        /// The peer.
        peer: SocketAddr,
        /// OpenSSL's reason (`wrong version number`).
        reason: String,
    },
    /// Any other handshake failure (no common protocol, cipher or group…).
    #[error("tls handshake with {peer} failed: {reason}")]
    Handshake {
        /// The peer.
        peer: SocketAddr,
        /// OpenSSL's reasons.
        reason: String,
    },
    /// A socket error during the handshake.
    #[error("tls handshake with {peer}: connection failed")]
    Io {
        /// The peer.
        peer: SocketAddr,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl TlsError {
    /// The exit code this error ends the program with: authentication
    /// failures 13, missing files 2, timeouts 110, configuration and
    /// protocol mismatches 22, a vanished peer 1.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            TlsError::Unreadable { .. } => ExitCode::NotFound,
            TlsError::BadFile { .. }
            | TlsError::Sockopt(_)
            | TlsError::BadOption { .. }
            | TlsError::Setup { .. }
            | TlsError::AllowListWithoutVerify { .. }
            | TlsError::NotTls { .. }
            | TlsError::NullCipher { .. }
            | TlsError::Handshake { .. } => ExitCode::Invalid,
            TlsError::Timeout { .. } => ExitCode::TimedOut,
            TlsError::PeerCertRejected { .. }
            | TlsError::NameMismatch { .. }
            | TlsError::DonorNotAllowed { .. }
            | TlsError::Unauthenticated { .. }
            | TlsError::NoPeerCert { .. }
            | TlsError::RejectedByPeer { .. } => ExitCode::AuthFailed,
            TlsError::PeerClosed { .. } | TlsError::Io { .. } => ExitCode::Failure,
        }
    }

    /// True when the failure is about certificates or names (either side's).
    pub fn is_auth_failure(&self) -> bool {
        self.exit_code() == ExitCode::AuthFailed
    }
}

/// What the post-handshake check found missing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    /// No certificate was exchanged (an anonymous suite, or no request).
    #[error("it presented no certificate")]
    NoCertificate,
    /// A certificate was presented but OpenSSL's verification did not pass.
    #[error("its certificate did not verify ({0})")]
    NotVerified(String),
    /// A certificate was presented but our verify callback never approved it
    /// (name rule and allow-list).
    #[error("its certificate never went through the name and allow-list checks")]
    NotChecked,
}

/// TLS alerts that mean "your certificate is not acceptable".
const CERT_ALERTS: [i32; 8] = [42, 43, 44, 45, 46, 48, 49, 116];
/// OpenSSL reports a received alert N as SSL reason 1000 + N.
const ALERT_OFFSET: i32 = 1000;
const ERR_LIB_SSL: i32 = 20;
/// The alert a TLS 1.2 peer sends when nothing in our ClientHello suits it.
const ALERT_HANDSHAKE_FAILURE: i32 = 40;
/// Said with a cipher negotiation failure: a peer that offers only
/// anonymous or NULL suites (a certificate-less peer) ends exactly here.
const NO_COMMON_SUITE_HINT: &str = " (no cipher suite, group or signature algorithm in common; \
     sst-tunnel never negotiates anonymous or unencrypted suites, so a peer without a \
     certificate fails here)";

/// Maps a failed handshake (with nothing recorded by our verify callback) to a cause.
pub(crate) fn classify(peer: SocketAddr, err: ssl::Error) -> TlsError {
    if err.code() == ErrorCode::ZERO_RETURN {
        return TlsError::PeerClosed { peer };
    }
    let reasons: Vec<(i32, i32, String)> = err
        .ssl_error()
        .map(|stack| {
            stack
                .errors()
                .iter()
                .map(|e| {
                    (
                        e.library_code(),
                        e.reason_code(),
                        e.reason().unwrap_or("unknown reason").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for (lib, code, reason) in &reasons {
        if *lib == ERR_LIB_SSL && *code > ALERT_OFFSET {
            let alert = reason
                .split_once("alert ")
                .map(|(_, a)| a.to_string())
                .unwrap_or_else(|| reason.clone());
            if CERT_ALERTS.contains(&(code - ALERT_OFFSET)) {
                return TlsError::RejectedByPeer { peer, alert };
            }
            let hint = if code - ALERT_OFFSET == ALERT_HANDSHAKE_FAILURE {
                NO_COMMON_SUITE_HINT
            } else {
                ""
            };
            return TlsError::Handshake {
                peer,
                reason: format!("the peer sent alert `{alert}`{hint}"),
            };
        }
    }
    for (_, _, reason) in &reasons {
        let r = reason.as_str();
        if r.contains("peer did not return a certificate") {
            return TlsError::NoPeerCert { peer };
        }
        if r.contains("wrong version number")
            || r.contains("http request")
            || r.contains("https proxy request")
            || r.contains("packet length too long")
            || r.contains("unknown protocol")
        {
            return TlsError::NotTls {
                peer,
                reason: reason.clone(),
            };
        }
        if r.contains("unexpected eof") {
            return TlsError::PeerClosed { peer };
        }
    }
    if !reasons.is_empty() {
        let mut reason = reasons
            .iter()
            .map(|(_, _, r)| r.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        if reason.contains("no shared cipher") {
            reason.push_str(NO_COMMON_SUITE_HINT);
        }
        return TlsError::Handshake { peer, reason };
    }
    match err.into_io_error() {
        Ok(io) if io.kind() == io::ErrorKind::UnexpectedEof => TlsError::PeerClosed { peer },
        Ok(io) => TlsError::Io { peer, source: io },
        // SYSCALL without an io error is an EOF that broke the handshake.
        Err(_) => TlsError::PeerClosed { peer },
    }
}
