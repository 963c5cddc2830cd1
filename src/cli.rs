//! STUB: cli, being written.
