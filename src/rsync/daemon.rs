//! The joiner's rsync daemon configuration and `rsync --server --daemon`
//! per connection, over pipes.
//!
//! STUB: being written.
