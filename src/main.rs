//! The `sst-tunnel` binary (also `wsrep_sst_rsync_tunnel`). STUB.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(sst_tunnel::ExitCode::Failure.code())
}
