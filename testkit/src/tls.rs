//! TLS peers for the handshake tests: settings builders, our server and
//! client run once over loopback, raw OpenSSL peers (any certificate, suite
//! or version), and the tracing events of a test captured as text.

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use openssl::ssl::{Ssl, SslAcceptor, SslConnector, SslFiletype, SslMethod, SslVerifyMode};
use sst_tunnel::pki::LeafFiles;
use sst_tunnel::tls::{PeerInfo, SockOpts, TlsClient, TlsError, TlsServer, TlsSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_openssl::SslStream;

use crate::poll::within;

/// Handshake limit used by every test.
pub const HANDSHAKE: Duration = Duration::from_secs(5);
/// What a server writes first after a successful handshake.
pub const SECRET: &[u8] = b"SECRET-FROM-SERVER";

/// Bound of every await in these tests.
pub const STEP: Duration = Duration::from_secs(20);

/// Settings with tcert/tkey from `files`, tca `ca`, and a sockopt string.
pub fn settings(files: &LeafFiles, ca: &Path, sockopt: &str) -> TlsSettings {
    TlsSettings {
        ca_file: Some(ca.to_path_buf()),
        ca_path: None,
        cert: files.cert.clone(),
        key: Some(files.key.clone()),
        opts: SockOpts::parse(sockopt).unwrap(),
        allowed_donors: Vec::new(),
    }
}

/// What the server side of one connection saw.
#[derive(Debug)]
pub struct ServerSide {
    /// The handshake's outcome: the verified client, or why it failed.
    pub result: Result<PeerInfo, TlsError>,
    /// The five bytes the client sent after the handshake (empty if none).
    pub received: Vec<u8>,
}

/// Accepts one connection with `server`; on success writes [`SECRET`], then
/// reads what the client sends until EOF and answers `got:<bytes>`.
pub async fn serve_once(listener: TcpListener, server: TlsServer) -> ServerSide {
    let (tcp, _) = listener.accept().await.unwrap();
    match server.accept(tcp, HANDSHAKE).await {
        Err(e) => ServerSide {
            result: Err(e),
            received: Vec::new(),
        },
        Ok((mut s, info)) => {
            s.write_all(SECRET).await.unwrap();
            s.flush().await.unwrap();
            let mut buf = vec![0u8; 5];
            let mut received = Vec::new();
            if s.read_exact(&mut buf).await.is_ok() {
                received = buf.clone();
                s.write_all(b"got:").await.unwrap();
                s.write_all(&buf).await.unwrap();
                s.shutdown().await.ok();
            }
            ServerSide {
                result: Ok(info),
                received,
            }
        }
    }
}

/// What the client side of one connection saw.
#[derive(Debug)]
pub struct ClientSide {
    /// The handshake's outcome: the verified server, or why it failed.
    pub result: Result<PeerInfo, TlsError>,
    /// Everything read after the handshake (or before the error).
    pub received: Vec<u8>,
}

/// Connects with `client`, sends `hello`, reads until EOF.
pub async fn connect_once(addr: SocketAddr, client: &TlsClient) -> ClientSide {
    let tcp = TcpStream::connect(addr).await.unwrap();
    match client.connect(tcp, HANDSHAKE).await {
        Err(e) => ClientSide {
            result: Err(e),
            received: Vec::new(),
        },
        Ok((mut s, info)) => {
            let mut received = Vec::new();
            let _ = s.write_all(b"hello").await;
            let _ = s.read_to_end(&mut received).await;
            ClientSide {
                result: Ok(info),
                received,
            }
        }
    }
}

/// Runs one connection between our server and our client.
pub async fn run_pair(
    server: TlsSettings,
    client: TlsSettings,
    target: &str,
) -> (ServerSide, ClientSide) {
    let server = TlsServer::new(&server).unwrap();
    let client = TlsClient::new(&client, target).unwrap();
    run_with(server, &client, "127.0.0.1:0").await
}

/// Runs one connection between `server` and `client`, listening on `bind`.
pub async fn run_with(
    server: TlsServer,
    client: &TlsClient,
    bind: &str,
) -> (ServerSide, ClientSide) {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let srv = tokio::spawn(serve_once(listener, server));
    let cli = within(STEP, connect_once(addr, client)).await;
    let srv = within(STEP, srv).await.unwrap();
    (srv, cli)
}

/// A raw OpenSSL client: optional certificate, no verification of the server,
/// optional extra configuration (groups, versions).
pub fn raw_connector(
    cert: Option<&LeafFiles>,
    tweak: impl FnOnce(&mut openssl::ssl::SslConnectorBuilder),
) -> SslConnector {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_verify(SslVerifyMode::NONE);
    if let Some(c) = cert {
        b.set_certificate_chain_file(&c.cert).unwrap();
        b.set_private_key_file(&c.key, SslFiletype::PEM).unwrap();
    }
    tweak(&mut b);
    b.build()
}

/// Connects a raw client; returns the handshake outcome and what it read
/// (until EOF or error) after sending `hello`.
pub async fn raw_connect(
    addr: SocketAddr,
    connector: &SslConnector,
) -> (Result<String, openssl::ssl::Error>, Vec<u8>) {
    raw_connect_sni(addr, connector, Some("localhost")).await
}

/// [`raw_connect`] with a chosen SNI value (any text, even an IP literal) or none.
pub async fn raw_connect_sni(
    addr: SocketAddr,
    connector: &SslConnector,
    sni: Option<&str>,
) -> (Result<String, openssl::ssl::Error>, Vec<u8>) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut ssl = connector
        .configure()
        .unwrap()
        .use_server_name_indication(false)
        .verify_hostname(false)
        .into_ssl("unused")
        .unwrap();
    if let Some(name) = sni {
        ssl.set_hostname(name).unwrap();
    }
    ssl.set_verify(SslVerifyMode::NONE);
    let mut s = SslStream::new(ssl, tcp).unwrap();
    if let Err(e) = Pin::new(&mut s).connect().await {
        return (Err(e), Vec::new());
    }
    let proto = s.ssl().version_str().to_string();
    let _ = s.write_all(b"hello").await;
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
    (Ok(proto), received)
}

