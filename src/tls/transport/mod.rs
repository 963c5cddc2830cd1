//! What TLS runs over, and what sits between it and its user: TCP with
//! writes gathered into large sends and reads served from large receives
//! ([`Coalesce`]), a transport that
//! remembers a bare TCP end of file ([`EofWatch`]), and the stream that
//! counts an end of file only with `close_notify` ([`CloseNotify`]).

mod close_notify;
mod coalesce;

pub use close_notify::{CloseNotify, EofWatch};
pub use coalesce::Coalesce;
