//! The store adapters `--store` selects, behind one type, so each service
//! asks for its collections by name and never matches on the backend.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use erp_store::{
    IdempotencyStore, Inbox, Outbox, ReadModel, WriteStore,
    memory::{MemoryIdempotency, MemoryInbox, MemoryOutbox, MemoryReadModel, MemoryWriteStore},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    ServiceError,
    config::{CommonArgs, StoreKind},
    health::HealthCheck,
};

/// How long an unfinished idempotency claim blocks its key: a little more
/// than a request may run ([`crate::http::REQUEST_TIMEOUT`]), so a live
/// request keeps its key, and a retry after a crash waits no longer than
/// that. Taking over a claim whose request did write is safe: the retry
/// writes under the key-derived id and finds the first.
const IDEMPOTENCY_LEASE: Duration = Duration::from_secs(crate::http::REQUEST_TIMEOUT.as_secs() + 2);

/// One service's storage.
#[derive(Debug, Clone)]
pub enum Stores {
    /// In process; lost on exit.
    Memory(MemoryStores),
    /// One MongoDB database.
    #[cfg(feature = "mongodb")]
    Mongo(erp_store::mongo::MongoStore),
}

/// In-process collections by name, like a database's: asking twice for the
/// same name (and value type) gives the same store, so two parts of a
/// service that name one collection share it, as they would on MongoDB.
/// Every write store's events go to the one outbox.
#[derive(Clone, Default)]
pub struct MemoryStores {
    outbox: MemoryOutbox,
    collections: Arc<Mutex<HashMap<CollectionKey, Arc<dyn Any + Send + Sync>>>>,
}

/// A store's kind (`write`, `read`, …), its collection name and the type
/// of its store.
type CollectionKey = (&'static str, String, TypeId);

impl std::fmt::Debug for MemoryStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .collections
            .lock()
            .map(|c| {
                c.keys()
                    .map(|(kind, name, _)| format!("{kind}:{name}"))
                    .collect()
            })
            .unwrap_or_default();
        f.debug_struct("MemoryStores")
            .field("collections", &names)
            .finish_non_exhaustive()
    }
}

impl MemoryStores {
    /// The store of `kind` named `name` holding `S`, made by `make` the
    /// first time.
    fn named<S: Any + Send + Sync + Clone>(
        &self,
        kind: &'static str,
        name: &str,
        make: impl FnOnce() -> S,
    ) -> S {
        let key = (kind, name.to_owned(), TypeId::of::<S>());
        // A poisoned lock only means another thread panicked mid-insert;
        // the map itself is still whole.
        let mut collections = self.collections.lock().unwrap_or_else(|p| p.into_inner());
        let entry = collections
            .entry(key)
            .or_insert_with(|| Arc::new(make()) as Arc<dyn Any + Send + Sync>);
        entry
            .downcast_ref::<S>()
            .expect("keyed by the store's type")
            .clone()
    }
}

impl Stores {
    /// In-memory stores.
    pub fn memory() -> Self {
        Self::Memory(MemoryStores::default())
    }

    /// The stores `--store` selects, in database `database`.
    pub async fn open(common: &CommonArgs, database: &str) -> Result<Self, ServiceError> {
        match common.store {
            StoreKind::Memory => Ok(Self::memory()),
            StoreKind::Mongodb => Self::open_mongo(&common.mongodb_uri, database).await,
        }
    }

    #[cfg(feature = "mongodb")]
    async fn open_mongo(uri: &str, database: &str) -> Result<Self, ServiceError> {
        let store = erp_store::mongo::MongoStore::connect(uri, database).await?;
        if !store.ping().await {
            // Start anyway: readiness reports the database and requests
            // answer 503 until it is back.
            tracing::warn!(database, "MongoDB is not reachable yet");
        }
        Ok(Self::Mongo(store))
    }

    #[cfg(not(feature = "mongodb"))]
    async fn open_mongo(_: &str, _: &str) -> Result<Self, ServiceError> {
        Err(ServiceError::MissingFeature {
            adapter: "MongoDB",
            feature: "mongodb",
            instead: "--store memory",
        })
    }

