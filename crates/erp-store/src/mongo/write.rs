//! Write models with their outbox in the same document.
//!
//! ```text
//! {_id, version, value: {…},
//!  outbox_ids: ["<event id>", …],            // pending events, oldest first
//!  outbox: {"<event id>": {envelope: "<json>", publish: true}, …}}
//! ```
//!
//! The aggregate and the events it raised are written by one single-document
//! operation, so they exist together or not at all. Marking an event sent
//! removes it with `$pullAll` + `$unset`, which both MongoDB and FerretDB
//! apply atomically per document.
//!
//! A relay pass reads the documents this process wrote with events, by
//! `_id` (see [`super::hints`]). A sweep finds every document with pending
//! events by `outbox_ids: {$gt: ""}` (an array holding any string; an empty
//! array does not match), which an ascending index on `outbox_ids` serves on
//! MongoDB; the outbox creates that index the first time it looks at a
//! collection. Sweeps run at start and every [`super::hints::SWEEP_EVERY`].

use std::{
    collections::HashSet,
    marker::PhantomData,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use erp_core::{EventId, RawEnvelope};
use futures::TryStreamExt;
use mongodb::{
    Collection, Database,
    bson::{self, Bson, Document, doc},
};
use serde::{Serialize, de::DeserializeOwned};

use super::{corrupt, hints::OutboxHints, store_error, unavailable};
use crate::{Outbox, OutboxRecord, StoreError, Versioned, WriteStore};

/// A write store in one collection.
#[derive(Debug)]
pub struct MongoWriteStore<T> {
    collection: Collection<Document>,
    hints: Arc<OutboxHints>,
    _value: PhantomData<fn() -> T>,
}

impl<T> MongoWriteStore<T> {
    pub(super) fn new(collection: Collection<Document>, hints: Arc<OutboxHints>) -> Self {
        Self {
            collection,
            hints,
            _value: PhantomData,
        }
    }

    /// Notes a document written with events, also when the write failed:
    /// it may have been applied (a timeout), and a look that finds nothing
    /// forgets it.
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
        entries.insert(
            id.clone(),
            doc! {"envelope": envelope, "publish": r.publish},
        );
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

/// The outbox over every write collection of one database.
#[derive(Debug, Clone)]
pub struct MongoOutbox {
    db: Database,
    collections: Arc<Mutex<Vec<String>>>,
    hints: Arc<OutboxHints>,
    /// Collections whose `outbox_ids` index exists. A std Mutex: held for a
    /// set lookup, never across `.await`.
    indexed: Arc<Mutex<HashSet<String>>>,
}

impl MongoOutbox {
    pub(super) fn new(
        db: Database,
        collections: Arc<Mutex<Vec<String>>>,
        hints: Arc<OutboxHints>,
    ) -> Self {
        Self {
            db,
            collections,
            hints,
            indexed: Arc::default(),
        }
    }

    /// The write collections, each with its pending-events index (created
    /// once, idempotently; if that fails the query still works, slower).
    async fn collections(&self) -> Vec<Collection<Document>> {
        let names = self
            .collections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut collections = Vec::with_capacity(names.len());
        for name in names {
            let c = self.db.collection::<Document>(&name);
            let known = self
                .indexed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&name);
            if !known {
                let index = mongodb::IndexModel::builder()
                    .keys(doc! {"outbox_ids": 1})
                    .build();
                match c.create_index(index).await {
                    Ok(_) => {
                        self.indexed
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(name);
                    }
                    Err(e) => tracing::warn!(error = %e, "no outbox index yet"),
                }
            }
            collections.push(c);
        }
        collections
    }
}

/// Documents with at least one pending event (see the module docs).
fn has_pending() -> Document {
    doc! {"outbox_ids": {"$gt": ""}}
}

fn pending_of(d: &Document) -> Result<Vec<(EventId, OutboxRecord)>, StoreError> {
    let entries = d.get_document("outbox").map_err(corrupt)?;
    let mut records = Vec::new();
    for id in d.get_array("outbox_ids").map_err(corrupt)? {
        let id = id
            .as_str()
            .ok_or_else(|| corrupt("outbox id is not a string"))?;
        let entry = entries.get_document(id).map_err(corrupt)?;
        let envelope: RawEnvelope =
            serde_json::from_str(entry.get_str("envelope").map_err(corrupt)?).map_err(corrupt)?;
        let publish = entry.get_bool("publish").map_err(corrupt)?;
        records.push((envelope.id, OutboxRecord { envelope, publish }));
    }
    Ok(records)
}

#[async_trait]
impl Outbox for MongoOutbox {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let sweep = self.hints.sweep_due();
        let mut all = Vec::new();
        for c in self.collections().await {
            let name = c.name().to_owned();
            let (filter, looked_up) = if sweep {
                (has_pending(), Vec::new())
            } else {
                let ids = self.hints.documents(&name);
                if ids.is_empty() {
                    continue;
                }
                (doc! {"_id": {"$in": &ids}}, ids)
            };
            let cursor = c
                .find(filter)
                .projection(doc! {"outbox_ids": 1, "outbox": 1})
                .await
                .map_err(unavailable)?;
            let docs: Vec<Document> = cursor.try_collect().await.map_err(unavailable)?;
            let mut seen = HashSet::with_capacity(docs.len());
            for d in &docs {
                let id = d.get_str("_id").map_err(corrupt)?;
                seen.insert(id.to_owned());
                let records = pending_of(d)?;
                if records.is_empty() {
                    self.hints.settled(&name, id);
                }
                for (event, record) in records {
                    self.hints.found(event, &name, id);
                    all.push((event, record));
                }
            }
            for id in looked_up.iter().filter(|id| !seen.contains(*id)) {
                self.hints.settled(&name, id);
            }
        }
        // v7 event ids sort by creation time: oldest first across collections.
        all.sort_by_key(|(id, _)| *id);
        all.truncate(limit);
        Ok(all.into_iter().map(|(_, r)| r).collect())
    }

    async fn mark_sent(&self, ids: &[EventId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let (located, unknown) = self.hints.locate(ids);
        let all: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let mut unset = Document::new();
        for id in &all {
            unset.insert(format!("outbox.{id}"), "");
        }
        let mark = doc! {"$pullAll": {"outbox_ids": &all}, "$unset": unset};
        for (collection, documents) in located {
            self.db
                .collection::<Document>(&collection)
                .update_many(doc! {"_id": {"$in": documents}}, mark.clone())
                .await
                .map_err(unavailable)?;
        }
        if unknown.is_empty() {
            return Ok(());
        }
        // Events no look of this process found: search for them.
        let unknown: Vec<String> = unknown.iter().map(ToString::to_string).collect();
        for c in self.collections().await {
            c.update_many(doc! {"outbox_ids": {"$in": &unknown}}, mark.clone())
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn backlog(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for c in self.collections().await {
            let cursor = c
                .find(has_pending())
                .projection(doc! {"outbox_ids": 1})
                .await
                .map_err(unavailable)?;
            let docs: Vec<Document> = cursor.try_collect().await.map_err(unavailable)?;
            n += docs
                .iter()
                .map(|d| d.get_array("outbox_ids").map_or(0, Vec::len) as u64)
                .sum::<u64>();
        }
        Ok(n)
    }
}