/// A raw OpenSSL server presenting `cert`, requiring a client certificate
/// from `ca` (or none with `ca = None`), with extra configuration.
pub fn raw_acceptor(
    cert: &LeafFiles,
    ca: Option<&Path>,
    tweak: impl FnOnce(&mut openssl::ssl::SslAcceptorBuilder),
) -> SslAcceptor {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    b.set_certificate_chain_file(&cert.cert).unwrap();
    b.set_private_key_file(&cert.key, SslFiletype::PEM).unwrap();
    match ca {
        Some(ca) => {
            b.set_ca_file(ca).unwrap();
            b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
        }
        None => b.set_verify(SslVerifyMode::NONE),
    }
    tweak(&mut b);
    b.build()
}

/// Anonymous suites only, allowed by security level 0.
pub const ANONYMOUS_SUITES: &str = "aNULL:@SECLEVEL=0";
/// NULL (unencrypted) suites only, allowed by security level 0.
pub const NULL_SUITES: &str = "eNULL:@SECLEVEL=0";

/// Restricts a raw peer to TLS 1.2 (where `cipher` lists apply) and `suites`.
pub fn tls12_with(b: &mut openssl::ssl::SslContextBuilder, suites: &str) {
    b.set_max_proto_version(Some(openssl::ssl::SslVersion::TLS1_2))
        .unwrap();
    b.set_cipher_list(suites).unwrap();
}

/// A raw OpenSSL server without any certificate, offering only anonymous
/// suites: the certificate-less joiner an attacker would run.
pub fn anonymous_acceptor() -> SslAcceptor {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    b.set_verify(SslVerifyMode::NONE);
    tls12_with(&mut b, ANONYMOUS_SUITES);
    b.build()
}

/// A raw OpenSSL client without any certificate, offering only anonymous suites.
pub fn anonymous_connector() -> SslConnector {
    raw_connector(None, |b| tls12_with(b, ANONYMOUS_SUITES))
}

/// Serves one connection with a raw acceptor: handshake, write SECRET, echo 5 bytes.
pub async fn raw_serve_once(
    listener: TcpListener,
    acceptor: SslAcceptor,
) -> Result<String, openssl::ssl::Error> {
    let (tcp, _) = listener.accept().await.unwrap();
    let ssl = Ssl::new(acceptor.context()).unwrap();
    let mut s = SslStream::new(ssl, tcp).unwrap();
    Pin::new(&mut s).accept().await?;
    let proto = s.ssl().version_str().to_string();
    let _ = s.write_all(SECRET).await;
    let mut buf = [0u8; 5];
    if s.read_exact(&mut buf).await.is_ok() {
        let _ = s.write_all(b"got:").await;
        let _ = s.write_all(&buf).await;
    }
    let _ = s.shutdown().await;
    Ok(proto)
}

/// Connects our client to a raw acceptor.
pub async fn client_vs_raw(
    acceptor: SslAcceptor,
    client: &TlsClient,
) -> (Result<String, openssl::ssl::Error>, ClientSide) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let srv = tokio::spawn(raw_serve_once(listener, acceptor));
    let cli = within(STEP, connect_once(addr, client)).await;
    let srv = within(STEP, srv).await.unwrap();
    (srv, cli)
}

/// Connects a raw client to our server.
pub async fn raw_vs_server(
    server: TlsServer,
    connector: &SslConnector,
) -> (ServerSide, (Result<String, openssl::ssl::Error>, Vec<u8>)) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let srv = tokio::spawn(serve_once(listener, server));
    let cli = within(STEP, raw_connect(addr, connector)).await;
    let srv = within(STEP, srv).await.unwrap();
    (srv, cli)
}

/// Asserts a handshake error and returns its text.
pub fn err_text<T: std::fmt::Debug>(r: &Result<T, TlsError>) -> String {
    match r {
        Ok(v) => panic!("expected a tls error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

/// True when `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Log lines captured by [`capture_logs`].
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every tracing event (debug and up) of this thread; `#[tokio::test]`
/// runs its tasks on the test thread, so spawned servers are captured too.
pub fn capture_logs() -> (tracing::subscriber::DefaultGuard, Logs) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (tracing::subscriber::set_default(subscriber), logs)
}