    /// The write store in `collection`; its events go to [`Stores::outbox`].
    pub fn write_store<T>(&self, collection: &str) -> Arc<dyn WriteStore<T>>
    where
        T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        match self {
            Self::Memory(m) => Arc::new(m.named("write", collection, || {
                MemoryWriteStore::<T>::new(m.outbox.clone())
            })),
            #[cfg(feature = "mongodb")]
            Self::Mongo(db) => Arc::new(db.write_store(collection)),
        }
    }

    /// The outbox of every write store.
    pub fn outbox(&self) -> Arc<dyn Outbox> {
        match self {
            Self::Memory(m) => Arc::new(m.outbox.clone()),
            #[cfg(feature = "mongodb")]
            Self::Mongo(db) => Arc::new(db.outbox()),
        }
    }

    /// The read model in `collection`, indexed on the fields its queries
    /// filter and sort by (a database index; in memory, nothing).
    pub async fn read_model<V>(&self, collection: &str, indexed: &[&str]) -> Arc<dyn ReadModel<V>>
    where
        V: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let _ = indexed;
        match self {
            Self::Memory(m) => Arc::new(m.named("read", collection, MemoryReadModel::<V>::new)),
            #[cfg(feature = "mongodb")]
            Self::Mongo(db) => match db.read_model_indexed(collection, indexed).await {
                Ok(rm) => Arc::new(rm),
                // The database may be down at start: serve (503s) and let
                // the next start create the indexes.
                Err(e) => {
                    tracing::warn!(collection, error = %e, "could not create read-model indexes");
                    Arc::new(db.read_model(collection))
                }
            },
        }
    }

    /// Idempotency records, each kept `retention` after its last write
    /// (on MongoDB, a TTL index deletes them after that).
    pub async fn idempotency(&self, retention: Duration) -> Arc<dyn IdempotencyStore> {
        match self {
            Self::Memory(m) => Arc::new(m.named("idempotency", "idempotency", || {
                MemoryIdempotency::new(IDEMPOTENCY_LEASE).with_retention(retention)
            })),
            #[cfg(feature = "mongodb")]
            Self::Mongo(db) => {
                let records = db.idempotency(IDEMPOTENCY_LEASE).with_retention(retention);
                if let Err(e) = records.ensure_expiry_index().await {
                    // Down at start: expiry still holds per claim; the next
                    // start creates the index that frees the space.
                    tracing::warn!(error = %e, "could not create the idempotency TTL index");
                }
                Arc::new(records)
            }
        }
    }

    /// The consumer inbox (which events each consumer finished), kept
    /// [`erp_store::DEFAULT_INBOX_RETENTION`] (on MongoDB in collection
    /// `inbox`, with a TTL index).
    pub async fn inbox(&self) -> Arc<dyn Inbox> {
        match self {
            Self::Memory(m) => Arc::new(m.named("inbox", "inbox", MemoryInbox::new)),
            #[cfg(feature = "mongodb")]
            Self::Mongo(db) => {
                let inbox = db.inbox();
                if let Err(e) = inbox.ensure_expiry_index().await {
                    // Down at start: reads ignore expired records anyway;
                    // the next start creates the index that frees the space.
                    tracing::warn!(error = %e, "could not create the inbox TTL index");
                }
                Arc::new(inbox)
            }
        }
    }

    /// The readiness check of the database (always up in memory).
    pub fn health_check(&self) -> StoreCheck {
        StoreCheck(self.clone())
    }
}

/// `store` in `/health/ready`: required, pings the database.
#[derive(Debug)]
pub struct StoreCheck(Stores);

#[async_trait]
impl HealthCheck for StoreCheck {
    fn name(&self) -> &'static str {
        "store"
    }

    fn required(&self) -> bool {
        true
    }

    async fn is_up(&self) -> bool {
        match &self.0 {
            Stores::Memory(_) => true,
            #[cfg(feature = "mongodb")]
            Stores::Mongo(db) => db.ping().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_collections_are_shared_by_name_like_a_database() {
        let stores = Stores::memory();
        let a = stores.write_store::<String>("things");
        a.insert("1", "one".into(), vec![]).await.unwrap();
        let again = stores.write_store::<String>("things");
        assert_eq!(again.get("1").await.unwrap().unwrap().value, "one");
        let other = stores.write_store::<String>("others");
        assert!(other.get("1").await.unwrap().is_none());

        let views = stores.read_model::<String>("views", &[]).await;
        views.upsert("v", "seen".to_owned()).await.unwrap();
        let views_again = stores.read_model::<String>("views", &[]).await;
        assert_eq!(views_again.get("v").await.unwrap().as_deref(), Some("seen"));
    }
}
