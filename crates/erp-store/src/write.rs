use async_trait::async_trait;

use crate::{OutboxRecord, StoreError};

/// A value and the version it was stored at (1 after insert, +1 per update).
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The stored value.
    pub value: T,
    /// Its version, for optimistic concurrency.
    pub version: u64,
}

/// The write model: aggregates by id.
///
/// Every write takes the outbox records that the change raised and stores
/// them *atomically* with it, so an event exists if and only if its change
/// does (the transactional outbox).
#[async_trait]
pub trait WriteStore<T: Send + Sync + 'static>: Send + Sync {
    /// Stores a new aggregate at version 1.
    /// [`StoreError::Conflict`] if the id exists.
    async fn insert(&self, id: &str, value: T, outbox: Vec<OutboxRecord>)
    -> Result<(), StoreError>;

    /// Replaces an aggregate if it is still at `expected_version`; returns the
    /// new version. [`StoreError::Conflict`] if someone else wrote first or
    /// the id does not exist.
    async fn update(
        &self,
        id: &str,
        expected_version: u64,
        value: T,
        outbox: Vec<OutboxRecord>,
    ) -> Result<u64, StoreError>;

    /// Reads one aggregate.
    async fn get(&self, id: &str) -> Result<Option<Versioned<T>>, StoreError>;

    /// Reads every aggregate, ordered by id. Used to rebuild read models.
    async fn all(&self) -> Result<Vec<Versioned<T>>, StoreError>;
}
