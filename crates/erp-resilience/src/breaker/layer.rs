use std::sync::{Arc, Mutex, atomic::AtomicU64};

use tower::Layer;

use super::{BreakerConfig, BreakerState, CircuitBreaker, Hook, Shared, state::Machine};

/// Wraps services in one shared [`CircuitBreaker`]: every service this
/// layer wraps (and their clones) feed and obey the same state.
pub struct CircuitBreakerLayer<C> {
    shared: Arc<Shared<C>>,
}

impl<C> Clone for CircuitBreakerLayer<C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C> std::fmt::Debug for CircuitBreakerLayer<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("name", &self.shared.name)
            .finish()
    }
}

impl<C> CircuitBreakerLayer<C> {
    /// A breaker named `name` (for logs and metrics) with `config`, counting
    /// as failures what `classifier` says.
    pub fn new(name: &'static str, config: BreakerConfig, classifier: C) -> Self {
        Self::build(name, config, classifier, None)
    }

    /// Like [`CircuitBreakerLayer::new`], calling `hook` on every state change.
    pub fn with_hook(
        name: &'static str,
        config: BreakerConfig,
        classifier: C,
        hook: impl Fn(BreakerState) + Send + Sync + 'static,
    ) -> Self {
        Self::build(name, config, classifier, Some(Arc::new(hook)))
    }

    fn build(
        name: &'static str,
        config: BreakerConfig,
        classifier: C,
        hook: Option<Arc<Hook>>,
    ) -> Self {
        // The series exists from the start (closed), so an alert on its
        // value or its absence can be written.
        metrics::gauge!("erp_breaker_state", "breaker" => name).set(0.0);
        Self {
            shared: Arc::new(Shared {
                name,
                machine: Mutex::new(Machine::new(config)),
                classifier,
                on_transition: hook,
                admitted: AtomicU64::new(0),
                rejected: AtomicU64::new(0),
                transitions: AtomicU64::new(0),
            }),
        }
    }
}

impl<S, C> Layer<S> for CircuitBreakerLayer<C>
where
    C: Send + Sync + 'static,
{
    type Service = CircuitBreaker<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreaker {
            inner,
            shared: Arc::clone(&self.shared),
            ticket: None,
        }
    }
}
