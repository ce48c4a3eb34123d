use std::time::Duration;

/// The breaker is open: the call was refused without reaching the service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker {name} is open; retry in {remaining:?}")]
pub struct BreakerOpen {
    name: &'static str,
    remaining: Duration,
}

impl BreakerOpen {
    pub(crate) fn new(name: &'static str, remaining: Duration) -> Self {
        Self { name, remaining }
    }

    /// Time left before the breaker lets a probe through (zero while
    /// half-open probes are out).
    pub fn remaining(&self) -> Duration {
        self.remaining
    }

    /// `remaining` as a `Retry-After` value: whole seconds, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        self.remaining.as_secs_f64().ceil().max(1.0) as u64
    }

    /// Finds a `BreakerOpen` in an error or its sources (tonic wraps
    /// transport errors in a `Status`).
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a BreakerOpen> {
        let mut current = Some(error);
        while let Some(e) = current {
            if let Some(open) = e.downcast_ref::<BreakerOpen>() {
                return Some(open);
            }
            current = e.source();
        }
        None
    }
}
