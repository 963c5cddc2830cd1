//! STUB: demo, being written.
