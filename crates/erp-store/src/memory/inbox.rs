use std::{
    collections::{HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use erp_core::EventId;

use super::lock;
use crate::{DEFAULT_INBOX_RETENTION, Inbox, StoreError};

#[derive(Debug, Default)]
struct Records {
    done: HashSet<(String, EventId)>,
    /// Insertion order, to forget the oldest past the retention.
    order: VecDeque<(Instant, String, EventId)>,
}

/// An in-memory [`Inbox`]. Cheap to clone; clones share the records.
#[derive(Debug, Clone)]
pub struct MemoryInbox {
    records: Arc<Mutex<Records>>,
    retention: Duration,
}

impl Default for MemoryInbox {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryInbox {
    /// An empty inbox keeping records [`DEFAULT_INBOX_RETENTION`].
    pub fn new() -> Self {
        Self {
            records: Arc::default(),
            retention: DEFAULT_INBOX_RETENTION,
        }
    }

    /// Keeps records `retention` after they were inserted.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    fn forget_expired(&self, r: &mut Records, now: Instant) {
        while let Some((at, consumer, event)) = r.order.front() {
            if now.duration_since(*at) < self.retention {
                break;
            }
            r.done.remove(&(consumer.clone(), *event));
            r.order.pop_front();
        }
    }
}

#[async_trait]
impl Inbox for MemoryInbox {
    async fn contains(&self, consumer: &str, event: EventId) -> Result<bool, StoreError> {
        let mut r = lock(&self.records);
        self.forget_expired(&mut r, Instant::now());
        Ok(r.done.contains(&(consumer.to_owned(), event)))
    }

    async fn insert(&self, consumer: &str, event: EventId) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut r = lock(&self.records);
        self.forget_expired(&mut r, now);
        let fresh = r.done.insert((consumer.to_owned(), event));
        if fresh {
            r.order.push_back((now, consumer.to_owned(), event));
        }
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_inbox_passes_the_contract() {
        crate::contract::inbox(&MemoryInbox::new()).await;
    }

    #[tokio::test]
    async fn memory_inbox_records_expire_by_the_contract() {
        let retention = Duration::from_millis(200);
        crate::contract::inbox_expires(&MemoryInbox::new().with_retention(retention), retention)
            .await;
    }
}
