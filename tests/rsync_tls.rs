//! The whole data path with REAL rsync and REAL TLS, built only from this
//! branch's parts: the donor's rsync runs connect to a loopback relay that
//! pumps each connection into a TLS client; the joiner side accepts TLS
//! (over `EofWatch`, wrapped in `CloseNotify`) and pumps it into one
//! `rsync --server --daemon` per connection. Every relay must end cleanly
//! (close_notify both ways, no truncation, no timeout), and the trees match.

#![allow(clippy::expect_used)]

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use openssl::ssl::{Ssl, SslConnector, SslMethod, SslVerifyMode};
use sst_tunnel::meter::Meter;
use sst_tunnel::relay::{pump, RelayOpts};
use sst_tunnel::rsync::client::{send_data, send_marker};
use sst_tunnel::rsync::daemon::{spawn_server, DaemonConfig};
use sst_tunnel::rsync::ServerDirs;
use sst_tunnel::tls::{CloseNotify, EofWatch};
use testkit::pki::self_signed_acceptor;
use testkit::poll::{eventually, within};
use testkit::rsync::{check_joiner, dirs, donor_tree, plan, seed_joiner, STATE, STEP};
use tokio::net::{TcpListener, TcpStream};
use tokio_openssl::SslStream;
use tokio_util::sync::CancellationToken;

type Errors = Arc<Mutex<Vec<String>>>;

fn note(errors: &Errors, what: String) {
    errors.lock().expect("lock").push(what);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_through_tls_matches_and_every_relay_ends_cleanly() {
    let d = dirs();
    donor_tree(&d.d_data, &d.d_log);
    seed_joiner(&d);
    let errors: Errors = Arc::new(Mutex::new(Vec::new()));
    let meter = Arc::new(Meter::new());
    let opts = RelayOpts {
        meter: Some(meter.clone()),
        ..RelayOpts::default()
    };

    // Joiner: TLS listener → rsync daemon per connection.
    let conf = Arc::new(
        DaemonConfig::write(&ServerDirs::with_log_dir(d.j_data.clone(), d.j_log.clone()))
            .expect("config"),
    );
    let tls_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let joiner_addr = tls_listener.local_addr().expect("addr");
    let acc = self_signed_acceptor("joiner");
    // Every connection task holds a clone while it runs.
    let alive = Arc::new(());
    let (e, c, o, a) = (errors.clone(), conf.clone(), opts.clone(), alive.clone());
    let joiner = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((tcp, _)) = tls_listener.accept().await {
            let ssl = Ssl::new(acc.context()).expect("ssl");
            let (e, c, o, guard) = (e.clone(), c.clone(), o.clone(), a.clone());
            conns.spawn(async move {
                let _guard = guard;
                let mut tls = SslStream::new(ssl, EofWatch::new(tcp)).expect("stream");
                if let Err(err) = Pin::new(&mut tls).accept().await {
                    note(&e, format!("joiner handshake: {err}"));
                    return;
                }
                let mut server = spawn_server(&c).expect("server");
                let token = CancellationToken::new();
                if let Err(err) = pump(&mut server, CloseNotify::new(tls), &o, &token).await {
                    note(&e, format!("joiner pump: {err}"));
                }
                if let Err(err) = server.wait().await {
                    note(&e, format!("joiner server: {err}"));
                }
            });
        }
    });

    // Donor: loopback relay → TLS client.
    let relay = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let relay_addr = relay.local_addr().expect("addr");
    let mut conn = SslConnector::builder(SslMethod::tls()).expect("connector");
    conn.set_verify(SslVerifyMode::NONE);
    let conn = conn.build();
    let (e, a) = (errors.clone(), alive.clone());
    let donor = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((local, _)) = relay.accept().await {
            let ssl = conn
                .configure()
                .expect("configure")
                .into_ssl("joiner")
                .expect("ssl");
            let (e, guard) = (e.clone(), a.clone());
            conns.spawn(async move {
                let _guard = guard;
                let tcp = TcpStream::connect(joiner_addr).await.expect("connect");
                let mut tls = SslStream::new(ssl, EofWatch::new(tcp)).expect("stream");
                if let Err(err) = Pin::new(&mut tls).connect().await {
                    note(&e, format!("donor handshake: {err}"));
                    return;
                }
                let token = CancellationToken::new();
                let o = RelayOpts::default();
                if let Err(err) = pump(local, CloseNotify::new(tls), &o, &token).await {
                    note(&e, format!("donor pump: {err}"));
                }
            });
        }
    });

    let p = plan(&d, relay_addr);
    let token = CancellationToken::new();
    within(STEP, send_data(&p, &token))
        .await
        .expect("send_data");
    within(STEP, send_marker(&p, STATE, &token))
        .await
        .expect("send_marker");
    // Let the last relays finish their orderly close, then stop.
    // Three holders remain when idle: this test and the two accept loops.
    eventually(
        "joiner connections to end",
        std::time::Duration::from_secs(10),
        || Arc::strong_count(&alive) <= 3,
    )
    .await;
    donor.abort();
    joiner.abort();
    let errors = errors.lock().expect("lock").clone();
    assert!(errors.is_empty(), "relay errors: {errors:?}");
    drop(conf);
    check_joiner(&d);
    assert!(meter.inbound() > 3 << 20, "inbound {}", meter.inbound());
    assert!(meter.outbound() > 0);
}
