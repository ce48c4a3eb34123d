use std::{
    collections::HashMap,
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

/// In-memory idempotency records.
#[derive(Debug, Clone)]
pub struct MemoryIdempotency {
    entries: Arc<Mutex<HashMap<(String, String), Entry>>>,
    lease: Duration,
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
            entries: Arc::default(),
            lease,
        }
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotency {
    async fn claim(&self, scope: &str, key: &str, fingerprint: &str) -> Result<Claim, StoreError> {
        let mut entries = lock(&self.entries);
        let slot = (scope.to_owned(), key.to_owned());
        let claim = match entries.get(&slot) {
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
        entries.insert(
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
        let mut entries = lock(&self.entries);
        let slot = (scope.to_owned(), key.to_owned());
        if let Some(Entry::InProgress { fingerprint, .. }) = entries.remove(&slot) {
            entries.insert(
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
        let mut entries = lock(&self.entries);
        let slot = (scope.to_owned(), key.to_owned());
        if matches!(entries.get(&slot), Some(Entry::InProgress { .. })) {
            entries.remove(&slot);
        }
        Ok(())
    }
}
