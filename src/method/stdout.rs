//! The one writer of mariadbd's stdout protocol in a method run, shared
//! by the role and its progress task.

use std::sync::{Arc, Mutex};

use crate::error::Error;
use crate::sst::protocol::{ProtocolError, ProtocolWriter};

/// The stdout protocol writer, shared by the role and its progress task.
pub type Protocol = Arc<Mutex<ProtocolWriter<std::io::Stdout>>>;

/// Writes one protocol line through the shared writer.
pub fn say(
    protocol: &Protocol,
    line: impl FnOnce(&mut ProtocolWriter<std::io::Stdout>) -> Result<(), ProtocolError>,
) -> Result<(), Error> {
    let mut w = protocol.lock().map_err(|_| Error::StdoutPoisoned)?;
    line(&mut w).map_err(|e| Error::Sst(e.into()))
}
