//! TLS for both roles: the joiner's acceptor and the donor's connector, built
//! on OpenSSL so that socat peers, `cipher=` strings, `capath` directories and
//! CN-only certificates behave as they did under socat.
//!
//! STUB: the API below is the contract; the bodies are being written.

pub mod policy;
pub mod preflight;
pub mod sockopt;

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use crate::exit::ExitCode;
pub use sockopt::SockOpts;

/// The TLS part of the configuration, after option files and flags were merged.
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// `[sst] tca`: CA bundle file (a directory here is used as a CA path).
    pub ca_file: Option<PathBuf>,
    /// `[sst] tcapath`: directory of hashed CA certificates.
    pub ca_path: Option<PathBuf>,
    /// `[sst] tcert`: our certificate chain (may also hold the key).
    pub cert: PathBuf,
    /// `[sst] tkey`: our private key; `None` means "in the tcert file".
    pub key: Option<PathBuf>,
    /// `[sst] sockopt`, parsed.
    pub opts: SockOpts,
}

/// What we learned about the peer of one established TLS connection.
#[derive(Clone, Debug, Default)]
pub struct PeerInfo {
    /// The peer certificate's subject, one line (`CN=…, O=…`), empty when none was presented.
    pub subject: String,
    /// The names the certificate carries: SAN DNS, SAN IP, then CN.
    pub names: Vec<String>,
    /// Negotiated protocol (`TLSv1.3`).
    pub protocol: String,
    /// Negotiated cipher (`TLS_AES_256_GCM_SHA384`).
    pub cipher: String,
}

/// Errors of the TLS layer.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Placeholder while the module is written.
    #[error("tls not implemented")]
    Unimplemented,
}

impl TlsError {
    /// The exit code this error ends the program with.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::Invalid
    }
}

/// The joiner's side: accepts TLS, demands and verifies a client certificate.
pub struct TlsServer {}

impl TlsServer {
    /// Builds the acceptor from the settings (files loaded once, here).
    pub fn new(_settings: &TlsSettings) -> Result<Self, TlsError> {
        Err(TlsError::Unimplemented)
    }

    /// Runs the handshake on an accepted socket, under `timeout`.
    pub async fn accept(
        &self,
        _tcp: TcpStream,
        _timeout: Duration,
    ) -> Result<(SslStream<TcpStream>, PeerInfo), TlsError> {
        Err(TlsError::Unimplemented)
    }
}

/// The donor's side: connects with TLS and checks the joiner's chain and name.
pub struct TlsClient {}

impl TlsClient {
    /// Builds the connector; `target_host` is the joiner host from the SST
    /// address (brackets already removed), the name its certificate must carry
    /// unless `commonname=` overrides it.
    pub fn new(_settings: &TlsSettings, _target_host: &str) -> Result<Self, TlsError> {
        Err(TlsError::Unimplemented)
    }

    /// Runs the handshake (including the name check) on a connected socket, under `timeout`.
    pub async fn connect(
        &self,
        _tcp: TcpStream,
        _timeout: Duration,
    ) -> Result<(SslStream<TcpStream>, PeerInfo), TlsError> {
        Err(TlsError::Unimplemented)
    }
}
