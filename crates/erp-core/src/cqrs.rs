//! CQRS traits.
//!
//! The write side: an [`Aggregate`] *decides* (`handle` turns a command into
//! past-tense events or refuses it) and *applies* (`apply` folds an event into
//! its state and cannot fail). The read side: a [`Projection`] folds event
//! envelopes into a read model, and a [`QueryHandler`] answers a query from a
//! read model only, never from the write model.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{DecodeError, RawEnvelope};

/// A consistency boundary of the write model.
pub trait Aggregate: Default + Send + Sync {
    /// What a caller asks for.
    type Command;
    /// What happened, in the past tense.
    type Event;
    /// Why a command was refused.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Decides: the events a command causes, or why it is refused. Pure.
    fn handle(&self, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Mutates state by one event. Infallible: the event already happened.
    fn apply(&mut self, event: &Self::Event);

    /// Rebuilds state by applying events in order.
    fn replay<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self
    where
        Self::Event: 'a,
    {
        let mut state = Self::default();
        for e in events {
            state.apply(e);
        }
        state
    }
}

/// Why a projection could not fold an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// The event cannot be read; retrying will not help.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The read model's store failed; retrying may help.
    #[error("read model store failed: {0}")]
    Store(String),
}

/// Folds events into a read model. `project` must be idempotent per event id:
/// projections are re-run after crashes and during rebuilds.
#[async_trait]
pub trait Projection: Send + Sync {
    /// A stable name, for logs and metrics.
    fn name(&self) -> &'static str;

    /// Whether this projection cares about events of `event_type`.
    fn handles(&self, event_type: &str) -> bool;

    /// Folds one event into the read model.
    async fn project(&self, event: &RawEnvelope) -> Result<(), ProjectionError>;
}

/// The projections of one service, fed together. Cheap to clone (one
/// shared slice): handlers' state holds it and web frameworks clone that
/// state per request.
#[derive(Clone)]
pub struct Projections(Arc<[Arc<dyn Projection>]>);

impl Default for Projections {
    fn default() -> Self {
        Self(Arc::new([]))
    }
}

impl std::fmt::Debug for Projections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|p| p.name()))
            .finish()
    }
}

impl Projections {
    /// A set of projections.
    pub fn new(projections: Vec<Arc<dyn Projection>>) -> Self {
        Self(projections.into())
    }

    /// Feeds `event` to every projection that handles its type, stopping at
    /// the first failure, which names the projection.
    pub async fn project(
        &self,
        event: &RawEnvelope,
    ) -> Result<(), (&'static str, ProjectionError)> {
        for p in self.0.iter().filter(|p| p.handles(&event.event_type)) {
            p.project(event).await.map_err(|e| (p.name(), e))?;
        }
        Ok(())
    }
}

/// Answers queries of type `Q` from a read model.
#[async_trait]
pub trait QueryHandler<Q: Send + 'static>: Send + Sync {
    /// The answer.
    type Output;
    /// Why there is no answer.
    type Error;

    /// Answers one query.
    async fn handle(&self, query: Q) -> Result<Self::Output, Self::Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Counter {
        value: u32,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("counter is full")]
    struct Full;

    impl Aggregate for Counter {
        type Command = u32;
        type Event = u32;
        type Error = Full;

        fn handle(&self, add: u32) -> Result<Vec<u32>, Full> {
            if self.value + add > 10 {
                Err(Full)
            } else {
                Ok(vec![add])
            }
        }

        fn apply(&mut self, added: &u32) {
            self.value += added;
        }
    }

    #[test]
    fn replay_applies_every_event_in_order_and_handle_decides_from_state() {
        let state = Counter::replay(&[3, 4]);
        assert_eq!(state.value, 7);
        assert_eq!(state.handle(3).unwrap(), vec![3]);
        assert!(state.handle(4).is_err());
    }
}
