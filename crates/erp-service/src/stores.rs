//! The store adapters `--store` selects, behind one type, so each service
//! asks for its collections by name and never matches on the backend.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use erp_store::{
    IdempotencyStore, Outbox, ReadModel, WriteStore,
    memory::{MemoryIdempotency, MemoryOutbox, MemoryReadModel, MemoryWriteStore},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
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
    Memory(MemoryOutbox),
    /// One MongoDB database.
    #[cfg(feature = "mongodb")]
    Mongo(erp_store::mongo::MongoStore),
}

impl Stores {
    /// In-memory stores.
    pub fn memory() -> Self {
        Self::Memory(MemoryOutbox::new())
    }

    /// The stores `--store` selects, in database `database`.
    pub async fn open(common: &CommonArgs, database: &str) -> anyhow::Result<Self> {
        match common.store {
            StoreKind::Memory => Ok(Self::memory()),
            StoreKind::Mongodb => Self::open_mongo(&common.mongodb_uri, database).await,
        }
    }

    #[cfg(feature = "mongodb")]
    async fn open_mongo(uri: &str, database: &str) -> anyhow::Result<Self> {
        use anyhow::Context;
        let store = erp_store::mongo::MongoStore::connect(uri, database)
            .await
            .context("MongoDB URI")?;
        if !store.ping().await {
            // Start anyway: readiness reports the database and requests
            // answer 503 until it is back.
            tracing::warn!(database, "MongoDB is not reachable yet");
        }
        Ok(Self::Mongo(store))
    }

    #[cfg(not(feature = "mongodb"))]
    async fn open_mongo(_: &str, _: &str) -> anyhow::Result<Self> {
        anyhow::bail!(
            "this build has no MongoDB adapter (feature `mongodb`); start with --store memory"
        )
    }

    /// The write store in `collection`; its events go to [`Stores::outbox`].
    pub fn write_store<T>(&self, collection: &str) -> Arc<dyn WriteStore<T>>
    where
        T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let _ = collection;
        match self {
            Self::Memory(outbox) => Arc::new(MemoryWriteStore::new(outbox.clone())),
            #[cfg(feature = "mongodb")]
            Self::Mongo(db) => Arc::new(db.write_store(collection)),
        }
    }

    /// The outbox of every write store.
    pub fn outbox(&self) -> Arc<dyn Outbox> {
        match self {
            Self::Memory(outbox) => Arc::new(outbox.clone()),
            #[cfg(feature = "mongodb")]
            Self::Mongo(db) => Arc::new(db.outbox()),
        }
    }

    /// The read model in `collection`, indexed on the fields its queries
    /// filter and sort by (a database index; in memory, nothing).
    pub async fn read_model<V>(
        &self,
        collection: &str,
        indexed: &[&str],
    ) -> anyhow::Result<Arc<dyn ReadModel<V>>>
    where
        V: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let _ = (collection, indexed);
        Ok(match self {
            Self::Memory(_) => Arc::new(MemoryReadModel::new()),
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
        })
    }

    /// Idempotency records, each kept `retention` after its last write
    /// (on MongoDB, a TTL index deletes them after that).
    pub async fn idempotency(&self, retention: Duration) -> Arc<dyn IdempotencyStore> {
        match self {
            Self::Memory(_) => {
                Arc::new(MemoryIdempotency::new(IDEMPOTENCY_LEASE).with_retention(retention))
            }
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
