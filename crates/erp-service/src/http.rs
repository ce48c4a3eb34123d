//! What every service router gets: JSON 404/405 fallbacks, request ids,
//! request tracing; and serving with graceful shutdown.

use std::future::Future;

use axum::{
    Json, Router,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use tokio::net::TcpListener;
use tower_http::{
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::ApiError;

/// The header carrying the request (correlation) id.
pub const REQUEST_ID: &str = "x-request-id";

/// The longest a request may run on the server. Above every outbound
/// deadline (1 s gRPC, 3 s REST), so it only cuts requests that hang.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Ends a request that runs past [`REQUEST_TIMEOUT`] with a JSON 503. A
/// plain tower layer: `axum::middleware::from_fn` would box a future, a
/// `Next` and a clone of the inner route on every request.
#[derive(Debug, Clone, Copy)]
struct DeadlineLayer;

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline(inner)
    }
}

#[derive(Debug, Clone)]
struct Deadline<S>(S);

impl<S, B> tower::Service<http::Request<B>> for Deadline<S>
where
    S: tower::Service<http::Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        DeadlineFuture {
            inner: tokio::time::timeout(REQUEST_TIMEOUT, self.0.call(req)),
        }
    }
}

pin_project_lite::pin_project! {
    struct DeadlineFuture<F> {
        #[pin]
        inner: tokio::time::Timeout<F>,
    }
}

impl<F, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match std::task::ready!(self.project().inner.poll(cx)) {
            Ok(result) => std::task::Poll::Ready(result),
            Err(_elapsed) => std::task::Poll::Ready(Ok(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                "the request took too long; retry later",
            )
            .with_retry_after(1)
            .into_response())),
        }
    }
}

/// Adds `/metrics`, fallbacks and the standard layers. Call last, on the
/// full router. `access` guards it (see [`crate::auth`]): writes need the
/// API token when one is set, `/admin/` routes need the admin token and
/// are refused without one; reads, health and metrics stay open.
/// `service` labels the metrics.
pub fn finish(router: Router, service: &'static str, access: crate::auth::Access) -> Router {
    // Install the recorder now: metrics recorded before it exists are lost.
    crate::metrics::handle();
    // Each `Router::layer` call boxes every route once more, and a boxed
    // route is cloned (an allocation) and driven through its own future on
    // every request: the layers are grouped so a request pays for two boxes,
    // not one per layer. Two, because the 404/405 fallbacks go between
    // them: outside the token check and the route-template metrics, inside
    // the deadline, panic guard, request ids and span.
    let guarded = tower::ServiceBuilder::new()
        .layer(crate::auth::GuardLayer::new(access))
        .layer(crate::metrics::TrackLayer::new(service));
    let outer = tower::ServiceBuilder::new()
        // Outermost, so a request without an id takes its span's trace id.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(RequestSpan("http"))
                .on_response(RecordStatus),
        )
        .layer(SetRequestIdLayer::x_request_id(CorrelationIds))
        .layer(tower::util::MapRequestLayer::new(
            record_ids::<axum::body::Body>,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        // A panicking handler answers a JSON 500 that says nothing of the
        // panic (its message may hold paths or data); the panic is logged.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |panic: Box<dyn std::any::Any + Send>| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                ApiError::internal(format!("handler panicked: {what}")).into_response()
            },
        ))
        .layer(DeadlineLayer);
    router
        .merge(crate::metrics::routes())
        .layer(guarded)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept that method",
            )
        })
        .layer(outer)
}

/// Records the request id and the trace id (its `traceparent`'s, else the
/// one the request id stands for) on the current request span
/// ([`RequestSpan`]). Runs inside that span, after [`CorrelationIds`] made
/// sure there is a request id: with `tower::util::MapRequestLayer`, also
/// on a gRPC server.
pub fn record_ids<B>(request: http::Request<B>) -> http::Request<B> {
    // Request spans are DEBUG: with nothing listening at that level (the
    // default, traces off) skip even the look-up of the current span.
    if !tracing::level_enabled!(tracing::Level::DEBUG) {
        return request;
    }
    let span = tracing::Span::current();
    if !span.is_disabled() {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        let request_id = header(REQUEST_ID);
        let trace_id = erp_core::trace::trace_id_of_traceparent(header("traceparent"))
            .map(str::to_owned)
            .or_else(|| erp_core::trace::trace_id(request_id))
            .unwrap_or_default();
        span.record("request_id", request_id);
        span.record("trace_id", trace_id);
    }
    request
}

/// Completes a request's span with its status (OpenTelemetry semantic
/// conventions: a 5xx, or a gRPC status other than OK in the headers, is
/// an error) and logs it at DEBUG like tower-http does.
#[derive(Debug, Clone, Copy)]
pub struct RecordStatus;

impl<B> tower_http::trace::OnResponse<B> for RecordStatus {
    fn on_response(
        self,
        response: &http::Response<B>,
        latency: std::time::Duration,
        span: &tracing::Span,
    ) {
        if span.is_disabled() {
            return;
        }
        let status = response.status();
        span.record("http.response.status_code", status.as_u16());
        let grpc_status = response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u16>().ok());
        if let Some(code) = grpc_status {
            span.record("rpc.grpc.status_code", code);
        }
        // gRPC errors that only arrive in trailers are not seen here; the
        // client's span records them.
        if status.is_server_error() || grpc_status.is_some_and(is_grpc_server_error) {
            span.record("otel.status_code", "ERROR");
        }
        tower_http::trace::DefaultOnResponse::default().on_response(response, latency, span);
    }
}

