use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use pin_project_lite::pin_project;

use super::{
    BreakerOpen, Classify, Shared,
    state::{Outcome, Permit},
};
use crate::BoxError;

/// A permit that reports `Cancelled` if dropped before the call ended, so a
/// half-open slot is never leaked.
pub(crate) struct PermitGuard<C> {
    shared: Arc<Shared<C>>,
    permit: Option<Permit>,
}

impl<C> PermitGuard<C> {
    pub(super) fn new(shared: Arc<Shared<C>>, permit: Permit) -> Self {
        Self {
            shared,
            permit: Some(permit),
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        if let Some(p) = self.permit.take() {
            self.shared.finish(p, outcome);
        }
    }
}

impl<C> Drop for PermitGuard<C> {
    fn drop(&mut self) {
        self.finish(Outcome::Cancelled);
    }
}

pin_project! {
    /// The breaker's response future.
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: Option<F>,
        guard: Option<PermitGuard<C>>,
        refused: Option<BreakerOpen>,
    }
}

impl<F, C> std::fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("refused", &self.refused)
            .finish_non_exhaustive()
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(super) fn refused(open: BreakerOpen) -> Self {
        Self {
            inner: None,
            guard: None,
            refused: Some(open),
        }
    }

    pub(super) fn admitted(inner: F, guard: PermitGuard<C>) -> Self {
        Self {
            inner: Some(inner),
            guard: Some(guard),
            refused: None,
        }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    C: Classify<T, E>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(open) = this.refused.take() {
            return Poll::Ready(Err(Box::new(open)));
        }
        let inner = this.inner.as_pin_mut().expect("polled after completion");
        let result = std::task::ready!(inner.poll(cx));
        if let Some(mut guard) = this.guard.take() {
            let outcome = if guard.shared.classifier.is_failure(&result) {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            guard.finish(outcome);
        }
        Poll::Ready(result.map_err(Into::into))
    }
}
