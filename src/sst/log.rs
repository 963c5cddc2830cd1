//! The stderr log format of SST scripts (sst-protocol.md §3.3):
//! `WSREP_SST: [INFO|WARNING|ERROR] message key=value (YYYYMMDD HH:MM:SS.mmm)`,
//! local time, one line per event. mariadbd copies stderr raw into its error
//! log, so operators see our lines exactly where the stock scripts' appear.
//!
//! DEBUG and TRACE events (when the filter lets them through) are labelled
//! INFO: the convention knows only three levels.

use std::fmt::{self, Write as _};

use chrono::Local;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The environment variable holding a `RUST_LOG`-style filter.
pub const FILTER_ENV: &str = "SST_TUNNEL_LOG";

/// The `tracing_subscriber` event formatter for the `WSREP_SST:` convention.
#[derive(Clone, Copy, Debug, Default)]
pub struct SstFormat;

/// The label for a tracing level.
pub fn level_label(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        _ => "INFO",
    }
}

/// Collects the message and the other fields of one event.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(self.rest, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={:?}", field.name(), value);
        }
    }
}

impl<S, N> FormatEvent<S, N> for SstFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        write!(
            writer,
            "WSREP_SST: [{}] {}{}",
            level_label(event.metadata().level()),
            fields.message,
            fields.rest
        )?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                if let Some(formatted) = ext.get::<FormattedFields<N>>() {
                    if !formatted.is_empty() {
                        write!(writer, " {formatted}")?;
                    }
                }
            }
        }
        writeln!(writer, " ({})", Local::now().format("%Y%m%d %H:%M:%S%.3f"))
    }
}

/// The global subscriber could not be installed (one is already set).
#[derive(Debug, thiserror::Error)]
#[error("cannot install the stderr logger")]
pub struct LogInitError {
    /// The cause reported by `tracing_subscriber`.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

/// Installs the SST-mode logger: [`SstFormat`] on stderr, no colours, with
/// the filter from `SST_TUNNEL_LOG` when set, else `default`.
pub fn init(default: LevelFilter) -> Result<(), LogInitError> {
    let filter = EnvFilter::builder()
        .with_default_directive(default.into())
        .with_env_var(FILTER_ENV)
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .event_format(SstFormat)
        .with_env_filter(filter)
        .try_init()
        .map_err(|source| LogInitError { source })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(max: LevelFilter, f: impl FnOnce()) -> Vec<String> {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .event_format(SstFormat)
            .with_max_level(max)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    /// Splits `... (YYYYMMDD HH:MM:SS.mmm)` and checks the timestamp's shape.
    fn strip_time(line: &str) -> &str {
        let (head, time) = line.rsplit_once(" (").unwrap_or_else(|| panic!("{line}"));
        let time = time.strip_suffix(')').unwrap_or_else(|| panic!("{line}"));
        let b = time.as_bytes();
        assert_eq!(b.len(), 21, "{time}");
        for (i, c) in b.iter().enumerate() {
            match i {
                8 => assert_eq!(*c, b' ', "{time}"),
                11 | 14 => assert_eq!(*c, b':', "{time}"),
                17 => assert_eq!(*c, b'.', "{time}"),
                _ => assert!(c.is_ascii_digit(), "{time}"),
            }
        }
        let today = Local::now().format("%Y%m%d").to_string();
        let yesterday = (Local::now() - chrono::Duration::days(1))
            .format("%Y%m%d")
            .to_string();
        assert!(
            time.starts_with(&today) || time.starts_with(&yesterday),
            "{time}"
        );
        head
    }

    #[test]
    fn levels_messages_and_fields() {
        let lines = capture(LevelFilter::INFO, || {
            tracing::info!("joiner listening");
            tracing::warn!(peer = "127.0.0.1:5000", bytes = 12u64, "relay closed");
            tracing::error!(path = %"/var/lib/mysql/sst_error", "flush tables failed");
            tracing::debug!("filtered out");
        });
        let heads: Vec<&str> = lines.iter().map(|l| strip_time(l)).collect();
        assert_eq!(
            heads,
            vec![
                "WSREP_SST: [INFO] joiner listening",
                "WSREP_SST: [WARNING] relay closed peer=127.0.0.1:5000 bytes=12",
                "WSREP_SST: [ERROR] flush tables failed path=/var/lib/mysql/sst_error",
            ]
        );
    }

    #[test]
    fn debug_and_trace_are_labelled_info() {
        let lines = capture(LevelFilter::TRACE, || {
            tracing::debug!("d");
            tracing::trace!("t");
        });
        let heads: Vec<&str> = lines.iter().map(|l| strip_time(l)).collect();
        assert_eq!(heads, vec!["WSREP_SST: [INFO] d", "WSREP_SST: [INFO] t"]);
    }

    #[test]
    fn span_fields_follow_event_fields() {
        let lines = capture(LevelFilter::INFO, || {
            let span = tracing::info_span!("conn", peer = 7);
            let _g = span.enter();
            tracing::info!(n = 1, "opened");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(strip_time(&lines[0]), "WSREP_SST: [INFO] opened n=1 peer=7");
    }
}
