//! Read models: one document per view, `_id` = the view's id.

use std::marker::PhantomData;

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::{
    Collection,
    bson::{self, Bson, Document, doc},
};
use serde::{Serialize, de::DeserializeOwned};

use super::{corrupt, unavailable};
use crate::{Filter, Order, Page, ReadModel, StoreError, Totals, ViewQuery};

/// A read model in one collection.
#[derive(Debug)]
pub struct MongoReadModel<V> {
    collection: Collection<Document>,
    _view: PhantomData<fn() -> V>,
}

impl<V> MongoReadModel<V> {
    pub(super) fn new(collection: Collection<Document>) -> Self {
        Self {
            collection,
            _view: PhantomData,
        }
    }
}

fn to_bson(v: &serde_json::Value) -> Result<Bson, StoreError> {
    bson::to_bson(v).map_err(corrupt)
}

/// `$and` of the filters; several on one path (a date range) must not
/// overwrite each other, as they would as keys of one document.
fn filter_doc(filters: &[Filter]) -> Result<Document, StoreError> {
    let mut clauses = Vec::with_capacity(filters.len());
    for f in filters {
        clauses.push(match f {
            Filter::Eq(path, v) => doc! {path: to_bson(v)?},
            Filter::Gte(path, v) => doc! {path: {"$gte": to_bson(v)?}},
            Filter::Lte(path, v) => doc! {path: {"$lte": to_bson(v)?}},
        });
    }
    Ok(if clauses.is_empty() {
        doc! {}
    } else {
        doc! {"$and": clauses}
    })
}

fn decode<V: DeserializeOwned>(mut d: Document) -> Result<V, StoreError> {
    d.remove("_id");
    bson::from_document(d).map_err(corrupt)
}

/// The first integer at a dotted path (through arrays), as the in-memory
/// model reads it.
fn first_int(d: &Document, path: &str) -> i64 {
    let mut current = Bson::Document(d.clone());
    for key in path.split('.') {
        current = match current {
            Bson::Document(m) => m.get(key).cloned().unwrap_or(Bson::Null),
            Bson::Array(items) => items
                .into_iter()
                .find_map(|i| i.as_document().and_then(|m| m.get(key).cloned()))
                .unwrap_or(Bson::Null),
            _ => Bson::Null,
        };
    }
    match current {
        Bson::Int32(n) => i64::from(n),
        Bson::Int64(n) => n,
        _ => 0,
    }
}

#[async_trait]
impl<V> ReadModel<V> for MongoReadModel<V>
where
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    async fn upsert(&self, id: &str, view: V) -> Result<(), StoreError> {
        let mut d = bson::to_document(&view).map_err(corrupt)?;
        d.insert("_id", id);
        self.collection
            .replace_one(doc! {"_id": id}, d)
            .upsert(true)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<V>, StoreError> {
        let found = self
            .collection
            .find_one(doc! {"_id": id})
            .await
            .map_err(unavailable)?;
        found.map(decode).transpose()
    }

    async fn query(&self, query: &ViewQuery) -> Result<Page<V>, StoreError> {
        let filter = filter_doc(&query.filters)?;
        let total_items = self
            .collection
            .count_documents(filter.clone())
            .await
            .map_err(unavailable)?;
        let mut sort = Document::new();
        for (path, order) in &query.sort {
            sort.insert(path, if *order == Order::Asc { 1 } else { -1 });
        }
        if sort.is_empty() {
            sort.insert("_id", 1);
        }
        let mut find = self.collection.find(filter).sort(sort);
        if query.offset() > 0 {
            find = find.skip(query.offset());
        }
        if let Ok(limit) = i64::try_from(query.page_size) {
            find = find.limit(limit);
        }
        let docs: Vec<Document> = find
            .await
            .map_err(unavailable)?
            .try_collect()
            .await
            .map_err(unavailable)?;
        let items = docs.into_iter().map(decode).collect::<Result<_, _>>()?;
        Ok(Page { items, total_items })
    }

    async fn totals(&self, filters: &[Filter], sum_fields: &[&str]) -> Result<Totals, StoreError> {
        // Streamed and summed here rather than with `$group`: FerretDB 1.x
        // computes only the first accumulator of a `$group` correctly. The
        // projection keeps the transfer to the summed fields; memory stays
        // constant however many documents match.
        let mut projection = doc! {"_id": 1};
        for f in sum_fields {
            projection.insert(*f, 1);
        }
        let mut cursor = self
            .collection
            .find(filter_doc(filters)?)
            .projection(projection)
            .await
            .map_err(unavailable)?;
        let mut totals = Totals {
            count: 0,
            sums: vec![0; sum_fields.len()],
        };
        while let Some(d) = cursor.try_next().await.map_err(unavailable)? {
            totals.count += 1;
            for (sum, field) in totals.sums.iter_mut().zip(sum_fields) {
                *sum = sum.saturating_add(first_int(&d, field));
            }
        }
        Ok(totals)
    }

    async fn clear(&self) -> Result<(), StoreError> {
        self.collection
            .delete_many(doc! {})
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
