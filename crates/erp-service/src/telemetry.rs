//! Tracing set-up shared by every binary.

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` overrides the default `info`.
/// Safe to call twice (the second call does nothing), so the all-in-one
/// binary and tests can share it.
pub fn init(format: LogFormat) {
    init_with_default(format, "info");
}

/// Like [`init`], with another default filter than `info`.
pub fn init_with_default(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
