//! The contract with mariadbd: `wsrep_sst_rsync_tunnel` argv, stdout lines,
//! files in the data directory.
//!
//! STUB: being written.
