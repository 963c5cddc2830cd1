//! SST addresses through `SstAddress::parse`: no panic, errors have a
//! message that quotes the address (masked when it has a secret), and an
//! accepted address written back (`[user:pw@]host:port[/module]`, its
//! `ready` form, its bind target, the same host with any other port) parses
//! to the same host and port.

use sst_tunnel::sst::address::{check_address_chars, AddressError, BindTarget, SstAddress};
use sst_tunnel::sst::MODULE;

/// Runs one input; panics when an invariant does not hold.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = check_address_chars(&text);
    match SstAddress::parse(&text) {
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty());
            if !matches!(e, AddressError::Auth { .. }) {
                assert!(
                    msg.contains(text.as_ref()),
                    "{msg:?} does not quote {text:?}"
                );
            }
            let _ = e.exit_code();
        }
        Ok(a) => {
            assert!(!a.host_unbracketed.is_empty(), "{a:?}");
            if a.is_ipv6() {
                assert_eq!(a.host, format!("[{}]", a.host_unbracketed));
            } else {
                assert_eq!(a.host, a.host_unbracketed);
            }
            // Written back whole.
            let mut back = String::new();
            if let Some(auth) = &a.auth {
                back.push_str(&format!("{}:{}@", auth.user, auth.secret()));
            }
            back.push_str(&a.authority());
            if let Some(module) = &a.module {
                back.push('/');
                back.push_str(module);
            }
            let again = SstAddress::parse(&back)
                .unwrap_or_else(|e| panic!("{back:?} written back from {text:?}: {e}"));
            assert_eq!(again, a, "{back:?}");
            // The joiner's ready address is what the donor will parse.
            if let Ok(ready) = a.ready_address() {
                let donor = SstAddress::parse(&ready)
                    .unwrap_or_else(|e| panic!("ready {ready:?} of {text:?}: {e}"));
                assert_eq!((&donor.host, donor.port), (&a.host, a.port), "{ready:?}");
                assert_eq!(donor.module.as_deref(), Some(MODULE));
            }
            // The joiner advertises its host with the port it really bound.
            for port in [0, 1, 4444, a.port.wrapping_add(1), u16::MAX] {
                let moved = a.with_port(port).authority();
                let again = SstAddress::parse(&moved)
                    .unwrap_or_else(|e| panic!("{moved:?} (from {text:?}): {e}"));
                assert_eq!(
                    (&again.host, again.port),
                    (&a.host, port),
                    "{moved:?} from {text:?}"
                );
            }
            if let BindTarget::Ip(sock) = a.bind_target() {
                assert_eq!(sock.port(), a.port);
                let bound = SstAddress::parse(&a.bind_target().lookup_string())
                    .unwrap_or_else(|e| panic!("bind target of {text:?}: {e}"));
                assert_eq!(bound.port, a.port);
            }
        }
    }
}
