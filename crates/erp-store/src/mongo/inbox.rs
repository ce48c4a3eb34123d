//! Inbox records keyed by `_id` = consumer + event id, so two instances
//! finishing one event cannot both insert. Each carries `expires_at`:
//! MongoDB's TTL index on it deletes old records, and reads treat an expired
//! record as absent, so the retention holds also where the TTL monitor runs
//! late or not at all (the test server has none).

use std::time::Duration;

use async_trait::async_trait;
use erp_core::EventId;
use mongodb::{
    Collection,
    bson::{DateTime, Document, doc},
};

use super::{is_duplicate_key, now_millis, unavailable};
use crate::{Inbox, StoreError};

/// The inbox in one collection.
#[derive(Debug, Clone)]
pub struct MongoInbox {
    collection: Collection<Document>,
    retention: Duration,
}

impl MongoInbox {
    pub(super) fn new(collection: Collection<Document>) -> Self {
        Self {
            collection,
            retention: crate::DEFAULT_INBOX_RETENTION,
        }
    }

    /// Keeps each record `retention` after it was inserted.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Creates the TTL index that deletes expired records (idempotent).
    pub async fn ensure_expiry_index(&self) -> Result<(), StoreError> {
        super::ensure_expiry_index(&self.collection).await
    }

    fn expiry(&self, now_ms: i64) -> DateTime {
        super::expiry(now_ms, self.retention)
    }
}

fn record_id(consumer: &str, event: EventId) -> String {
    format!("{consumer}/{event}")
}

#[async_trait]
impl Inbox for MongoInbox {
    async fn contains(&self, consumer: &str, event: EventId) -> Result<bool, StoreError> {
        let now = DateTime::from_millis(now_millis());
        let found = self
            .collection
            .find_one(doc! {"_id": record_id(consumer, event), "expires_at": {"$gt": now}})
            .projection(doc! {"_id": 1})
            .await
            .map_err(unavailable)?;
        Ok(found.is_some())
    }

    async fn insert(&self, consumer: &str, event: EventId) -> Result<bool, StoreError> {
        let id = record_id(consumer, event);
        let now = now_millis();
        let inserted = self
            .collection
            .insert_one(doc! {
                "_id": &id,
                "consumer": consumer,
                "event_id": event.to_string(),
                "expires_at": self.expiry(now),
            })
            .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) => {
                // Recorded before; fresh again only if that record expired
                // (the TTL monitor may not have deleted it yet).
                let renewed = self
                    .collection
                    .update_one(
                        doc! {"_id": &id, "expires_at": {"$lte": DateTime::from_millis(now)}},
                        doc! {"$set": {"expires_at": self.expiry(now)}},
                    )
                    .await
                    .map_err(unavailable)?;
                Ok(renewed.matched_count == 1)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}
