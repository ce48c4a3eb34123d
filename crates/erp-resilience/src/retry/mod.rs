//! A `tower::retry::Policy` for HTTP clients.
//!
//! Why a budget and not only a maximum count: with a bare maximum of four
//! attempts, an outage multiplies the load on the failing server by four at
//! exactly the wrong moment. A budget caps retries to a fraction of recent
//! traffic (tower's `TpsBudget`: 20 % plus a small floor), so retries help
//! with scattered failures but fade out when everything fails.

use std::{sync::Arc, time::Duration};

use http::{HeaderValue, Method, Request, Response, StatusCode, header::RETRY_AFTER};
use tower::retry::{
    Policy,
    budget::{Budget, TpsBudget},
};

use crate::{BoxError, backoff::Backoff};

/// The header carrying the attempt number (1 for the first try) to the callee.
pub const ATTEMPT_HEADER: &str = "x-retry-attempt";

/// Retry settings. The overall deadline and the per-attempt timeout are
/// tower `Timeout` layers around and inside the retry layer; `deadline` here
/// only stops retries that could not finish in time anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff between attempts.
    pub backoff: Backoff,
    /// Time all attempts together may take.
    pub deadline: Duration,
    /// Time one attempt may take.
    pub per_attempt: Duration,
    /// What the retried calls go to, as the `target` label of
    /// `erp_retry_attempts_total` (a fixed name, not a URL, so the series
    /// stay few).
    pub target: &'static str,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            backoff: Backoff::default(),
            deadline: Duration::from_secs(3),
            per_attempt: Duration::from_millis(500),
            target: "http",
        }
    }
}

/// The policy. Clone it into `tower::retry::RetryLayer::new(policy)`; the
/// budget is shared by all clones.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    config: RetryConfig,
    budget: Arc<TpsBudget>,
    rng: fastrand::Rng,
    /// Retries already made for the current request (per-request clone).
    retries: u32,
    /// Time already spent waiting or trying, as far as the policy can bound it.
    spent: Duration,
}

impl RetryPolicy {
    /// A policy with `config` and tower's default budget (10 s window,
    /// 10 retries/s floor, 20 % of requests).
    pub fn new(config: RetryConfig) -> Self {
        Self::with_budget(config, Arc::new(TpsBudget::default()))
    }

    /// A policy drawing on `budget`.
    pub fn with_budget(config: RetryConfig, budget: Arc<TpsBudget>) -> Self {
        // From the start, so an alert on its rate has a series to watch.
        metrics::counter!("erp_retry_attempts_total", "target" => config.target).increment(0);
        Self {
            config,
            budget,
            rng: fastrand::Rng::new(),
            retries: 0,
            spent: Duration::ZERO,
        }
    }

    /// Seeds the jitter, for reproducible tests.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.rng = fastrand::Rng::with_seed(seed);
        self
    }
}

/// Whether a failed attempt is worth repeating, and after how long at least.
enum Verdict {
    Final,
    Retry { after: Option<Duration> },
}

fn classify<B>(result: &Result<Response<B>, BoxError>) -> Verdict {
    match result {
        // Connect errors and timeouts: the request may not have arrived.
        Err(_) => Verdict::Retry { after: None },
        Ok(r) => match r.status() {
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Verdict::Retry {
                after: r
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after(v, std::time::SystemTime::now())),
            },
            _ => Verdict::Final,
        },
    }
}

/// A `Retry-After` value (RFC 9110 §10.2.3): delay seconds, or an HTTP
/// date, read as the time left until then (zero once it has passed).
fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Safe to send twice: idempotent methods, or a request carrying an
/// `Idempotency-Key` the server deduplicates on.
fn repeatable<B>(req: &Request<B>) -> bool {
    matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    ) || req.headers().contains_key("idempotency-key")
}

impl<B: Clone, Rb> Policy<Request<B>, Response<Rb>, BoxError> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        req: &mut Request<B>,
        result: &mut Result<Response<Rb>, BoxError>,
    ) -> Option<Self::Future> {
        let Verdict::Retry { after } = classify(result) else {
            return None;
        };
        if !repeatable(req) || self.retries + 1 >= self.config.max_attempts {
            return None;
        }
        let delay =
            after.unwrap_or_else(|| self.config.backoff.delay(self.retries + 1, &mut self.rng));
        // Each attempt costs at most `per_attempt`; give up early rather
        // than sleep past the deadline.
        let spent = self.spent + self.config.per_attempt + delay;
        if spent + self.config.per_attempt > self.config.deadline || !self.budget.withdraw() {
            return None;
        }
        self.spent = spent;
        self.retries += 1;
        req.headers_mut()
            .insert(ATTEMPT_HEADER, HeaderValue::from(self.retries + 1));
        tracing::debug!(attempt = self.retries + 1, ?delay, "retrying");
        metrics::counter!("erp_retry_attempts_total", "target" => self.config.target).increment(1);
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, req: &Request<B>) -> Option<Request<B>> {
        // Called once per original request, on the shared policy.
        self.budget.deposit();
        let mut clone = Request::new(req.body().clone());
        *clone.method_mut() = req.method().clone();
        *clone.uri_mut() = req.uri().clone();
        *clone.version_mut() = req.version();
        *clone.headers_mut() = req.headers().clone();
        clone
            .headers_mut()
            .insert(ATTEMPT_HEADER, HeaderValue::from(1));
        Some(clone)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::retry_after;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:57 GMT", now),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(retry_after("soon", SystemTime::UNIX_EPOCH), None);
        assert_eq!(retry_after("-1", now), None);
    }
}