/// gRPC codes that are the server's fault (semantic conventions for RPC
/// server spans): UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
/// UNAVAILABLE, DATA_LOSS.
fn is_grpc_server_error(code: u16) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

/// The span of one incoming request (REST, or gRPC with
/// `RequestSpan("grpc")`): method, path, its request id and its trace id
/// (that of its `traceparent`, else the one its request id stands for), so
/// the spans of one request in every service share a trace id. At DEBUG,
/// like tower-http's default span, so it costs nothing unless asked for
/// (`RUST_LOG=erp_service::http=debug`) or exported as the OpenTelemetry
/// server span (then its parent is the caller's `traceparent`, and its
/// name and attributes follow the semantic conventions).
#[derive(Debug, Clone, Copy)]
pub struct RequestSpan(pub &'static str);

impl<B> tower_http::trace::MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &http::Request<B>) -> tracing::Span {
        use tracing::field::Empty;
        // Probes and scrapes come every few seconds and say nothing about
        // a business flow: no span, so no trace per probe.
        let path = request.uri().path();
        if path.starts_with("/health/")
            || path == "/metrics"
            || path.starts_with("/grpc.health.v1.Health/")
        {
            return tracing::Span::none();
        }
        let span = tracing::debug_span!(
            "request",
            protocol = self.0,
            method = %request.method(),
            path = request.uri().path(),
            request_id = Empty,
            trace_id = Empty,
            otel.kind = "server",
            otel.name = Empty,
            otel.status_code = Empty,
            http.request.method = %request.method(),
            http.route = Empty,
            http.response.status_code = Empty,
            url.path = request.uri().path(),
            rpc.system = Empty,
            rpc.service = Empty,
            rpc.method = Empty,
            rpc.grpc.status_code = Empty,
        );
        // Parent and name before anything reads the span's context: that
        // starts the OpenTelemetry span, which then keeps both.
        if span.is_disabled() {
            return span;
        }
        let traceparent = request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok());
        erp_bus::trace_context::set_remote_parent(&span, traceparent);
        if self.0 == "grpc" {
            // `/package.Service/Method`
            let (service, method) = path
                .trim_start_matches('/')
                .split_once('/')
                .unwrap_or((path, ""));
            span.record("rpc.system", "grpc");
            span.record("rpc.service", service);
            span.record("rpc.method", method);
            span.record("otel.name", path.trim_start_matches('/'));
        } else if let Some(route) = request.extensions().get::<axum::extract::MatchedPath>() {
            span.record("http.route", route.as_str());
            span.record(
                "otel.name",
                format!("{} {}", request.method(), route.as_str()),
            );
        } else {
            span.record("otel.name", request.method().as_str());
        }
        span
    }
}

/// Makes the request id of a request that has no `x-request-id`: the trace
/// id of its W3C `traceparent` when it has one (so our logs join the
/// caller's trace), else the trace id of its exported span (a UUID v7, see
/// [`crate::telemetry`]), else a fresh UUID v7.
#[derive(Debug, Clone, Copy)]
pub struct CorrelationIds;

impl MakeRequestId for CorrelationIds {
    fn make_request_id<B>(&mut self, request: &http::Request<B>) -> Option<RequestId> {
        let from_trace = request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(|tp| tp.split('-').nth(1))
            .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
        if let Some(id) = from_trace {
            return HeaderValue::from_str(id).ok().map(RequestId::new);
        }
        let uuid = erp_bus::trace_context::current_trace_id()
            .map_or_else(uuid::Uuid::now_v7, |t| uuid::Uuid::from_bytes(t.to_bytes()));
        // Hyphenated on the stack: one allocation (the header's) per request.
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = uuid.hyphenated().encode_lower(&mut text);
        HeaderValue::from_str(text).ok().map(RequestId::new)
    }
}

/// The correlation id of a request: its `x-request-id` (set by [`finish`]
/// when the client sent none).
pub fn correlation_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| erp_core::EventId::new().to_string(), str::to_owned)
}

/// 201 with a `Location` header and a JSON body.
pub fn created(location: &str, body: &impl Serialize) -> Response {
    let mut r = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Serves `router` on `listener` until `shutdown` completes, then lets
/// in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// 200 with a JSON body.
pub fn ok(body: &impl Serialize) -> Response {
    Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, routing::get};
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("secret /etc/passwd detail")
    }

    async fn hang() -> &'static str {
        tokio::time::sleep(REQUEST_TIMEOUT * 2).await;
        "too late"
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_past_its_deadline_gets_a_json_503_with_retry_after() {
        let app = finish(
            Router::new().route("/hang", get(hang)),
            "test",
            Default::default(),
        );
        let r = app
            .oneshot(http::Request::get("/hang").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()["retry-after"], "1");
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(
            String::from_utf8_lossy(&bytes).contains("request_timeout"),
            "{bytes:?}"
        );
    }

    #[tokio::test]
    async fn a_panic_becomes_a_json_500_without_its_message() {
        let app = finish(
            Router::new().route("/boom", get(boom)),
            "test",
            Default::default(),
        );
        let r = app
            .oneshot(http::Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("internal_error"), "{text}");
        assert!(
            !text.contains("passwd") && !text.contains("secret"),
            "{text}"
        );
    }
}
