//! # erp-resilience
//!
//! Resilience for outbound calls, as `tower` layers usable on hyper/reqwest
//! style HTTP clients and on tonic channels.
//!
//! | module | what |
//! |---|---|
//! | [`breaker`] | [`CircuitBreakerLayer`]: closed → open on a failure ratio over a sliding window (with a minimum of calls), fails fast while open with the remaining open time, half-open admits at most *k* probes however many callers race, state-change hooks, readable state and counters |
//! | [`retry`] | [`RetryPolicy`], a `tower::retry::Policy` for HTTP: exponential backoff with full jitter, attempt limit, a retry budget, `Retry-After`, a classifier (connect errors, timeouts, 429/502/503/504; never other 4xx), `Retry-After` in seconds or as an HTTP date, the attempt number in `x-retry-attempt`, and non-idempotent requests retried only with an `Idempotency-Key` |
//! | [`backoff`] | the jittered exponential backoff both use |
//!
//! Timeouts are tower's own `tower::timeout::TimeoutLayer`; a typical
//! stack, outermost first:
//!
//! ```text
//! Timeout(overall deadline) → Retry(RetryPolicy) → Timeout(per attempt) → client   (REST)
//! CircuitBreaker → Timeout(per call) → tonic Channel                                 (gRPC)
//! ```
//!
//! Defaults follow the design: retry at most 4 attempts, backoff from 50 ms
//! capped at 1 s, 500 ms per attempt, 3 s overall; breaker window 10 s with
//! at least 5 calls, opens at 50 % failures, for 15 s, 1 half-open probe.
//!
//! ## Example
//!
//! A breaker around a service that keeps failing opens, then refuses at
//! once with the time it stays open (what a `Retry-After` should say):
//!
//! ```
//! use erp_resilience::{BreakerConfig, BreakerOpen, CircuitBreakerLayer, breaker::ErrorsOnly};
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let down = service_fn(|_: ()| async { Err::<(), _>(std::io::Error::other("timed out")) });
//! let breaker = CircuitBreakerLayer::new("inventory", BreakerConfig::default(), ErrorsOnly)
//!     .layer(down);
//! let mut refused = None;
//! for _ in 0..20 {
//!     if let Err(e) = breaker.clone().oneshot(()).await {
//!         refused = BreakerOpen::find(e.as_ref()).map(BreakerOpen::retry_after_secs);
//!     }
//! }
//! assert!(refused.is_some_and(|secs| secs >= 1), "the breaker opened");
//! # });
//! ```

// Every public item is documented: the crate is used from other projects.
#![warn(missing_docs)]

pub mod backoff;
pub mod breaker;
pub mod retry;

pub use breaker::{
    BreakerConfig, BreakerOpen, BreakerState, CircuitBreaker, CircuitBreakerLayer, Classify,
};
pub use retry::{RetryConfig, RetryPolicy};

/// The error type of the layers: whatever the inner service failed with, or
/// a layer's own error such as [`BreakerOpen`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
