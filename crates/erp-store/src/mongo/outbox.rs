//! The outbox over a database's write collections, found without searching
//! them.
//!
//! ```text
//! outbox {_id: "<collection>\n<document id>", collection, document, at}
//! ```
//!
//! Events live in the document they were written with (see
//! [`super::write`]). Finding pending ones by a filter on `outbox_ids` is
//! served by an index on MongoDB, but servers without multikey range
//! indexes (the project's test server, FerretDB) scan the whole collection
//! for it, holding it for seconds once purchases and sales pile up. So:
//!
//! - before writing a document with events, the write store inserts a
//!   *pointer* to it here (a duplicate pointer is fine: one per document);
//! - after the write, it tells this process's relay where to look
//!   ([`OutboxHints`]), so a pass reads exactly those documents by `_id`;
//! - every [`SWEEP_EVERY`] (and at the first look) the relay also reads all
//!   pointers, to pick up what another instance wrote and did not relay;
//! - a look that finds a pointed-to document with nothing pending deletes
//!   its pointer, so this collection holds about the backlog. A pointer to a
//!   document that does not exist (the write failed, or its process died
//!   before it) is deleted once older than [`ORPHAN_AFTER`].
//!
//! The pointer goes in *before* the document, so every document with pending
//! events has one, unless its writer was stalled for longer than
//! [`ORPHAN_AFTER`] between the two inserts.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use erp_core::{EventId, RawEnvelope};
use futures::TryStreamExt;
use mongodb::{
    Collection, Database,
    bson::{Bson, Document, doc},
};

use super::{corrupt, is_duplicate_key, now_millis, unavailable};
use crate::{Outbox, OutboxRecord, StoreError};

/// How often a relay reads every pointer (events of other instances).
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Age after which a pointer to a missing document is dropped.
pub const ORPHAN_AFTER: Duration = Duration::from_secs(600);

/// The pointers collection of one database.
#[derive(Debug, Clone)]
pub(super) struct Pointers(Collection<Document>);

fn pointer_id(collection: &str, document: &str) -> String {
    // A newline occurs in neither a collection name nor our ids.
    format!("{collection}\n{document}")
}

impl Pointers {
    pub fn new(db: &Database) -> Self {
        Self(db.collection("outbox"))
    }

