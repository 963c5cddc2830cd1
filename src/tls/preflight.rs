//! Start-up checks of every configured TLS file: readable, parses, key
//! matches certificate, certificate chains to the CA, not expired.
//!
//! STUB: being written.
