use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use erp_core::EventId;

use super::lock;
use crate::{Outbox, OutboxRecord, StoreError};

/// An in-memory outbox, shared (cheap clones) by the write stores of one service.
#[derive(Debug, Clone, Default)]
pub struct MemoryOutbox {
    // Keyed by event id: v7 ids sort by creation, so iteration is oldest first.
    pending: Arc<Mutex<BTreeMap<EventId, OutboxRecord>>>,
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push_all(&self, records: Vec<OutboxRecord>) {
        let mut pending = lock(&self.pending);
        for r in records {
            pending.insert(r.id(), r);
        }
    }
}

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        Ok(lock(&self.pending).values().take(limit).cloned().collect())
    }

    async fn mark_sent(&self, ids: &[EventId]) -> Result<(), StoreError> {
        let mut pending = lock(&self.pending);
        for id in ids {
            pending.remove(id);
        }
        Ok(())
    }

    async fn backlog(&self) -> Result<u64, StoreError> {
        Ok(lock(&self.pending).len() as u64)
    }
}
