use std::{
    collections::BTreeMap,
    marker::PhantomData,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::{json_path, lock};
use crate::{Filter, Page, ReadModel, StoreError, Totals, ViewQuery};

/// An in-memory read model. Views are kept as JSON so that filters and sort
/// keys are evaluated exactly as a document database would.
///
/// Each view is stored as its compact JSON text, not as a
/// [`serde_json::Value`]: a `Value` object holds every key and field in an
/// allocation of its own (and, in a build with the MongoDB driver, an
/// ordered map besides), several times the text's size, and a read model
/// grows with every command. A query parses the views it looks at.
#[derive(Debug)]
pub struct MemoryReadModel<V> {
    docs: Arc<Mutex<BTreeMap<Box<str>, Box<str>>>>,
    _view: PhantomData<fn() -> V>,
}

impl<V> Clone for MemoryReadModel<V> {
    fn clone(&self) -> Self {
        Self {
            docs: Arc::clone(&self.docs),
            _view: PhantomData,
        }
    }
}

impl<V> Default for MemoryReadModel<V> {
    fn default() -> Self {
        Self {
            docs: Arc::default(),
            _view: PhantomData,
        }
    }
}

impl<V> MemoryReadModel<V> {
    /// An empty read model.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Reads a view from its stored JSON text.
fn decode<V: DeserializeOwned>(doc: &str) -> Result<V, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Calls `visit` with each stored view every filter holds for, parsed,
/// and its text. Each view is parsed once, and dropped after its visit.
fn for_each_match<'a>(
    docs: &'a BTreeMap<Box<str>, Box<str>>,
    filters: &[Filter],
    mut visit: impl FnMut(&Value, &'a str),
) -> Result<(), StoreError> {
    for text in docs.values() {
        let doc: Value = decode(text)?;
        if filters.iter().all(|f| json_path::matches(&doc, f)) {
            visit(&doc, text);
        }
    }
    Ok(())
}

#[async_trait]
impl<V> ReadModel<V> for MemoryReadModel<V>
where
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    async fn upsert(&self, id: &str, view: V) -> Result<(), StoreError> {
        let doc = serde_json::to_string(&view).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        lock(&self.docs).insert(id.into(), doc.into_boxed_str());
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<V>, StoreError> {
        lock(&self.docs).get(id).map(|d| decode(d)).transpose()
    }

    async fn query(&self, query: &ViewQuery) -> Result<Page<V>, StoreError> {
        let docs = lock(&self.docs);
        let mut hits = Vec::new();
        for_each_match(&docs, &query.filters, |doc, text| {
            hits.push((json_path::sort_key(doc, &query.sort), text));
        })?;
        hits.sort_by(|(a, _), (b, _)| json_path::order_by(a, b, &query.sort));
        let total_items = hits.len() as u64;
        let items = hits
            .into_iter()
            .skip(usize::try_from(query.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(query.page_size).unwrap_or(usize::MAX))
            .map(|(_, text)| decode(text))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, total_items })
    }

    async fn totals(&self, filters: &[Filter], sum_fields: &[&str]) -> Result<Totals, StoreError> {
        let docs = lock(&self.docs);
        let mut totals = Totals {
            count: 0,
            sums: vec![0; sum_fields.len()],
        };
        for_each_match(&docs, filters, |doc, _| {
            totals.count += 1;
            for (sum, field) in totals.sums.iter_mut().zip(sum_fields) {
                let v = json_path::values_at(doc, field)
                    .first()
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                *sum = sum.saturating_add(v);
            }
        })?;
        Ok(totals)
    }

    async fn clear(&self) -> Result<(), StoreError> {
        lock(&self.docs).clear();
        Ok(())
    }
}
