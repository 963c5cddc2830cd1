//! The donor's rsync runs: the SST transfer sequence (sst-protocol.md §5.3).
//!
//! STUB: being written.
