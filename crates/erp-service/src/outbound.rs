//! Spans of outbound calls (gRPC and HTTP clients) and the `traceparent`
//! they send: the client span's when traces are exported, so the server's
//! span is its child; else one derived from the correlation id
//! ([`erp_core::trace::outbound_traceparent`]), so logs still join.

use tracing::field::Empty;

/// The client span of a gRPC call to `/{service}/{method}` (OpenTelemetry semantic conventions for RPC). Run the call in it
/// (`Instrument`) and send [`traceparent`] of it.
pub fn grpc_client_span(service: &str, method: &str) -> tracing::Span {
    let span = tracing::debug_span!(
        "grpc call",
        otel.kind = "client",
        otel.name = Empty,
        otel.status_code = Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = Empty,
    );
    erp_bus::trace_context::prepare(&span, None, || format!("{service}/{method}"));
    span
}

/// Records a finished gRPC call to `path` (`/package.Service/Method`) made
/// by `service`: its status code
/// (`tonic::Code as i32`) on its client span (an error for any code but
/// OK, 0), and in `grpc_client_handled_total` / `grpc_client_handling_seconds`.
pub fn record_grpc_call(
    span: &tracing::Span,
    service: &'static str,
    path: &str,
    code: i32,
    took: std::time::Duration,
) {
    crate::grpc_metrics::record_client(service, path, code, took);
    if span.is_disabled() {
        return;
    }
    span.record("rpc.grpc.status_code", code);
    if code != 0 {
        span.record("otel.status_code", "ERROR");
    }
}

/// The client span of an HTTP call, `method` to `url`.
pub fn http_client_span(method: &http::Method, url: &str) -> tracing::Span {
    tracing::debug_span!(
        "http call",
        otel.kind = "client",
        otel.name = %method,
        otel.status_code = Empty,
        http.request.method = %method,
        url.full = url,
        http.response.status_code = Empty,
    )
}

/// Records an HTTP call's answer on its client span (a 4xx or 5xx is an
/// error on the client side), or its failure with `None`.
pub fn record_http_status(span: &tracing::Span, status: Option<http::StatusCode>) {
    if span.is_disabled() {
        return;
    }
    match status {
        Some(status) => {
            span.record("http.response.status_code", status.as_u16());
            if status.is_client_error() || status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
        }
        None => {
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// The `traceparent` a call made in `span` sends: the span's own when
/// traces are exported, else the correlation id's trace with a new span
/// id; `None` when neither exists.
pub fn traceparent(span: &tracing::Span, correlation_id: &str) -> Option<String> {
    erp_bus::trace_context::traceparent_of(span)
        .or_else(|| erp_core::trace::outbound_traceparent(correlation_id))
}
