use async_trait::async_trait;
use erp_core::{EventId, RawEnvelope};

use crate::StoreError;

/// An event waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    /// The event.
    pub envelope: RawEnvelope,
    /// Whether the relay publishes it on the bus. Events that only feed the
    /// service's own projections (e.g. `product.registered`) stay local.
    pub publish: bool,
    /// The W3C `traceparent` of the span that wrote it (the request's), so
    /// the relay's publish continues that trace; `None` when no traces are
    /// exported.
    pub traceparent: Option<String>,
}

impl OutboxRecord {
    /// A record the relay publishes.
    pub fn published(envelope: RawEnvelope) -> Self {
        Self {
            envelope,
            publish: true,
            traceparent: None,
        }
    }

    /// A record only the service's own projections see.
    pub fn local(envelope: RawEnvelope) -> Self {
        Self {
            envelope,
            publish: false,
            traceparent: None,
        }
    }

    /// The same record, continuing the trace `traceparent` names.
    pub fn with_traceparent(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }

    /// The event's id.
    pub fn id(&self) -> EventId {
        self.envelope.id
    }
}

/// Events stored with their write, waiting to be handed on.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Up to `limit` records not yet marked sent, oldest first.
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, StoreError>;

    /// Marks records as handed on. Unknown ids are ignored, so marking twice
    /// is harmless.
    async fn mark_sent(&self, ids: &[EventId]) -> Result<(), StoreError>;

    /// How many records wait (held records not included).
    async fn backlog(&self) -> Result<u64, StoreError>;

    /// Takes a record that cannot be handed on out of the flow, with why:
    /// [`Outbox::pending`] returns neither it nor any later record of the
    /// same aggregate (their order must hold), so every other aggregate's
    /// events keep flowing. The held records stay stored, for an operator
    /// to repair. Unknown ids are ignored.
    async fn quarantine(&self, id: EventId, reason: &str) -> Result<(), StoreError>;
}
