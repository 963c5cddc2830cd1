//! The handshake checks: `--peer HOST:PORT` connects as a donor would and
//! `--listen [HOST:]PORT` accepts as a joiner would, both through the SST's
//! own [`TlsClient`](crate::tls::TlsClient) / [`TlsServer`](crate::tls::TlsServer), so chain, name, purpose, the donor
//! allow-list and the refusal of anonymous, certificate-less and NULL-cipher
//! peers are judged exactly as in a transfer (each such refusal is a FAIL).
//! Each side reports what the other presented; no byte of application data
//! is sent, and no rsync runs.

use std::time::Duration;

use openssl::x509::X509;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::report::{Finding, Report};
use crate::config::Settings;
use crate::exit::chain;
use crate::shutdown::Shutdown;
use crate::sst::address::SstAddress;
use crate::tls::policy::{subject_line, CertNames};
use crate::tls::{PeerInfo, TlsStream};

/// How long a finished check connection may take to close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// One line describing a certificate: subject, names, issuer, validity.
pub fn describe_cert(cert: &X509) -> String {
    format!(
        "subject {}, names [{}], issuer {}, valid {} until {}",
        subject_line(cert.subject_name()),
        CertNames::from_cert(cert).display_list().join(", "),
        subject_line(cert.issuer_name()),
        cert.not_before(),
        cert.not_after()
    )
}

fn describe_peer(info: &PeerInfo) -> String {
    format!(
        "subject {}, names [{}], issuer {}, valid {} until {}",
        info.subject,
        info.names.join(", "),
        info.issuer,
        info.not_before,
        info.not_after
    )
}

fn quietly<T>(f: impl FnOnce() -> T) -> T {
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), f)
}

async fn close(mut stream: TlsStream) {
    let _best_effort = tokio::time::timeout(CLOSE_WAIT, stream.shutdown()).await;
}

/// `--peer`: one handshake as a donor, reported.
pub async fn peer(settings: &Settings, target: &str, ours: Option<&X509>, report: &mut Report) {
    let subject = format!("--peer {target}");
    let address = match SstAddress::parse(target) {
        Ok(a) => a,
        Err(e) => return report.add(Finding::fail(subject, e.to_string())),
    };
    let client = match quietly(|| settings.tls_client(&address.host_unbracketed)) {
        Ok(c) => c,
        Err(e) => {
            return report.add(Finding::fail(
                subject,
                format!("no handshake attempted: {}", chain(&e)),
            ))
        }
    };
    let connect = settings.timeouts.connect;
    let host = address.host_unbracketed.as_str();
    let tcp = match tokio::time::timeout(connect, TcpStream::connect((host, address.port))).await {
        Err(_) => {
            return report.add(Finding::fail(
                subject,
                format!("no TCP connection within {}s", connect.as_secs_f64()),
            ))
        }
        Ok(Err(e)) => {
            return report.add(Finding::fail(subject, format!("cannot connect: {e}")));
        }
        Ok(Ok(t)) => t,
    };
    let (stream, info) = match client.connect(tcp, settings.timeouts.handshake).await {
        Ok(r) => r,
        Err(e) => return report.add(Finding::fail(subject, chain(&e))),
    };
    // TlsClient::connect refuses a joiner without a verified certificate
    // (anonymous suites included) and NULL suites: those are FAIL above.
    report.add(Finding::ok(
        &subject,
        format!(
            "mutual TLS handshake complete: {}, cipher {}; the peer accepted our certificate",
            info.protocol, info.cipher
        ),
    ));
    report.add(Finding::ok(
        format!("{subject} presented"),
        describe_peer(&info),
    ));
    match (client.expected_name(), &info.name_match) {
        (Some(expected), Some(m)) => report.add(Finding::ok(
            &subject,
            format!(
                "name check passed: `{expected}` matched {} by {}",
                m.name, m.rule
            ),
        )),
        (Some(expected), None) => report.add(Finding::warn(
            &subject,
            format!("name `{expected}` was not checked (verify=0)"),
        )),
        (None, _) => report.add(Finding::warn(
            &subject,
            "no name check: commonname= (cn=) is empty in [sst] sockopt, so any certificate \
             from the trusted CA is accepted as this joiner",
        )),
    }
    if let Some(cert) = ours {
        report.add(Finding::ok("we presented", describe_cert(cert)));
    }
    close(stream).await;
}

/// `--listen`'s address: `PORT` (all interfaces) or `HOST[:PORT]`.
fn listen_address(spec: &str) -> Result<SstAddress, crate::sst::address::AddressError> {
    if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) {
        return SstAddress::parse(&format!("0.0.0.0:{spec}"));
    }
    SstAddress::parse(spec)
}

/// `--listen`: accepts handshakes as a joiner would, one at a time, each
/// bounded by the handshake timeout, until interrupted (or the first
/// success with `once`).
pub async fn listen(
    settings: &Settings,
    spec: &str,
    once: bool,
    shutdown: &Shutdown,
    report: &mut Report,
) {
    let subject = "--listen";
    let address = match listen_address(spec) {
        Ok(a) => a,
        Err(e) => return report.add(Finding::fail(subject, e.to_string())),
    };
    let server = match quietly(|| settings.tls_server()) {
        Ok(s) => s,
        Err(e) => {
            return report.add(Finding::fail(
                subject,
                format!("not listening: {}", chain(&e)),
            ))
        }
    };
    let (listener, bound) = match crate::joiner::bind_listener(&address).await {
        Ok(l) => l,
        Err(e) => return report.add(Finding::fail(subject, chain(&e))),
    };
    let handshake = settings.timeouts.handshake;
    report.add(Finding::ok(
        subject,
        format!(
            "listening on {bound} for check handshakes (handshake timeout {}s; {})",
            handshake.as_secs_f64(),
            if once {
                "until the first success"
            } else {
                "until interrupted"
            }
        ),
    ));
    let token = shutdown.token().clone();
    loop {
        let accepted = tokio::select! {
            _ = token.cancelled() => return,
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                report.add(Finding::warn(subject, format!("accept failed: {e}")));
                continue;
            }
        };
        let client = format!("--listen client {peer}");
        let result = tokio::select! {
            _ = token.cancelled() => return,
            r = server.accept(tcp, handshake) => r,
        };
        match result {
            Err(e) => report.add(Finding::fail(client, chain(&e))),
            Ok((stream, info)) => {
                report.add(Finding::ok(
                    &client,
                    format!(
                        "mutual TLS handshake complete: {}, cipher {}",
                        info.protocol, info.cipher
                    ),
                ));
                report.add(Finding::ok(
                    format!("{client} presented"),
                    describe_peer(&info),
                ));
                match &info.name_match {
                    _ if !info.authenticated => report.add(Finding::warn(
                        &client,
                        "verify=0: the client certificate was not checked",
                    )),
                    Some(m) => report.add(Finding::ok(
                        &client,
                        format!("name check passed: matched {} by {}", m.name, m.rule),
                    )),
                    None => report.add(Finding::ok(
                        &client,
                        "chain verified; no name check on donors (as a joiner, unless \
                         commonname= is set)",
                    )),
                }
                if let Some(a) = &info.allowed {
                    report.add(Finding::ok(
                        &client,
                        format!(
                            "donor allow-list passed: `{}` matched {} by {}",
                            a.allowed, a.matched.name, a.matched.rule
                        ),
                    ));
                }
                close(stream).await;
                if once {
                    return;
                }
            }
        }
    }
}
