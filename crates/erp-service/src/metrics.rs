//! Prometheus metrics: one process-wide recorder (the `metrics` facade with
//! its Prometheus exporter), `GET /metrics`, and the HTTP middleware that
//! counts and times requests by route *template* and status (never by raw
//! path, which would make one series per id).

use std::{sync::OnceLock, time::Instant};

use axum::{
    Router,
    extract::{MatchedPath, Request},
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
/// Process metrics (CPU, memory, file descriptors, threads, start time),
/// read from the OS on each scrape.
static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();

/// Latency buckets in seconds: sub-millisecond to the 3 s retry deadline.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0,
];

/// How often buffered histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The `service` label every series gets unless it sets its own.
static SERVICE: OnceLock<&'static str> = OnceLock::new();

/// Installs the recorder with `service` as the default `service` label of
/// every series (a series that sets its own keeps it), so families recorded
/// by the libraries (breaker, retries, consumers) say which process they
/// come from. Call first thing in `main` (`telemetry::install` does); a
/// later call changes nothing.
pub fn install(service: &'static str) -> &'static PrometheusHandle {
    let _ = SERVICE.set(service);
    handle()
}

/// The process-wide handle; installs the recorder on first use. Services in
/// one process (all-in-one) share it and are told apart by their `service`
/// label.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let mut builder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .expect("static, non-empty buckets");
        if let Some(service) = SERVICE.get() {
            builder = builder.add_global_label("service", *service);
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        describe();
        PROCESS
            .get_or_init(metrics_process::Collector::default)
            .describe();
        metrics::gauge!("erp_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        spawn_upkeep(handle.clone());
        handle
    })
}

/// HELP text for every family the SDK exports (Prometheus tooling, and
/// `promtool check metrics`, want one on each).
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by service, method, route template and status"
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by service, method, route template and status"
    );
    describe_counter!(
        "erp_events_published_total",
        "Messages the bus accepted, by event type"
    );
    describe_counter!("erp_events_consumed_total", "Deliveries handled, by queue");
    describe_counter!(
        "erp_events_retried_total",
        "Deliveries a handler asked to retry, by queue"
    );
    describe_counter!(
        "erp_events_dead_lettered_total",
        "Deliveries dead-lettered, by queue"
    );
    describe_counter!(
        "erp_events_unroutable_total",
        "Messages no queue was bound for, by routing key"
    );
    describe_gauge!(
        "erp_outbox_backlog",
        "Events waiting in the outbox to be handed on"
    );
    describe_gauge!(
        "erp_outbox_oldest_age_seconds",
        Unit::Seconds,
        "Age of the oldest event still waiting in the outbox after the relay's last pass; 0 when none waits"
    );
    describe_counter!(
        "erp_outbox_quarantined_total",
        "Outbox records taken out of the flow because they could not be handed on"
    );
    describe_gauge!(
        "erp_breaker_state",
        "Circuit breaker state: 0 closed, 1 half-open, 2 open"
    );
    describe_counter!(
        "erp_breaker_transitions_total",
        "Circuit breaker state changes, by target state"
    );
    describe_histogram!(
        "erp_event_handling_seconds",
        Unit::Seconds,
        "Time a handler took over a delivery, by queue and outcome (ack, retry, dead_letter)"
    );
    describe_gauge!(
        "erp_build_info",
        "The SDK version this process runs; always 1"
    );
    describe_gauge!(
        "erp_dead_letters",
        "Dead letters waiting in a queue's dead-letter queue, by queue (sampled every 15 s on RabbitMQ)"
    );
    describe_counter!(
        "grpc_server_handled_total",
        "gRPC calls answered, by service, gRPC service, method and status code"
    );
    describe_histogram!(
        "grpc_server_handling_seconds",
        Unit::Seconds,
        "Time to answer a gRPC call (to its response headers), by service, gRPC service and method"
    );
    describe_counter!(
        "grpc_client_handled_total",
        "gRPC calls made, by calling service, gRPC service, method and status code"
    );
    describe_histogram!(
        "grpc_client_handling_seconds",
        Unit::Seconds,
        "Time a gRPC call took, by calling service, gRPC service and method"
    );
    describe_counter!(
        "erp_trace_spans_ended_total",
        "Sampled trace spans that ended; those neither exported nor failed were dropped by the full export queue"
    );
    describe_counter!(
        "erp_trace_spans_total",
        "Trace spans handed to the OTLP exporter, by outcome (exported, export_failed)"
    );
    describe_counter!(
        "erp_retry_attempts_total",
        "Retries made by the HTTP retry policy, by target (first attempts not counted)"
    );
}

