//! Tracing set-up shared by every binary.

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` overrides the default `info`.
/// Safe to call twice (the second call does nothing), so the all-in-one
/// binary and tests can share it.
pub fn init(format: LogFormat) {
    init_with_default(format, "info");
}

/// Added to every default filter. lapin logs each message the broker
/// returns as unroutable at WARN, with the whole message as a byte list
/// (kilobytes each); the bus adapter already turns a return into
/// `BusError::Unroutable` for its caller, who decides (the relay retries;
/// an unheard `stock.changed` is fine). Under load that log was 2 MB/s of
/// noise and CPU. `RUST_LOG` replaces the whole default, this included.
const QUIET: &str = "lapin::returned_messages=error";

/// The filter used when `RUST_LOG` is not set.
fn default_filter(level: &str) -> EnvFilter {
    EnvFilter::new(format!("{level},{QUIET}"))
}

/// Like [`init`], with another default filter than `info`.
pub fn init_with_default(format: LogFormat, default_filter_directives: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default_filter(default_filter_directives));
    // Colour only for a terminal: logs redirected to files (scripts/stack.sh,
    // systemd, containers) stay free of escape codes.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = fmt().with_env_filter(filter).with_ansi(ansi);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_default_filter_drops_lapins_returned_message_warnings_only() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = fmt()
            .with_env_filter(default_filter("info"))
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "lapin::returned_messages", "returned message: [1, 2, 3]");
            tracing::warn!(target: "lapin::channel", "a channel warning");
            tracing::info!(target: "erp_bus", "an info line");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("returned message"), "{text}");
        assert!(text.contains("a channel warning"), "{text}");
        assert!(text.contains("an info line"), "{text}");
    }
}
