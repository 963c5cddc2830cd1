//! Throwaway certificates (CA and node certificates) made with the openssl
//! crate, for the demo and the tests.
//!
//! STUB: being written.
