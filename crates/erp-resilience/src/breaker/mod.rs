//! The circuit breaker service. Shaped like tower's `load_shed`: the
//! decision is taken in `poll_ready`, which holds a permit (or a refusal)
//! for the next `call`; a refused call fails fast without touching the
//! inner service.

mod classify;
mod error;
mod future;
mod layer;
mod state;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

pub use classify::{Classify, ErrorsOnly, GrpcFailures};
pub use error::BreakerOpen;
pub use future::ResponseFuture;
pub use layer::CircuitBreakerLayer;
pub use state::{BreakerConfig, BreakerState};
use state::{Machine, Outcome, Permit};
use tokio::time::Instant;
use tower::Service;

use crate::BoxError;

type Hook = dyn Fn(BreakerState) + Send + Sync;

/// Counters, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BreakerStats {
    /// Calls passed to the inner service.
    pub admitted: u64,
    /// Calls refused without touching it.
    pub rejected: u64,
    /// State changes.
    pub transitions: u64,
}

pub(crate) struct Shared<C> {
    name: &'static str,
    machine: Mutex<Machine>,
    classifier: C,
    on_transition: Option<Arc<Hook>>,
    admitted: AtomicU64,
    rejected: AtomicU64,
    transitions: AtomicU64,
}

impl<C> Shared<C> {
    fn machine(&self) -> std::sync::MutexGuard<'_, Machine> {
        // Every critical section leaves the machine consistent; a panic in a
        // hook must not wedge the breaker.
        self.machine.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn announce(&self, transition: Option<BreakerState>) {
        if let Some(state) = transition {
            self.transitions.fetch_add(1, Ordering::Relaxed);
            let (value, to) = match state {
                BreakerState::Closed => (0.0, "closed"),
                BreakerState::HalfOpen => (1.0, "half_open"),
                BreakerState::Open { .. } => (2.0, "open"),
            };
            metrics::gauge!("erp_breaker_state", "breaker" => self.name).set(value);
            metrics::counter!("erp_breaker_transitions_total", "breaker" => self.name, "to" => to)
                .increment(1);
            tracing::info!(breaker = self.name, ?state, "circuit breaker changed state");
            if let Some(hook) = &self.on_transition {
                hook(state);
            }
        }
    }

    pub(crate) fn finish(&self, permit: Permit, outcome: Outcome) {
        let transition = self.machine().record(permit, outcome, Instant::now());
        self.announce(transition);
    }
}

/// A circuit breaker around `S`; clones share one state.
pub struct CircuitBreaker<S, C> {
    inner: S,
    shared: Arc<Shared<C>>,
    /// Decided in `poll_ready`, consumed by `call`.
    ticket: Option<Result<future::PermitGuard<C>, std::time::Duration>>,
}

impl<S: Clone, C> Clone for CircuitBreaker<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            ticket: None,
        }
    }
}

impl<S: std::fmt::Debug, C> std::fmt::Debug for CircuitBreaker<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.shared.name)
            .field("state", &self.state())
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S, C> CircuitBreaker<S, C> {
    /// The state now.
    pub fn state(&self) -> BreakerState {
        self.shared.machine().peek(Instant::now())
    }

    /// Counters since creation.
    pub fn stats(&self) -> BreakerStats {
        BreakerStats {
            admitted: self.shared.admitted.load(Ordering::Relaxed),
            rejected: self.shared.rejected.load(Ordering::Relaxed),
            transitions: self.shared.transitions.load(Ordering::Relaxed),
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, Req> Service<Req> for CircuitBreaker<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, S::Error>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if self.ticket.is_none() {
            let (decision, transition) = self.shared.machine().acquire(Instant::now());
            self.shared.announce(transition);
            self.ticket =
                Some(decision.map(|p| future::PermitGuard::new(Arc::clone(&self.shared), p)));
        }
        match &self.ticket {
            // Refused: ready to fail fast; the inner service is not polled.
            Some(Err(_)) => Poll::Ready(Ok(())),
            _ => self.inner.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, req: Req) -> Self::Future {
        match self
            .ticket
            .take()
            .expect("poll_ready must be called before call")
        {
            Err(remaining) => {
                self.shared.rejected.fetch_add(1, Ordering::Relaxed);
                ResponseFuture::refused(BreakerOpen::new(self.shared.name, remaining))
            }
            Ok(permit) => {
                self.shared.admitted.fetch_add(1, Ordering::Relaxed);
                ResponseFuture::admitted(self.inner.call(req), permit)
            }
        }
    }
}
