//! The joiner's book of open donor connections (address and certificate
//! subject), so that a stall names who stopped sending.

use std::net::SocketAddr;

use crate::tls::PeerInfo;

/// The donor connections carrying data right now, for the stall message.
#[derive(Debug, Default)]
pub(super) struct OpenPeers {
    inner: std::sync::Mutex<PeerBook>,
}

#[derive(Debug, Default)]
struct PeerBook {
    next: u64,
    open: std::collections::BTreeMap<u64, String>,
    last: Option<String>,
}

impl OpenPeers {
    /// Records an open connection; it is forgotten when the guard drops.
    pub(super) fn open(&self, peer: SocketAddr, info: &PeerInfo) -> PeerGuard<'_> {
        let text = format!("{peer} ({})", info.subject);
        let id = match self.inner.lock() {
            Ok(mut book) => {
                book.next += 1;
                let id = book.next;
                book.open.insert(id, text.clone());
                book.last = Some(text);
                Some(id)
            }
            Err(_) => None,
        };
        PeerGuard { peers: self, id }
    }

    /// `ADDR (SUBJECT), …` of the open connections, else the last one.
    pub(super) fn describe(&self) -> String {
        let Ok(book) = self.inner.lock() else {
            return "(unknown)".into();
        };
        if !book.open.is_empty() {
            return book.open.values().cloned().collect::<Vec<_>>().join(", ");
        }
        match &book.last {
            Some(last) => format!("{last} (no connection open)"),
            None => "(no connection open)".into(),
        }
    }
}

pub(super) struct PeerGuard<'a> {
    peers: &'a OpenPeers,
    id: Option<u64>,
}

impl Drop for PeerGuard<'_> {
    fn drop(&mut self) {
        if let (Some(id), Ok(mut book)) = (self.id, self.peers.inner.lock()) {
            book.open.remove(&id);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn info(subject: &str) -> PeerInfo {
        PeerInfo {
            subject: subject.into(),
            names: Vec::new(),
            ..PeerInfo::default()
        }
    }

    #[test]
    fn names_open_connections_then_the_last_one() {
        let peers = OpenPeers::default();
        assert_eq!(peers.describe(), "(no connection open)");
        let a: SocketAddr = "10.0.0.2:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:1001".parse().unwrap();
        let ga = peers.open(a, &info("CN=donor"));
        {
            let _gb = peers.open(b, &info("CN=donor"));
            assert_eq!(
                peers.describe(),
                "10.0.0.2:1000 (CN=donor), 10.0.0.2:1001 (CN=donor)"
            );
        }
        assert_eq!(peers.describe(), "10.0.0.2:1000 (CN=donor)");
        drop(ga);
        assert_eq!(
            peers.describe(),
            "10.0.0.2:1001 (CN=donor) (no connection open)"
        );
    }
}
