//! The tokio runtime every entry point builds.

/// The runtime: one thread. The tunnel's work is
/// syscalls and AES; on the 2-core hosts it was measured on, handing buffers
/// between worker threads cost more CPU per GiB than it gained
/// (docs/performance.md), and children spawned from the one thread keep
/// their parent-death signal for the whole life of the process.
pub fn build() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
