//! Metrics of a gRPC server and of gRPC calls, by RPC and status:
//! `grpc_server_handled_total` and `grpc_server_handling_seconds` (a tower
//! layer for a tonic server), `grpc_client_handled_total` and
//! `grpc_client_handling_seconds` (recorded by [`crate::outbound`]).
//!
//! Written by hand: the crates that do this (tonic's own, tower-http's
//! metrics) either record through OpenTelemetry metrics or label by raw
//! path; ours go to the process's Prometheus recorder with the same
//! `service` label as every other family, and an unknown method never
//! becomes a label value (a client could invent any number of them).

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{LazyLock, RwLock},
    task::{Context, Poll},
    time::{Duration, Instant},
};

/// The canonical name of a gRPC status code (`OK`, `NOT_FOUND`, …).
pub fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

/// The handles of one RPC's series, made once: building label strings and
/// keys on every call showed in the HTTP path's profile (see
/// [`crate::metrics`]), and gRPC calls are as frequent.
type Series = (metrics::Counter, metrics::Histogram);

/// Per (side, service, status code): per `/package.Service/Method` path.
type SeriesBySide = HashMap<(&'static str, &'static str, i32), HashMap<String, Series>>;

static SERIES: LazyLock<RwLock<SeriesBySide>> = LazyLock::new(RwLock::default);

/// Counts and times one finished call. `side` is `server` or `client`;
/// `path` is `/package.Service/Method`, already `"/unknown/unknown"` for a
/// method the server does not have (so the cache stays bounded).
fn record(side: &'static str, service: &'static str, path: &str, code: i32, took: Duration) {
    let key = (side, service, code);
    let found = SERIES
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .and_then(|paths| paths.get(path))
        .cloned();
    let (handled, seconds) = found.unwrap_or_else(|| {
        let (grpc_service, grpc_method) = rpc_of(path);
        let labels = [
            ("service", service.to_owned()),
            ("grpc_service", grpc_service.to_owned()),
            ("grpc_method", grpc_method.to_owned()),
        ];
        let (handled, seconds) = match side {
            "server" => ("grpc_server_handled_total", "grpc_server_handling_seconds"),
            _ => ("grpc_client_handled_total", "grpc_client_handling_seconds"),
        };
        let mut with_code = labels.to_vec();
        with_code.push(("grpc_code", code_name(code).to_owned()));
        let series = (
            metrics::counter!(handled, &with_code),
            metrics::histogram!(seconds, &labels),
        );
        SERIES
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default()
            .insert(path.to_owned(), series.clone());
        series
    });
    seconds.record(took.as_secs_f64());
    handled.increment(1);
}

/// Records a call this process made (see [`crate::outbound`]).
pub(crate) fn record_client(service: &'static str, path: &str, code: i32, took: Duration) {
    record("client", service, path, code, took);
}

/// `(service, method)` of a gRPC path `/package.Service/Method`.
fn rpc_of(path: &str) -> (&str, &str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("unknown", "unknown"))
}

/// A tower layer for a tonic server that records every call in
/// `grpc_server_*` under `service`.
#[derive(Debug, Clone, Copy)]
pub struct GrpcServerMetrics {
    service: &'static str,
}

impl GrpcServerMetrics {
    /// Metrics labelled `service`.
    pub fn new(service: &'static str) -> Self {
        Self { service }
    }
}

impl<S> tower::Layer<S> for GrpcServerMetrics {
    type Service = GrpcServerMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerMetricsService {
            inner,
            service: self.service,
        }
    }
}

/// The service [`GrpcServerMetrics`] wraps around a tonic server.
#[derive(Debug, Clone)]
pub struct GrpcServerMetricsService<S> {
    inner: S,
    service: &'static str,
}

impl<S, B, RB> tower::Service<http::Request<B>> for GrpcServerMetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // A clone shares the URI's bytes: no allocation per call.
        let uri = request.uri().clone();
        let service = self.service;
        let started = Instant::now();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let answer = answer.await;
            // A failed call answers with its status in the headers
            // (trailers-only); a successful one sends `grpc-status: 0` in
            // trailers after the body, so no status header means OK.
            let code = match &answer {
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(if r.status().is_success() { 0 } else { 2 }),
                Err(_) => 2,
            };
            // An unknown method is not a label value: any client could
            // mint one per call.
            let path = if code == 12 {
                "/unknown/unknown"
            } else {
                uri.path()
            };
            record("server", service, path, code, started.elapsed());
            answer
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            rpc_of("/erp.inventory.v1.Inventory/CheckPurchase"),
            ("erp.inventory.v1.Inventory", "CheckPurchase")
        );
        assert_eq!(rpc_of("/nonsense"), ("unknown", "unknown"));
        assert_eq!(code_name(0), "OK");
        assert_eq!(code_name(14), "UNAVAILABLE");
        assert_eq!(code_name(99), "UNKNOWN");
    }
}
