//! Where this process's pending outbox events are, so a relay pass reads
//! those documents by `_id` instead of searching the write collections.
//!
//! Why: finding documents with pending events is a filter on `outbox_ids`.
//! MongoDB serves it from the index, but servers without multikey range
//! indexes (the project's test server, FerretDB) scan the whole collection,
//! so every pass would cost more as purchases and sales pile up. The write
//! store notes each document it writes with events; a pass looks exactly
//! those up. A *sweep* (the filter) still runs when the process starts and
//! then every [`SWEEP_EVERY`], to pick up events another instance wrote and
//! did not relay (it died): they wait at most that long.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Mutex,
    time::{Duration, Instant},
};

use erp_core::EventId;

/// How often a relay also searches the collections for pending events.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Shared by a database's write stores (which add) and its outbox (which
/// reads and forgets). std Mutexes: held for map operations, never across
/// `.await`.
#[derive(Debug, Default)]
pub(super) struct OutboxHints {
    /// Collection → ids of documents that may hold pending events.
    documents: Mutex<HashMap<String, BTreeSet<String>>>,
    /// Event → (collection, document id), as the last look found it.
    located: Mutex<HashMap<EventId, (String, String)>>,
    last_sweep: Mutex<Option<Instant>>,
}

impl OutboxHints {
    /// A write store wrote (or may have written) events in this document.
    pub fn written(&self, collection: &str, id: &str) {
        lock(&self.documents)
            .entry(collection.to_owned())
            .or_default()
            .insert(id.to_owned());
    }

    /// The documents to look up in `collection`.
    pub fn documents(&self, collection: &str) -> Vec<String> {
        lock(&self.documents)
            .get(collection)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A look found `id` without pending events, or not at all.
    pub fn settled(&self, collection: &str, id: &str) {
        if let Some(ids) = lock(&self.documents).get_mut(collection) {
            ids.remove(id);
        }
    }

    /// A look found `event` pending in this document.
    pub fn found(&self, event: EventId, collection: &str, id: &str) {
        lock(&self.located).insert(event, (collection.to_owned(), id.to_owned()));
        self.written(collection, id);
    }

    /// Where `events` are, per collection; the rest are unknown here.
    pub fn locate(&self, events: &[EventId]) -> (HashMap<String, Vec<String>>, Vec<EventId>) {
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

    /// Whether this look should be a sweep; if so, it counts as done now.
    pub fn sweep_due(&self) -> bool {
        let mut last = lock(&self.last_sweep);
        let due = last.is_none_or(|at| at.elapsed() >= SWEEP_EVERY);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
