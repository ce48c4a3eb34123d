//! Write models with their outbox in the same document.
//!
//! ```text
//! {_id, version, value: {…},
//!  outbox_ids: ["<event id>", …],            // pending events, oldest first
//!  outbox: {"<event id>": {envelope: "<json>", publish: true}, …}}
//! ```
//!
//! The aggregate and the events it raised are written by one single-document
//! operation, so they exist together or not at all. Before that write, a
//! pointer to the document goes into the `outbox` collection, so the relay
//! finds pending events without searching the write collections (see
//! [`super::outbox`]).

use std::{marker::PhantomData, sync::Arc};

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::{
    Collection,
    bson::{self, Bson, Document, doc},
};
use serde::{Serialize, de::DeserializeOwned};

use super::{
    corrupt,
    outbox::{OutboxHints, Pointers},
    store_error, unavailable,
};
use crate::{OutboxRecord, StoreError, Versioned, WriteStore};

/// A write store in one collection.
#[derive(Debug)]
pub struct MongoWriteStore<T> {
    collection: Collection<Document>,
    pointers: Pointers,
    hints: Arc<OutboxHints>,
    _value: PhantomData<fn() -> T>,
}

impl<T> MongoWriteStore<T> {
    pub(super) fn new(
        collection: Collection<Document>,
        pointers: Pointers,
        hints: Arc<OutboxHints>,
    ) -> Self {
        Self {
            collection,
            pointers,
            hints,
            _value: PhantomData,
        }
    }

    /// Before a write with events: the pointer the relay finds them by.
    async fn point(&self, id: &str, outbox: &[OutboxRecord]) -> Result<(), StoreError> {
        if outbox.is_empty() {
            return Ok(());
        }
        self.pointers.point(self.collection.name(), id).await
    }

    /// After a write with events, also a failed one (it may have been
    /// applied, as after a timeout): this process's relay looks there next.
    fn note_events(&self, id: &str, outbox: &[OutboxRecord]) {
        if !outbox.is_empty() {
            self.hints.written(self.collection.name(), id);
        }
    }
}

fn outbox_fields(records: &[OutboxRecord]) -> Result<(Vec<Bson>, Document), StoreError> {
    let mut ids = Vec::with_capacity(records.len());
    let mut entries = Document::new();
    for r in records {
        let id = r.id().to_string();
        let envelope = serde_json::to_string(&r.envelope).map_err(corrupt)?;
        let mut entry = doc! {"envelope": envelope, "publish": r.publish};
        if let Some(tp) = &r.traceparent {
            entry.insert("traceparent", tp.as_str());
        }
        entries.insert(id.clone(), entry);
        ids.push(Bson::String(id));
    }
    Ok((ids, entries))
}

fn decode_versioned<T: DeserializeOwned>(mut d: Document) -> Result<Versioned<T>, StoreError> {
    let version = d.get_i64("version").map_err(corrupt)?;
    let value = d
        .remove("value")
        .ok_or_else(|| corrupt("document without value"))?;
    Ok(Versioned {
        value: bson::from_bson(value).map_err(corrupt)?,
        version: u64::try_from(version).map_err(corrupt)?,
    })
}

#[async_trait]
impl<T> WriteStore<T> for MongoWriteStore<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    async fn insert(
        &self,
        id: &str,
        value: T,
        outbox: Vec<OutboxRecord>,
    ) -> Result<(), StoreError> {
        let value = bson::to_bson(&value).map_err(corrupt)?;
        let (ids, entries) = outbox_fields(&outbox)?;
        let document = doc! {
            "_id": id,
            "version": 1_i64,
            "value": value,
            "outbox_ids": ids,
            "outbox": entries,
        };
        self.point(id, &outbox).await?;
        let inserted = self.collection.insert_one(document).await;
        self.note_events(id, &outbox);
        inserted.map_err(store_error)?;
        Ok(())
    }

    async fn update(
        &self,
        id: &str,
        expected_version: u64,
        value: T,
        outbox: Vec<OutboxRecord>,
    ) -> Result<u64, StoreError> {
        let value = bson::to_bson(&value).map_err(corrupt)?;
        let (ids, entries) = outbox_fields(&outbox)?;
        let expected = i64::try_from(expected_version).map_err(corrupt)?;
        let mut set = doc! {"value": value, "version": expected + 1};
        for (event_id, entry) in entries {
            set.insert(format!("outbox.{event_id}"), entry);
        }
        self.point(id, &outbox).await?;
        let result = self
            .collection
            .update_one(
                doc! {"_id": id, "version": expected},
                doc! {"$set": set, "$push": {"outbox_ids": {"$each": ids}}},
            )
            .await;
        self.note_events(id, &outbox);
        let result = result.map_err(store_error)?;
        if result.matched_count == 0 {
            return Err(StoreError::Conflict(format!(
                "{id} is not at version {expected_version} (or does not exist)"
            )));
        }
        Ok(expected_version + 1)
    }

    async fn get(&self, id: &str) -> Result<Option<Versioned<T>>, StoreError> {
        let found = self
            .collection
            .find_one(doc! {"_id": id})
            .projection(doc! {"value": 1, "version": 1})
            .await
            .map_err(unavailable)?;
        found.map(decode_versioned).transpose()
    }

    async fn all(&self) -> Result<Vec<Versioned<T>>, StoreError> {
        let cursor = self
            .collection
            .find(doc! {})
            .projection(doc! {"value": 1, "version": 1})
            .sort(doc! {"_id": 1})
            .await
            .map_err(unavailable)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(unavailable)?;
        docs.into_iter().map(decode_versioned).collect()
    }
}
