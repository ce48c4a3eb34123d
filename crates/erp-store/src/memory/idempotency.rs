use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;

use super::lock;
use crate::{Claim, IdempotencyStore, StoreError, StoredResponse};

#[derive(Debug)]
enum Entry {
    InProgress {
        fingerprint: String,
        since: Instant,
    },
    Done {
        fingerprint: String,
        response: StoredResponse,
    },
}

type Slot = (String, String);

#[derive(Debug, Default)]
struct Records {
    entries: HashMap<Slot, (Entry, Instant)>,
    /// Slots in the order they were last written, with that time: the
    /// oldest are expired first, in amortised O(1) per call, never by a
    /// scan of every record.
    written: VecDeque<(Instant, Slot)>,
}

impl Records {
    fn put(&mut self, slot: Slot, entry: Entry) {
        let now = Instant::now();
        self.written.push_back((now, slot.clone()));
        self.entries.insert(slot, (entry, now));
    }

    /// Drops records last written more than `retention` ago.
    fn expire(&mut self, retention: Duration) {
        while let Some((at, _)) = self.written.front() {
            if at.elapsed() < retention {
                break;
            }
            let Some((at, slot)) = self.written.pop_front() else {
                break;
            };
            // Only if not written again since (a later queue entry owns it).
            if self.entries.get(&slot).is_some_and(|(_, w)| *w == at) {
                self.entries.remove(&slot);
            }
        }
    }
}

/// In-memory idempotency records. Each expires `retention` after it was
/// last written (default 24 h), so memory holds at most the keys of one
/// retention window.
#[derive(Debug, Clone)]
pub struct MemoryIdempotency {
    records: Arc<Mutex<Records>>,
    lease: Duration,
    retention: Duration,
}

impl Default for MemoryIdempotency {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl MemoryIdempotency {
    /// A store whose unfinished claims lapse after `lease`.
    pub fn new(lease: Duration) -> Self {
        Self {
            records: Arc::default(),
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

    /// How many records are held now.
    pub fn len(&self) -> usize {
        let mut records = lock(&self.records);
        records.expire(self.retention);
        records.entries.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotency {
    async fn claim(&self, scope: &str, key: &str, fingerprint: &str) -> Result<Claim, StoreError> {
        let mut records = lock(&self.records);
        records.expire(self.retention);
        let slot = (scope.to_owned(), key.to_owned());
        let claim = match records.entries.get(&slot).map(|(e, _)| e) {
            None => Claim::Acquired,
            Some(Entry::Done {
                fingerprint: f,
                response,
            }) => {
                return Ok(if f == fingerprint {
                    Claim::Replay(response.clone())
                } else {
                    Claim::Mismatch
                });
            }
            Some(Entry::InProgress {
                fingerprint: f,
                since,
            }) => {
                if since.elapsed() < self.lease {
                    return Ok(if f == fingerprint {
                        Claim::InProgress
                    } else {
                        Claim::Mismatch
                    });
                }
                Claim::Acquired
            }
        };
        records.put(
            slot,
            Entry::InProgress {
                fingerprint: fingerprint.to_owned(),
                since: Instant::now(),
            },
        );
        Ok(claim)
    }

    async fn complete(
        &self,
        scope: &str,
        key: &str,
        response: StoredResponse,
    ) -> Result<(), StoreError> {
        let mut records = lock(&self.records);
        let slot = (scope.to_owned(), key.to_owned());
        if let Some((Entry::InProgress { fingerprint, .. }, _)) = records.entries.remove(&slot) {
            records.put(
                slot,
                Entry::Done {
                    fingerprint,
                    response,
                },
            );
        }
        Ok(())
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let mut records = lock(&self.records);
        let slot = (scope.to_owned(), key.to_owned());
        if matches!(
            records.entries.get(&slot),
            Some((Entry::InProgress { .. }, _))
        ) {
            records.entries.remove(&slot);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> StoredResponse {
        StoredResponse {
            status: 201,
            body: b"{}".to_vec(),
            location: None,
        }
    }

    #[tokio::test]
    async fn records_expire_after_the_retention_and_the_key_is_fresh_again() {
        let retention = Duration::from_millis(100);
        let store = MemoryIdempotency::new(Duration::from_secs(30)).with_retention(retention);
        assert_eq!(store.claim("s", "k", "f").await.unwrap(), Claim::Acquired);
        store.complete("s", "k", answer()).await.unwrap();
        assert_eq!(
            store.claim("s", "k", "f").await.unwrap(),
            Claim::Replay(answer())
        );
        for i in 0..50 {
            store.claim("s", &format!("other-{i}"), "f").await.unwrap();
        }
        assert_eq!(store.len(), 51);
        tokio::time::sleep(retention + Duration::from_millis(20)).await;
        assert!(store.is_empty(), "every record expired: {}", store.len());
        assert_eq!(
            store.claim("s", "k", "another body").await.unwrap(),
            Claim::Acquired,
            "after expiry the key is processed afresh"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_claims_on_many_threads_let_exactly_one_win() {
        let store = Arc::new(MemoryIdempotency::default());
        crate::contract::idempotency_race(store, 50).await;
    }

    #[tokio::test]
    async fn memory_idempotency_records_expire_by_the_contract() {
        let retention = Duration::from_millis(300);
        let store = MemoryIdempotency::new(Duration::from_secs(30)).with_retention(retention);
        crate::contract::idempotency_expires(&store, retention).await;
    }

    #[tokio::test]
    async fn a_record_written_again_is_kept_for_a_full_retention_from_then() {
        let retention = Duration::from_millis(600);
        let store = MemoryIdempotency::new(Duration::from_secs(30)).with_retention(retention);
        store.claim("s", "k", "f").await.unwrap();
        tokio::time::sleep(Duration::from_millis(350)).await;
        store.complete("s", "k", answer()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Over 600 ms after the claim, 300 ms after the answer: still kept.
        assert_eq!(
            store.claim("s", "k", "f").await.unwrap(),
            Claim::Replay(answer())
        );
    }
}
