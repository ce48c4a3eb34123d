//! Logs and traces, set up the same way by every binary.
//!
//! Logs: `tracing` to stdout, filtered by `RUST_LOG` (default `info`).
//!
//! Traces: OpenTelemetry over OTLP when an endpoint is configured (the
//! standard variables, see [`TraceArgs`]); off otherwise, and then nothing
//! is recorded for them. Exported spans are the ones that declare an
//! `otel.kind` field: a request's server span, its outbound gRPC and HTTP
//! client spans, the relay's publish (producer) span and a consumer's
//! processing span. They carry W3C context across every hop
//! ([`erp_bus::trace_context`]). Export never blocks a request: spans wait
//! in a bounded batch queue (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048) that drops
//! when full (the SDK logs the first drop and the total at exit);
//! `erp_trace_spans_ended_total` counts the sampled spans that ended and
//! `erp_trace_spans_total{outcome}` what reached the collector
//! (`exported`) and what an export lost (`export_failed`, the collector
//! down or too slow); ended minus both is what the full queue dropped
//! (give or take the spans still queued).

use clap::{Args, ValueEnum};
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    trace::{
        BatchSpanProcessor, IdGenerator, RandomIdGenerator, SdkTracerProvider, SpanData,
        SpanExporter, SpanProcessor,
    },
};
use tracing_subscriber::{
    EnvFilter, Layer, filter::filter_fn, fmt, layer::SubscriberExt, util::SubscriberInitExt,
};

use crate::config::LogFormat;

/// OTLP wire protocols (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OtlpProtocol {
    /// Protobuf over HTTP, to `<endpoint>/v1/traces` (the default, port 4318).
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    /// gRPC, to `<endpoint>` (port 4317).
    #[value(name = "grpc")]
    Grpc,
}

/// Where traces go. The standard OpenTelemetry variables apply as well:
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is), `OTEL_SERVICE_NAME`
/// (default: the binary's name), `OTEL_TRACES_SAMPLER` and
/// `OTEL_TRACES_SAMPLER_ARG` (default: parent-based, always on),
/// `OTEL_BSP_*` (the batch queue), and `OTEL_SDK_DISABLED=true` turns
/// traces off.
#[derive(Debug, Clone, Default, Args)]
pub struct TraceArgs {
    /// OTLP collector base URL, e.g. `http://127.0.0.1:4318`; unset = no
    /// traces exported.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// OTLP protocol: `http/protobuf` or `grpc`.
    #[arg(
        long,
        env = "OTEL_EXPORTER_OTLP_PROTOCOL",
        value_enum,
        default_value = "http/protobuf"
    )]
    pub otlp_protocol: Option<OtlpProtocol>,
}

impl TraceArgs {
    /// Where spans are sent, or `None` when traces are off.
    fn traces_endpoint(&self) -> Option<String> {
        let off = |name: &str, value: &str| {
            std::env::var(name).is_ok_and(|v| v.trim().eq_ignore_ascii_case(value))
        };
        if off("OTEL_SDK_DISABLED", "true") || off("OTEL_TRACES_EXPORTER", "none") {
            return None;
        }
        if let Ok(url) = std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            && !url.trim().is_empty()
        {
            return Some(url);
        }
        let base = self.otlp_endpoint.as_deref()?.trim();
        if base.is_empty() {
            return None;
        }
        Some(match self.protocol() {
            // The base URL of the generic variable takes the signal's path.
            OtlpProtocol::HttpProtobuf => format!("{}/v1/traces", base.trim_end_matches('/')),
            OtlpProtocol::Grpc => base.to_owned(),
        })
    }

    fn protocol(&self) -> OtlpProtocol {
        self.otlp_protocol.unwrap_or(OtlpProtocol::HttpProtobuf)
    }
}

/// Keeps trace export running; flushes what is queued when dropped, at the
/// end of `main`.
#[derive(Debug, Default)]
#[must_use = "dropping it stops trace export"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // Bounded: a collector that is down costs at most this at exit.
            if let Err(e) = provider.shutdown_with_timeout(std::time::Duration::from_secs(5)) {
                tracing::warn!(error = %e, "trace export did not shut down cleanly");
            }
        }
    }
}

/// Installs the global subscriber with logs only. `RUST_LOG` overrides the
/// default `info`. Safe to call twice (the second call does nothing), so
/// the all-in-one binary and tests can share it.
pub fn init(format: LogFormat) {
    drop(install(format, "info", "erp", &TraceArgs::default()));
}

