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
#[derive(Debug)]
pub struct MemoryReadModel<V> {
    docs: Arc<Mutex<BTreeMap<String, Value>>>,
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

/// Reads a view straight from the stored JSON (no copy of the document).
fn decode<V: DeserializeOwned>(doc: &Value) -> Result<V, StoreError> {
    V::deserialize(doc).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl<V> ReadModel<V> for MemoryReadModel<V>
where
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    async fn upsert(&self, id: &str, view: V) -> Result<(), StoreError> {
        let doc = serde_json::to_value(&view).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        lock(&self.docs).insert(id.to_owned(), doc);
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<V>, StoreError> {
        lock(&self.docs).get(id).map(decode).transpose()
    }

    async fn query(&self, query: &ViewQuery) -> Result<Page<V>, StoreError> {
        let docs = lock(&self.docs);
        let mut hits: Vec<&Value> = docs
            .values()
            .filter(|d| query.filters.iter().all(|f| json_path::matches(d, f)))
            .collect();
        hits.sort_by(|a, b| json_path::order_by(a, b, &query.sort));
        let total_items = hits.len() as u64;
        let items = hits
            .into_iter()
            .skip(usize::try_from(query.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(query.page_size).unwrap_or(usize::MAX))
            .map(decode)
            .collect::<Result<_, _>>()?;
        Ok(Page { items, total_items })
    }

    async fn totals(&self, filters: &[Filter], sum_fields: &[&str]) -> Result<Totals, StoreError> {
        let docs = lock(&self.docs);
        let mut totals = Totals {
            count: 0,
            sums: vec![0; sum_fields.len()],
        };
        for doc in docs
            .values()
            .filter(|d| filters.iter().all(|f| json_path::matches(d, f)))
        {
            totals.count += 1;
            for (sum, field) in totals.sums.iter_mut().zip(sum_fields) {
                let v = json_path::values_at(doc, field)
                    .first()
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                *sum = sum.saturating_add(v);
            }
        }
        Ok(totals)
    }

    async fn clear(&self) -> Result<(), StoreError> {
        lock(&self.docs).clear();
        Ok(())
    }
}
