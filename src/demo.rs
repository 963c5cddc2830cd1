//! `sst-tunnel demo`. STUB: being written.

use crate::cli::DemoArgs;
use crate::error::Error;
use crate::exit::ExitCode;
use crate::shutdown::Shutdown;

/// Runs the demo.
pub async fn run(_args: DemoArgs, _shutdown: Shutdown) -> Result<ExitCode, Error> {
    Err(Error::Usage("demo not written yet".into()))
}