/// The exporter buffers every histogram sample until someone folds them
/// into buckets: a scrape does, and so must this upkeep, or a service that
/// nobody scrapes grows by every request it times. `build_recorder` (which
/// we need, to own the handle without the exporter's own HTTP listener)
/// leaves upkeep to the caller. A plain thread, so it runs whatever runtime
/// (or none) the first caller is on.
fn spawn_upkeep(handle: PrometheusHandle) {
    let started = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "no metrics upkeep thread; histograms drain on scrape only");
    }
}

/// Metrics in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "observability", responses(
    (status = 200, description = "Prometheus text exposition format", content_type = "text/plain")
))]
pub async fn render() -> Response {
    if let Some(process) = PROCESS.get() {
        process.collect();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle().render(),
    )
        .into_response()
}

/// `GET /metrics`.
pub fn routes() -> Router {
    Router::new().route("/metrics", get(render))
}

/// The handles of one series pair, per (service, method, status) then route
/// template: a request looks its pair up without allocating, where building
/// the labels and keys anew cost a dozen allocations per request.
type Series = std::collections::HashMap<
    (&'static str, axum::http::Method, u16),
    std::collections::HashMap<Box<str>, (metrics::Counter, metrics::Histogram)>,
>;

static SERIES: std::sync::LazyLock<std::sync::RwLock<Series>> =
    std::sync::LazyLock::new(Default::default);

fn series(
    service: &'static str,
    method: &axum::http::Method,
    route: &str,
    status: u16,
) -> (metrics::Counter, metrics::Histogram) {
    let key = (service, method.clone(), status);
    if let Some(found) = SERIES
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .and_then(|routes| routes.get(route))
    {
        return found.clone();
    }
    let labels = [
        ("service", service.to_owned()),
        ("method", method.to_string()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    let pair = (
        metrics::counter!("http_requests_total", &labels),
        metrics::histogram!("http_request_duration_seconds", &labels),
    );
    SERIES
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .entry(key)
        .or_default()
        .insert(route.into(), pair.clone());
    pair
}

/// Counts (`http_requests_total`) and times (`http_request_duration_seconds`)
/// every request, labelled by service, method, route template and status
/// ([`crate::http::finish`] installs it). A plain tower service with its
/// own future: `axum::middleware::from_fn` would box a future, a `Next`
/// and a clone of the inner route on every request.
#[derive(Debug, Clone, Copy)]
pub struct TrackLayer {
    service: &'static str,
}

impl TrackLayer {
    /// Labels the series with `service`.
    pub fn new(service: &'static str) -> Self {
        Self { service }
    }
}

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track {
            service: self.service,
            inner,
        }
    }
}

/// The service of [`TrackLayer`].
#[derive(Debug, Clone)]
pub struct Track<S> {
    service: &'static str,
    inner: S,
}

impl<S> tower::Service<Request> for Track<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        TrackFuture {
            service: self.service,
            route: req.extensions().get::<MatchedPath>().cloned(),
            method: req.method().clone(),
            started: Instant::now(),
            inner: self.inner.call(req),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Track`]: records the request when its answer is ready.
    pub struct TrackFuture<F> {
        service: &'static str,
        route: Option<MatchedPath>,
        method: axum::http::Method,
        started: Instant,
        #[pin]
        inner: F,
    }
}

impl<F, E> std::future::Future for TrackFuture<F>
where
    F: std::future::Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
            let (requests, duration) =
                series(this.service, this.method, route, response.status().as_u16());
            requests.increment(1);
            duration.record(this.started.elapsed().as_secs_f64());
        }
        std::task::Poll::Ready(result)
    }
}
