//! Configuration: MariaDB option files and the validated settings.
//!
//! STUB: being written.

pub mod mycnf;
