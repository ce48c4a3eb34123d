//! Idempotency records keyed by `_id` = scope + key, so two concurrent
//! claims of one key cannot both insert. Each carries `expires_at`
//! (retention after its last write): MongoDB's TTL index on it deletes
//! expired records, and a claim treats an expired record as absent, so the
//! retention holds also where the TTL monitor runs late or not at all (the
//! test server has none).

use std::time::Duration;

use async_trait::async_trait;
use mongodb::{
    Collection,
    bson::{Binary, DateTime, Document, doc, spec::BinarySubtype},
};

use super::{corrupt, is_duplicate_key, now_millis, unavailable};
use crate::{Claim, IdempotencyStore, StoreError, StoredResponse};

/// Idempotency records in one collection.
#[derive(Debug, Clone)]
pub struct MongoIdempotency {
    collection: Collection<Document>,
    lease: Duration,
    retention: Duration,
}

impl MongoIdempotency {
    pub(super) fn new(collection: Collection<Document>, lease: Duration) -> Self {
        Self {
            collection,
            lease,
            retention: crate::DEFAULT_IDEMPOTENCY_RETENTION,
        }
    }

    /// Keeps each record `retention` after its last write; a key used again
    /// after that is processed afresh.
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

fn slot(scope: &str, key: &str) -> String {
    // A newline cannot occur in a route or in a (visible ASCII) key.
    format!("{scope}\n{key}")
}

fn response_of(d: &Document) -> Result<StoredResponse, StoreError> {
    let r = d.get_document("response").map_err(corrupt)?;
    Ok(StoredResponse {
        status: u16::try_from(r.get_i32("status").map_err(corrupt)?).map_err(corrupt)?,
        body: r.get_binary_generic("body").map_err(corrupt)?.clone(),
        location: r.get_str("location").ok().map(str::to_owned),
    })
}

#[async_trait]
impl IdempotencyStore for MongoIdempotency {
    async fn claim(&self, scope: &str, key: &str, fingerprint: &str) -> Result<Claim, StoreError> {
        let id = slot(scope, key);
        let now = now_millis();
        let inserted = self
            .collection
            .insert_one(doc! {
                "_id": &id, "fingerprint": fingerprint, "state": "in_progress", "since": now,
                "expires_at": self.expiry(now),
            })
            .await;
        match inserted {
            Ok(_) => return Ok(Claim::Acquired),
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(unavailable(e)),
        }
        let Some(existing) = self
            .collection
            .find_one(doc! {"_id": &id})
            .await
            .map_err(unavailable)?
        else {
            // Released between our insert and read: try once more later.
            return Ok(Claim::InProgress);
        };
        if let Ok(expired) = existing.get_datetime("expires_at")
            && expired.timestamp_millis() <= now
        {
            // Past its retention: the key is new again. Guarded, so one
            // claimant wins.
            let taken = self
                .collection
                .update_one(
                    doc! {"_id": &id, "expires_at": *expired},
                    doc! {
                        "$set": {
                            "fingerprint": fingerprint, "state": "in_progress", "since": now,
                            "expires_at": self.expiry(now),
                        },
                        "$unset": {"response": ""},
                    },
                )
                .await
                .map_err(unavailable)?;
            return Ok(if taken.modified_count == 1 {
                Claim::Acquired
            } else {
                Claim::InProgress
            });
        }
        if existing.get_str("fingerprint").map_err(corrupt)? != fingerprint {
            return Ok(Claim::Mismatch);
        }
        if existing.get_str("state").map_err(corrupt)? == "done" {
            return Ok(Claim::Replay(response_of(&existing)?));
        }
        let since = existing.get_i64("since").map_err(corrupt)?;
        let lease = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        if now.saturating_sub(since) < lease {
            return Ok(Claim::InProgress);
        }
        // The claimant died: take over, guarded so one taker wins.
        let taken = self
            .collection
            .update_one(
                doc! {"_id": &id, "state": "in_progress", "since": since},
                doc! {"$set": {"since": now, "expires_at": self.expiry(now)}},
            )
            .await
            .map_err(unavailable)?;
        Ok(if taken.modified_count == 1 {
            Claim::Acquired
        } else {
            Claim::InProgress
        })
    }

    async fn complete(
        &self,
        scope: &str,
        key: &str,
        response: StoredResponse,
    ) -> Result<(), StoreError> {
        let mut stored = doc! {
            "status": i32::from(response.status),
            "body": Binary { subtype: BinarySubtype::Generic, bytes: response.body },
        };
        if let Some(location) = response.location {
            stored.insert("location", location);
        }
        self.collection
            .update_one(
                doc! {"_id": slot(scope, key), "state": "in_progress"},
                doc! {"$set": {
                    "state": "done", "response": stored, "expires_at": self.expiry(now_millis()),
                }},
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        self.collection
            .delete_one(doc! {"_id": slot(scope, key), "state": "in_progress"})
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
