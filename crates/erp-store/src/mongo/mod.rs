//! The MongoDB adapter (feature `mongodb`). Works with MongoDB 6.0+ and is
//! tested on the project's MongoDB-wire test server (mongo-java-server with
//! its H2 backend, `scripts/mongodb.sh`), so it relies only on what both
//! have:
//!
//! - single-document atomicity (no multi-document transactions): a write and
//!   its outbox events live in one document;
//! - `_id` uniqueness for duplicate detection (duplicate key, code 11000);
//! - `find` with `$and`, `$gte`, `$lte`, `$in`, equality on dotted paths
//!   through arrays, sort / skip / limit, projections, `count_documents`;
//! - updates with `$set`, `$inc`, `$push` (`$each`), `$pull`, `$pullAll`,
//!   `$unset`, and upserts guarded by a filter.
//!
//! Bounded cost: what runs per request or per event reads and writes by
//! `_id` (the relay too: it finds pending events through pointers, see
//! [`MongoOutbox`]); filters serve lists. `docs/operations.md` lists each collection's indexes and the
//! queries they serve.
//!
//! **FerretDB 1.x** speaks the protocol but answers every filter except an
//! `_id` hit by scanning, and does not apply concurrent updates of one
//! document atomically (8 writers × 50 `$inc` on one document ended at 54,
//! not 400); inventory's stock levels need that atomicity, so it is not a
//! supported server. [`WriteStore::update`]'s optimistic check (`version` in
//! the filter) is exact on MongoDB.
//!
//! [`WriteStore::update`]: crate::WriteStore::update

mod idempotency;
mod inbox;
mod outbox;
mod read;
pub mod testing;
mod write;

use std::{sync::Arc, time::Duration};

use mongodb::{
    Client, Database,
    bson::doc,
    error::{ErrorKind, WriteFailure},
    options::ClientOptions,
};

pub use idempotency::MongoIdempotency;
pub use inbox::MongoInbox;
pub use outbox::{MongoOutbox, ORPHAN_AFTER, SWEEP_EVERY};
pub use read::MongoReadModel;
pub use write::MongoWriteStore;

use crate::StoreError;

/// One service's database: hands out the adapters, all in that database.
#[derive(Debug, Clone)]
pub struct MongoStore {
    db: Database,
    pointers: outbox::Pointers,
    outbox_hints: Arc<outbox::OutboxHints>,
}

impl MongoStore {
    /// Connects to `uri` and uses database `database`. Fails fast (a few
    /// seconds) when the server cannot be selected, so requests answer 503
    /// rather than hang while the database is down.
    pub async fn connect(uri: &str, database: &str) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(uri).await.map_err(unavailable)?;
        options.server_selection_timeout = Some(Duration::from_secs(2));
        options.connect_timeout = Some(Duration::from_secs(2));
        options.app_name = Some("erp".into());
        let client = Client::with_options(options).map_err(unavailable)?;
        let db = client.database(database);
        Ok(Self {
            pointers: outbox::Pointers::new(&db),
            db,
            outbox_hints: Arc::default(),
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        self.db.name()
    }

    /// Whether the server answers a `ping`.
    pub async fn ping(&self) -> bool {
        self.db.run_command(doc! {"ping": 1}).await.is_ok()
    }

    /// A write store in `collection`; its events go to [`MongoStore::outbox`].
    pub fn write_store<T>(&self, collection: &str) -> MongoWriteStore<T> {
        MongoWriteStore::new(
            self.db.collection(collection),
            self.pointers.clone(),
            Arc::clone(&self.outbox_hints),
        )
    }

    /// The outbox over every write store of this database.
    pub fn outbox(&self) -> MongoOutbox {
        MongoOutbox::new(
            self.db.clone(),
            self.pointers.clone(),
            Arc::clone(&self.outbox_hints),
        )
    }

    /// A read model in `collection`.
    pub fn read_model<V>(&self, collection: &str) -> MongoReadModel<V> {
        MongoReadModel::new(self.db.collection(collection))
    }

    /// A read model in `collection` with an ascending index on each of
    /// `indexed` (created idempotently; an index that exists is kept).
    pub async fn read_model_indexed<V>(
        &self,
        collection: &str,
        indexed: &[&str],
    ) -> Result<MongoReadModel<V>, StoreError> {
        let c = self.db.collection::<mongodb::bson::Document>(collection);
        for field in indexed {
            c.create_index(
                mongodb::IndexModel::builder()
                    .keys(doc! {*field: 1})
                    .build(),
            )
            .await
            .map_err(unavailable)?;
        }
        Ok(MongoReadModel::new(c))
    }

    /// Idempotency records in collection `idempotency`.
    pub fn idempotency(&self, lease: Duration) -> MongoIdempotency {
        MongoIdempotency::new(self.db.collection("idempotency"), lease)
    }

    /// Inbox records in collection `inbox`.
    pub fn inbox(&self) -> MongoInbox {
        MongoInbox::new(self.db.collection("inbox"))
    }

    /// The driver's database handle, for adapters of other ports.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Drops the whole database. For tests.
    pub async fn drop_database(&self) -> Result<(), StoreError> {
        self.db.drop().await.map_err(unavailable)
    }
}

/// Milliseconds since the Unix epoch, as BSON dates count them.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Creates the TTL index on `expires_at` with which MongoDB deletes a
/// collection's expired records (idempotent). Readers must still treat an
/// expired record as absent: the TTL monitor runs once a minute, and some
/// MongoDB-wire servers have none.
async fn ensure_expiry_index(
    collection: &mongodb::Collection<mongodb::bson::Document>,
) -> Result<(), StoreError> {
    collection
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! {"expires_at": 1})
                .options(
                    mongodb::options::IndexOptions::builder()
                        .expire_after(Duration::ZERO)
                        .name("expires_at_ttl".to_owned())
                        .build(),
                )
                .build(),
        )
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// The `expires_at` of a record written at `now_ms` and kept `retention`.
fn expiry(now_ms: i64, retention: Duration) -> mongodb::bson::DateTime {
    let retention = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    mongodb::bson::DateTime::from_millis(now_ms.saturating_add(retention))
}

/// Any driver failure as [`StoreError::Unavailable`].
pub fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// Whether the driver error is a duplicate key (`_id` or unique index).
pub fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        ErrorKind::Command(c) => c.code == 11000,
        ErrorKind::InsertMany(m) => m
            .write_errors
            .as_ref()
            .is_some_and(|errs| errs.iter().any(|w| w.code == 11000)),
        _ => false,
    }
}

/// A driver error as a [`StoreError`]: duplicate keys are conflicts.
pub fn store_error(e: mongodb::error::Error) -> StoreError {
    if is_duplicate_key(&e) {
        StoreError::Conflict(e.to_string())
    } else {
        unavailable(e)
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}
