use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use erp_core::EventId;

use super::lock;
use crate::{Outbox, OutboxRecord, StoreError};

#[derive(Debug, Default)]
struct State {
    /// Keyed by event id: v7 ids sort by creation, so iteration is oldest
    /// first. Each record with its aggregate.
    pending: BTreeMap<EventId, (String, OutboxRecord)>,
    /// Aggregates whose records are held behind a quarantined one, with
    /// the quarantined records and why.
    held: HashMap<String, Vec<(EventId, String)>>,
}

impl State {
    fn flowing(&self) -> impl Iterator<Item = &OutboxRecord> {
        self.pending
            .values()
            .filter(|(aggregate, _)| !self.held.contains_key(aggregate))
            .map(|(_, r)| r)
    }
}

/// An in-memory outbox, shared (cheap clones) by the write stores of one service.
#[derive(Debug, Clone, Default)]
pub struct MemoryOutbox {
    state: Arc<Mutex<State>>,
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues the records of one write to `aggregate` (unique across the
    /// write stores sharing this outbox).
    pub(crate) fn push_all(&self, aggregate: &str, records: Vec<OutboxRecord>) {
        let mut state = lock(&self.state);
        for r in records {
            state.pending.insert(r.id(), (aggregate.to_owned(), r));
        }
    }

    /// The quarantined records, with why: for operators and tests.
    pub fn quarantined(&self) -> Vec<(EventId, String)> {
        lock(&self.state).held.values().flatten().cloned().collect()
    }
}

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        let state = lock(&self.state);
        // Sized up front: collecting through the filter would grow the
        // vector step by step, copying the records each time.
        let mut records = Vec::with_capacity(limit.min(state.pending.len()));
        records.extend(state.flowing().take(limit).cloned());
        Ok(records)
    }

    async fn mark_sent(&self, ids: &[EventId]) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        for id in ids {
            state.pending.remove(id);
        }
        Ok(())
    }

    async fn backlog(&self) -> Result<u64, StoreError> {
        Ok(lock(&self.state).flowing().count() as u64)
    }

    async fn quarantine(&self, id: EventId, reason: &str) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        if let Some((aggregate, _)) = state.pending.get(&id) {
            let aggregate = aggregate.clone();
            state
                .held
                .entry(aggregate)
                .or_default()
                .push((id, reason.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryWriteStore;

    #[tokio::test]
    async fn memory_outbox_passes_the_quarantine_contract() {
        let outbox = MemoryOutbox::new();
        crate::contract::outbox_quarantine(&MemoryWriteStore::new(outbox.clone()), &outbox).await;
        assert_eq!(outbox.quarantined().len(), 1);
    }
}
