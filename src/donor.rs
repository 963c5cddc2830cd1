//! STUB: donor, being written.
