//! `/health/live` (the process answers) and `/health/ready` (its
//! dependencies answer), with per-dependency detail:
//! `{"status":"ready","checks":{"bus":{"status":"up","required":true}}}`.
//! Readiness is 503 when a *required* check is down; optional checks only
//! show in the body (a purchase service keeps taking orders while the broker
//! is down, its outbox holds the events). From the moment shutdown begins
//! ([`Health::start_draining`]) readiness is 503 with status `draining`.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_trait::async_trait;
use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde_json::{Map, Value, json};

/// One dependency's health.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// Name in the readiness body.
    fn name(&self) -> &'static str;
    /// Whether readiness fails when this check does.
    fn required(&self) -> bool;
    /// Whether the dependency answers now.
    async fn is_up(&self) -> bool;
}

/// A check from a cheap synchronous closure (a flag, a watch channel).
pub struct FnCheck<F> {
    name: &'static str,
    required: bool,
    f: F,
}

impl<F> std::fmt::Debug for FnCheck<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnCheck")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<F: Fn() -> bool + Send + Sync> FnCheck<F> {
    /// A check named `name` that is up when `f` returns true.
    pub fn new(name: &'static str, required: bool, f: F) -> Self {
        Self { name, required, f }
    }
}

#[async_trait]
impl<F: Fn() -> bool + Send + Sync> HealthCheck for FnCheck<F> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn required(&self) -> bool {
        self.required
    }
    async fn is_up(&self) -> bool {
        (self.f)()
    }
}

/// The checks behind `/health/ready`. Clones share the draining flag.
#[derive(Clone, Default)]
pub struct Health {
    checks: Vec<Arc<dyn HealthCheck>>,
    draining: Arc<AtomicBool>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.checks.iter().map(|c| c.name()))
            .finish()
    }
}

impl Health {
    /// No checks: always ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a check.
    pub fn with(mut self, check: impl HealthCheck + 'static) -> Self {
        self.checks.push(Arc::new(check));
        self
    }

    /// Shutdown has begun: readiness is 503 from now on, whatever the
    /// checks say, so load balancers and the gRPC health watch stop sending.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether [`Health::start_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Runs the checks every `every` until `stop` fires, and logs each
    /// change of a dependency: one WARN when it goes down, one INFO when it
    /// is back, naming it. Requests failing meanwhile log at DEBUG only, so
    /// an outage is two lines, not one per request.
    pub async fn log_transitions(
        self,
        every: std::time::Duration,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let mut known: std::collections::HashMap<&'static str, bool> = Default::default();
        loop {
            for c in &self.checks {
                let up = c.is_up().await;
                match known.insert(c.name(), up) {
                    Some(true) if !up => tracing::warn!(
                        dependency = c.name(),
                        required = c.required(),
                        "dependency down"
                    ),
                    Some(false) if up => {
                        tracing::info!(dependency = c.name(), "dependency back up")
                    }
                    None if !up => tracing::warn!(
                        dependency = c.name(),
                        required = c.required(),
                        "dependency down at start"
                    ),
                    _ => {}
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    /// Runs every check: whether ready, and the body.
    pub async fn report(&self) -> (bool, Value) {
        let mut ready = true;
        let mut checks = Map::new();
        for c in &self.checks {
            let up = c.is_up().await;
            ready &= up || !c.required();
            checks.insert(
                c.name().to_owned(),
                json!({"status": if up { "up" } else { "down" }, "required": c.required()}),
            );
        }
        let status = if self.is_draining() {
            ready = false;
            "draining"
        } else if ready {
            "ready"
        } else {
            "not_ready"
        };
        (ready, json!({"status": status, "checks": checks}))
    }
}

/// The process answers.
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, description = "alive")))]
pub async fn live() -> Json<Value> {
    Json(json!({"status": "live"}))
}

/// Every required dependency answers; the body lists each one.
#[utoipa::path(get, path = "/health/ready", tag = "health", responses(
    (status = 200, description = "ready; body lists each dependency"),
    (status = 503, description = "a required dependency is down, or the service is shutting down (`draining`)"),
))]
pub async fn ready(State(h): State<Health>) -> (StatusCode, Json<Value>) {
    let (ready, body) = h.report().await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// The two health routes.
pub fn routes(health: Health) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(health)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer into a shared buffer, for reading back what was logged.
    #[derive(Clone, Default)]
    struct Buffer(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn an_outage_logs_one_line_down_and_one_line_back() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let up = Arc::new(AtomicBool::new(true));
        let probe = up.clone();
        let h = Health::new().with(FnCheck::new("store", true, move || {
            probe.load(Ordering::SeqCst)
        }));
        let stop = tokio_util::sync::CancellationToken::new();
        let watcher =
            tokio::spawn(h.log_transitions(std::time::Duration::from_millis(5), stop.clone()));
        let lines = |needle: &str| {
            String::from_utf8(buffer.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .filter(|l| l.contains(needle))
                .count()
        };
        let until = |needle: &'static str| {
            let lines = &lines;
            async move {
                for _ in 0..400 {
                    if lines(needle) > 0 {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                panic!("never logged {needle}");
            }
        };
        up.store(false, Ordering::SeqCst);
        until("dependency down").await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await; // ten more checks
        up.store(true, Ordering::SeqCst);
        until("dependency back up").await;
        stop.cancel();
        watcher.await.unwrap();
        assert_eq!(lines("dependency down"), 1, "one line for the outage");
        assert_eq!(lines("dependency back up"), 1, "one line for the recovery");
        assert_eq!(lines("dependency=\"store\""), 2, "naming the dependency");
    }

    #[tokio::test]
    async fn draining_makes_readiness_fail_for_every_clone() {
        let h = Health::new().with(FnCheck::new("store", true, || true));
        let served = h.clone();
        assert!(served.report().await.0);
        h.start_draining();
        let (ready, body) = served.report().await;
        assert!(!ready);
        assert_eq!(body["status"], "draining");
        assert_eq!(body["checks"]["store"]["status"], "up");
    }

    #[tokio::test]
    async fn only_required_checks_decide_readiness() {
        let h = Health::new()
            .with(FnCheck::new("store", true, || true))
            .with(FnCheck::new("bus", false, || false));
        let (ready, body) = h.report().await;
        assert!(ready);
        assert_eq!(body["checks"]["bus"]["status"], "down");
        let h = h.with(FnCheck::new("consumer", true, || false));
        let (ready, body) = h.report().await;
        assert!(!ready);
        assert_eq!(body["status"], "not_ready");
    }
}
