//! STUB: joiner, being written.
