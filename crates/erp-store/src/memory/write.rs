use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;

use super::{MemoryOutbox, lock};
use crate::{OutboxRecord, StoreError, Versioned, WriteStore};

/// An in-memory write store whose outbox records go to a shared [`MemoryOutbox`].
#[derive(Debug, Clone)]
pub struct MemoryWriteStore<T> {
    items: Arc<Mutex<BTreeMap<String, Versioned<T>>>>,
    outbox: MemoryOutbox,
    /// This store's address and a `/`: the start of its aggregates' names
    /// in the shared outbox, formatted once rather than on every write.
    aggregate_prefix: Arc<str>,
}

impl<T> MemoryWriteStore<T> {
    /// An empty store writing its events to `outbox`.
    pub fn new(outbox: MemoryOutbox) -> Self {
        let items: Arc<Mutex<BTreeMap<String, Versioned<T>>>> = Arc::default();
        let aggregate_prefix = format!("{:p}/", Arc::as_ptr(&items)).into();
        Self {
            items,
            outbox,
            aggregate_prefix,
        }
    }

    /// The outbox's name of aggregate `id`: unique across the stores that
    /// share the outbox (this store's address, then the id).
    fn aggregate(&self, id: &str) -> String {
        [&*self.aggregate_prefix, id].concat()
    }
}

#[async_trait]
impl<T: Clone + Send + Sync + 'static> WriteStore<T> for MemoryWriteStore<T> {
    async fn insert(
        &self,
        id: &str,
        value: T,
        outbox: Vec<OutboxRecord>,
    ) -> Result<(), StoreError> {
        let mut items = lock(&self.items);
        if items.contains_key(id) {
            return Err(StoreError::Conflict(format!("{id} already exists")));
        }
        items.insert(id.to_owned(), Versioned { value, version: 1 });
        // Pushed while the item lock is held, so no reader sees the write
        // without its events having been queued.
        self.outbox.push_all(&self.aggregate(id), outbox);
        Ok(())
    }

    async fn update(
        &self,
        id: &str,
        expected_version: u64,
        value: T,
        outbox: Vec<OutboxRecord>,
    ) -> Result<u64, StoreError> {
        let mut items = lock(&self.items);
        let current = items
            .get_mut(id)
            .ok_or_else(|| StoreError::Conflict(format!("{id} does not exist")))?;
        if current.version != expected_version {
            return Err(StoreError::Conflict(format!(
                "{id} is at version {}, not {expected_version}",
                current.version
            )));
        }
        current.version += 1;
        current.value = value;
        let version = current.version;
        self.outbox.push_all(&self.aggregate(id), outbox);
        Ok(version)
    }

    async fn get(&self, id: &str) -> Result<Option<Versioned<T>>, StoreError> {
        Ok(lock(&self.items).get(id).cloned())
    }

    async fn all(&self) -> Result<Vec<Versioned<T>>, StoreError> {
        Ok(lock(&self.items).values().cloned().collect())
    }
}