    /// Points at `document` of `collection`; a pointer already there stays.
    pub async fn point(&self, collection: &str, document: &str) -> Result<(), StoreError> {
        let pointer = doc! {
            "_id": pointer_id(collection, document),
            "collection": collection,
            "document": document,
            "at": now_millis(),
        };
        match self.0.insert_one(pointer).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Every pointer: (collection, document, age).
    async fn all(&self) -> Result<Vec<(String, String, Duration)>, StoreError> {
        let docs: Vec<Document> = self
            .0
            .find(doc! {})
            .await
            .map_err(unavailable)?
            .try_collect()
            .await
            .map_err(unavailable)?;
        let now = now_millis();
        docs.iter()
            .map(|d| {
                let at = d.get_i64("at").map_err(corrupt)?;
                Ok((
                    d.get_str("collection").map_err(corrupt)?.to_owned(),
                    d.get_str("document").map_err(corrupt)?.to_owned(),
                    Duration::from_millis(u64::try_from(now.saturating_sub(at)).unwrap_or(0)),
                ))
            })
            .collect()
    }

    async fn delete(&self, ids: Vec<String>) -> Result<(), StoreError> {
        if !ids.is_empty() {
            self.0
                .delete_many(doc! {"_id": {"$in": ids}})
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }
}

/// What this process knows about where pending events are. Shared by a
/// database's write stores (which add) and its outbox. std Mutexes: held
/// for map operations, never across `.await`.
#[derive(Debug, Default)]
pub(super) struct OutboxHints {
    /// Collection → documents that may hold pending events.
    documents: Mutex<HashMap<String, BTreeSet<String>>>,
    /// Event → (collection, document), as the last look found it.
    located: Mutex<HashMap<EventId, (String, String)>>,
    last_sweep: Mutex<Option<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl OutboxHints {
    /// `document` may hold pending events.
    pub fn written(&self, collection: &str, document: &str) {
        lock(&self.documents)
            .entry(collection.to_owned())
            .or_default()
            .insert(document.to_owned());
    }

    fn documents(&self, collection: &str) -> Vec<String> {
        lock(&self.documents)
            .get(collection)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn forget(&self, collection: &str, document: &str) {
        if let Some(ids) = lock(&self.documents).get_mut(collection) {
            ids.remove(document);
        }
    }

    fn found(&self, event: EventId, collection: &str, document: &str) {
        lock(&self.located).insert(event, (collection.to_owned(), document.to_owned()));
    }

    /// Where `events` are, per collection; the rest are unknown here.
    fn locate(&self, events: &[EventId]) -> (HashMap<String, Vec<String>>, Vec<EventId>) {
        let mut located = lock(&self.located);
        let mut by_collection: HashMap<String, Vec<String>> = HashMap::new();
        let mut unknown = Vec::new();
        for event in events {
            match located.remove(event) {
                Some((collection, id)) => by_collection.entry(collection).or_default().push(id),
                None => unknown.push(*event),
            }
        }
        (by_collection, unknown)
    }

    /// Whether this look reads every pointer; if so, it counts as done now.
    fn sweep_due(&self) -> bool {
        let mut last = lock(&self.last_sweep);
        let due = last.is_none_or(|at| at.elapsed() >= SWEEP_EVERY);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}

/// The outbox over every write collection of one database.
#[derive(Debug, Clone)]
pub struct MongoOutbox {
    db: Database,
    pointers: Pointers,
    hints: Arc<OutboxHints>,
}

impl MongoOutbox {
    pub(super) fn new(db: Database, pointers: Pointers, hints: Arc<OutboxHints>) -> Self {
        Self {
            db,
            pointers,
            hints,
        }
    }

    /// Reads every pointer into the hints; drops old ones whose document
    /// does not exist. Returns the pointers' ages, to judge missing ones.
    async fn sweep(&self) -> Result<HashMap<(String, String), Duration>, StoreError> {
        let mut ages = HashMap::new();
        for (collection, document, age) in self.pointers.all().await? {
            self.hints.written(&collection, &document);
            ages.insert((collection, document), age);
        }
        Ok(ages)
    }
}

impl MongoOutbox {
    /// The documents the pointers name, per collection: where every pending
    /// event of every instance is.
    async fn pointed_documents(&self) -> Result<HashMap<String, Vec<Bson>>, StoreError> {
        let mut by_collection: HashMap<String, Vec<Bson>> = HashMap::new();
        for (collection, document, _) in self.pointers.all().await? {
            by_collection
                .entry(collection)
                .or_default()
                .push(Bson::String(document));
        }
        Ok(by_collection)
    }
}

/// Events of `d` that flow: those before its first quarantined one.
fn flowing(d: &Document) -> u64 {
    let quarantined = d.get_document(QUARANTINE).ok();
    d.get_array("outbox_ids").map_or(0, |ids| {
        ids.iter()
            .take_while(|id| {
                id.as_str()
                    .is_some_and(|id| !quarantined.is_some_and(|q| q.contains_key(id)))
            })
            .count() as u64
    })
}

/// The field of a document that lists its quarantined events, with why.
const QUARANTINE: &str = "outbox_quarantine";

/// What one document holds for the relay.
#[derive(Debug, Default)]
struct Pending {
    /// Its pending events, oldest first, up to the first one held back.
    records: Vec<(EventId, OutboxRecord)>,
    /// Whether events are held back behind a quarantined one.
    held: bool,
    /// An entry that cannot be read (its id, and why): to quarantine now.
    unreadable: Option<(String, String)>,
}

fn pending_of(d: &Document) -> Pending {
    let mut found = Pending::default();
    let Ok(ids) = d.get_array("outbox_ids") else {
        return found;
    };
    let quarantined = d.get_document(QUARANTINE).ok();
    for id in ids {
        let Some(id) = id.as_str() else {
            found.held = true;
            found.unreadable = Some((format!("{id}"), "outbox id is not a string".into()));
            break;
        };
        if quarantined.is_some_and(|q| q.contains_key(id)) {
            found.held = true;
            break;
        }
        match read_entry(d, id) {
            Ok(record) => found.records.push((record.id(), record)),
            Err(e) => {
                found.held = true;
                found.unreadable = Some((id.to_owned(), e.to_string()));
                break;
            }
        }
    }
    found
}

fn read_entry(d: &Document, id: &str) -> Result<OutboxRecord, StoreError> {
    let entry = d
        .get_document("outbox")
        .and_then(|entries| entries.get_document(id))
        .map_err(corrupt)?;
    let envelope: RawEnvelope =
        serde_json::from_str(entry.get_str("envelope").map_err(corrupt)?).map_err(corrupt)?;
    let publish = entry.get_bool("publish").map_err(corrupt)?;
    // Absent in records written before traces were kept, or without them.
    let traceparent = entry.get_str("traceparent").ok().map(str::to_owned);
    Ok(OutboxRecord {
        envelope,
        publish,
        traceparent,
    })
}

impl MongoOutbox {
    /// Marks event `event` of `document` in `collection` quarantined.
    async fn quarantine_in(
        &self,
        collection: &str,
        document: &str,
        event: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.db
            .collection::<Document>(collection)
            .update_one(
                doc! {"_id": document},
                doc! {"$set": {format!("{QUARANTINE}.{event}"): reason}},
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl Outbox for MongoOutbox {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let ages = if self.hints.sweep_due() {
            Some(self.sweep().await?)
        } else {
            None
        };
        let collections: Vec<String> = lock(&self.hints.documents).keys().cloned().collect();
        let mut all = Vec::new();
        let mut done_pointers = Vec::new();
        for name in collections {
            let ids = self.hints.documents(&name);
            if ids.is_empty() {
                continue;
            }
            let docs: Vec<Document> = self
                .db
                .collection::<Document>(&name)
                .find(doc! {"_id": {"$in": &ids}})
                .projection(doc! {"outbox_ids": 1, "outbox": 1, QUARANTINE: 1})
                .await
                .map_err(unavailable)?
                .try_collect()
                .await
                .map_err(unavailable)?;
            let mut seen = HashSet::with_capacity(docs.len());
            for d in &docs {
                let id = d.get_str("_id").map_err(corrupt)?;
                seen.insert(id.to_owned());
                let found = pending_of(d);
                if let Some((event, why)) = &found.unreadable {
                    // Held from now on, and said once: the mark stays.
                    tracing::error!(collection = %name, document = id, event, error = %why,
                        "unreadable outbox entry quarantined; later events of its aggregate are held");
                    metrics::counter!("erp_outbox_quarantined_total").increment(1);
                    self.quarantine_in(&name, id, event, &format!("unreadable: {why}"))
                        .await?;
                }
                if found.records.is_empty() {
                    self.hints.forget(&name, id);
                    if !found.held {
                        done_pointers.push(pointer_id(&name, id));
                    }
                }
                for (event, record) in found.records {
                    self.hints.found(event, &name, id);
                    all.push((event, record));
                }
            }
            for id in ids.iter().filter(|id| !seen.contains(*id)) {
                self.hints.forget(&name, id);
                let age = ages
                    .as_ref()
                    .and_then(|a| a.get(&(name.clone(), id.clone())));
                if age.is_some_and(|age| *age >= ORPHAN_AFTER) {
                    done_pointers.push(pointer_id(&name, id));
                }
            }
        }
        self.pointers.delete(done_pointers).await?;
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
        // Events no look of this process found: the pointed-to documents
        // are where they can be.
        let unknown: Vec<String> = unknown.iter().map(ToString::to_string).collect();
        for (collection, documents) in self.pointed_documents().await? {
            self.db
                .collection::<Document>(&collection)
                .update_many(
                    doc! {"_id": {"$in": documents}, "outbox_ids": {"$in": &unknown}},
                    mark.clone(),
                )
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn backlog(&self) -> Result<u64, StoreError> {
        let mut n = 0;
        for (collection, documents) in self.pointed_documents().await? {
            let docs: Vec<Document> = self
                .db
                .collection::<Document>(&collection)
                .find(doc! {"_id": {"$in": documents}})
                .projection(doc! {"outbox_ids": 1, QUARANTINE: 1})
                .await
                .map_err(unavailable)?
                .try_collect()
                .await
                .map_err(unavailable)?;
            n += docs.iter().map(flowing).sum::<u64>();
        }
        Ok(n)
    }

    async fn quarantine(&self, id: EventId, reason: &str) -> Result<(), StoreError> {
        let event = id.to_string();
        let known = lock(&self.hints.located).get(&id).cloned();
        let places = match known {
            Some((collection, document)) => vec![(collection, vec![Bson::String(document)])],
            None => self.pointed_documents().await?.into_iter().collect(),
        };
        for (collection, documents) in places {
            let holder = self
                .db
                .collection::<Document>(&collection)
                .find_one(doc! {"_id": {"$in": documents}, "outbox_ids": &event})
                .projection(doc! {"_id": 1})
                .await
                .map_err(unavailable)?;
            if let Some(holder) = holder {
                let document = holder.get_str("_id").map_err(corrupt)?.to_owned();
                return self
                    .quarantine_in(&collection, &document, &event, reason)
                    .await;
            }
        }
        Ok(())
    }
}
