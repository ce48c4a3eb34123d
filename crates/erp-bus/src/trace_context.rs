//! OpenTelemetry context across process boundaries, as W3C `traceparent`
//! strings: what a span hands to the next hop (HTTP and gRPC headers, AMQP
//! headers, an outbox record) and how a span on the other side takes it
//! as its parent.
//!
//! Spans are `tracing` spans; an OpenTelemetry layer
//! (`tracing-opentelemetry`, installed by `erp_service::telemetry` when an
//! OTLP endpoint is configured) gives them trace and span ids. Without that
//! layer every function here returns `None` or does nothing, at the cost of
//! a lookup, so callers fall back to the correlation id's trace
//! ([`erp_core::trace::outbound_traceparent`]).
//!
//! A span is exported when it declares an `otel.kind` field (`server`,
//! `client`, `producer`, `consumer`); see `erp_service::telemetry`.

use opentelemetry::{
    Context,
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState},
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `traceparent` naming `span`, when an OpenTelemetry layer gave it
/// ids; `None` for a disabled span or without that layer.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    let otel = context.span();
    let ids = otel.span_context();
    ids.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            ids.trace_id(),
            ids.span_id(),
            ids.trace_flags().to_u8()
        )
    })
}

/// The `traceparent` naming the current span (see [`traceparent_of`]).
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// The trace id of the current span, when an OpenTelemetry layer gave it
/// one.
pub fn current_trace_id() -> Option<TraceId> {
    let span = tracing::Span::current();
    if span.is_disabled() {
        return None;
    }
    let id = span.context().span().span_context().trace_id();
    (id != TraceId::INVALID).then_some(id)
}

/// Makes `span` a child of the remote span a `traceparent` names. Does
/// nothing when `traceparent` is absent or malformed, for a disabled span,
/// or without an OpenTelemetry layer. Call before the span is first
/// entered.
pub fn set_remote_parent(span: &tracing::Span, traceparent: Option<&str>) {
    if span.is_disabled() {
        return;
    }
    if let Some(parent) = traceparent.and_then(parse) {
        // Fails only when the span is already closed or has no OTel data:
        // then there is nothing to link, by definition.
        let _ = span.set_parent(Context::new().with_remote_span_context(parent));
    }
}

/// Readies a span that will be exported: its remote parent (from a
/// `traceparent`, if any) and its name, both before anything reads its
/// context (that starts the OpenTelemetry span, which then keeps them).
/// Nothing happens for a disabled span, and `name` is only built for an
/// enabled one.
pub fn prepare(span: &tracing::Span, traceparent: Option<&str>, name: impl FnOnce() -> String) {
    if span.is_disabled() {
        return;
    }
    set_remote_parent(span, traceparent);
    span.record("otel.name", name());
}

/// The span context of a well-formed `traceparent`, as a remote parent.
fn parse(traceparent: &str) -> Option<SpanContext> {
    let trace = erp_core::trace::trace_id_of_traceparent(traceparent)?;
    let mut parts = traceparent.split('-').skip(2);
    let span = parts.next()?;
    let flags = u8::from_str_radix(parts.next()?, 16).ok()?;
    Some(SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(span).ok()?,
        TraceFlags::new(flags),
        true,
        TraceState::default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_parses_into_a_remote_sampled_parent() {
        let sc = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_sampled() && sc.is_remote());
        let unsampled = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        assert!(!unsampled.is_sampled());
        assert!(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01").is_none());
        assert!(parse("garbage").is_none());
    }

    #[test]
    fn without_an_opentelemetry_layer_there_is_no_context_to_hand_on() {
        let span = tracing::info_span!("no layer");
        assert_eq!(traceparent_of(&span), None);
        set_remote_parent(
            &span,
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        assert_eq!(span.in_scope(current_traceparent), None);
    }
}
