//! Logging: `tracing` with one line per request (from `tracing-actix-web`'s
//! span, closed when the response is sent) carrying the request id, method,
//! route, status and latency. Text for people, JSON for log shippers.
//! `RUST_LOG` filters (default `info`). Logs go to stderr, so the command
//! line's own output on stdout stays clean for scripts.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

/// Installs the global subscriber; call once, at start-up.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_target(false)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if let Err(error) = installed {
        eprintln!("logging already initialised: {error}");
    }
}
