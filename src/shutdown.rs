//! STUB: shutdown, being written.