/// Installs the metrics recorder, logs and, when `traces` (or the
/// environment) names an OTLP
/// endpoint, trace export under `service_name` (unless `OTEL_SERVICE_NAME`
/// says otherwise). Call once, inside the Tokio runtime (the gRPC exporter
/// needs it), and keep the returned guard until the end of `main`. A
/// second call installs nothing.
pub fn install(
    format: LogFormat,
    default_filter_directives: &str,
    service_name: &'static str,
    traces: &TraceArgs,
) -> Telemetry {
    // The metrics recorder first, before anything records: counts made
    // before it exists are lost (e.g. the series a client creates at 0).
    crate::metrics::install(service_name);
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default_filter(default_filter_directives));
    // Colour only for a terminal: logs redirected to files (scripts/stack.sh,
    // systemd, containers) stay free of escape codes.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let (provider, exporter_error) = match traces.traces_endpoint() {
        None => (None, None),
        Some(endpoint) => match tracer_provider(service_name, &endpoint, traces.protocol()) {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(format!("{endpoint}: {e}"))),
        },
    };
    let spans = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("erp"))
            // Lean spans: no source locations, thread names or busy/idle
            // timings, which every span would otherwise carry.
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_level(false)
            .with_filter(filter_fn(|meta| meta.is_span() && exported(meta)))
    });
    let installed = match spans {
        // The filter per layer: spans go to OpenTelemetry whatever the
        // log level.
        Some(spans) => tracing_subscriber::registry()
            .with(logs(format, ansi).with_filter(filter))
            .with(spans)
            .try_init(),
        // One global filter, as cheap as it gets: what it disables costs
        // nothing at all (per-layer filtering checks on every callsite).
        None => tracing_subscriber::registry()
            .with(filter)
            .with(logs(format, ansi))
            .try_init(),
    }
    .is_ok();
    if let Some(error) = exporter_error {
        tracing::error!(%error, "OTLP trace exporter not started; running without traces");
    }
    if !installed {
        return Telemetry::default();
    }
    if provider.is_some() {
        metrics::counter!("erp_trace_spans_ended_total").increment(0);
        for outcome in ["exported", "export_failed"] {
            metrics::counter!("erp_trace_spans_total", "outcome" => outcome).increment(0);
        }
    }
    if let Some(endpoint) = provider.as_ref().and(traces.traces_endpoint()) {
        tracing::info!(%endpoint, protocol = ?traces.protocol(), "exporting traces over OTLP");
    }
    Telemetry { provider }
}

/// The log output layer, for whatever subscriber stack it goes on.
fn logs<S>(format: LogFormat, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    match format {
        LogFormat::Json => fmt::layer().json().boxed(),
        LogFormat::Pretty => fmt::layer().with_ansi(ansi).boxed(),
    }
}

/// Whether a span is one of those exported: it declares `otel.kind`.
fn exported(meta: &tracing::Metadata<'_>) -> bool {
    meta.fields().field("otel.kind").is_some()
}

fn tracer_provider(
    service_name: &'static str,
    endpoint: &str,
    protocol: OtlpProtocol,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let exporter = match protocol {
        OtlpProtocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint)
            .build()?,
        OtlpProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()?,
    };
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service_name);
    }
    let resource = resource
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_resource(resource)
        .with_id_generator(RequestIds)
        .with_span_processor(Ended(
            BatchSpanProcessor::builder(Counted(exporter)).build(),
        ))
        .build())
}

/// Trace ids that are UUID v7s, like the services' request ids: a request
/// that arrives without a trace answers with its trace id as its
/// `x-request-id`, and ids stay time-ordered. 74 of the 128 bits are
/// random, ample for trace ids.
#[derive(Debug)]
struct RequestIds;

impl IdGenerator for RequestIds {
    fn new_trace_id(&self) -> TraceId {
        TraceId::from_bytes(*uuid::Uuid::now_v7().as_bytes())
    }

    fn new_span_id(&self) -> SpanId {
        RandomIdGenerator::default().new_span_id()
    }
}

/// The batch processor, counting every sampled span that ends
/// (`erp_trace_spans_ended_total`): what the exporter never saw of them
/// was dropped by the full queue.
#[derive(Debug)]
struct Ended<P>(P);

impl<P: SpanProcessor> SpanProcessor for Ended<P> {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        metrics::counter!("erp_trace_spans_ended_total").increment(1);
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

/// The OTLP exporter, counting what it hands on and what it loses.
#[derive(Debug)]
struct Counted<E>(E);

impl<E: SpanExporter> SpanExporter for Counted<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let result = self.0.export(batch).await;
        let outcome = if result.is_ok() {
            "exported"
        } else {
            "export_failed"
        };
        metrics::counter!("erp_trace_spans_total", "outcome" => outcome).increment(n);
        result
    }

    fn shutdown_with_timeout(&mut self, timeout: std::time::Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&mut self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
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
