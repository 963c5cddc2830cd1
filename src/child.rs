//! Supervision of child processes (rsync): own process group, parent-death
//! signal, no inherited stdout or stray descriptors, stderr drained into a
//! bounded tail, the whole group killed and reaped at teardown.
//!
//! STUB: being written.
