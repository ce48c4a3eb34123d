//! The stock ledger on MongoDB / FerretDB, exactly once per event without
//! multi-document transactions, and without updating any document.
//!
//! ```text
//! stock_movements {_id: event id, kind, source_id, store_id, at, applied_at,
//!                  deltas: [{product_id, delta}]}
//! ```
//!
//! Applying an event is one insert: the movement, keyed by the event id. It
//! carries every line, so an event counts for all its lines or none, and a
//! duplicate insert (a redelivery, or two instances racing on one event) is a
//! duplicate-key error that changes nothing. A process that dies before the
//! insert leaves the message unacked; its redelivery inserts it then.
//!
//! Stock levels are not stored: they are sums over the movements, read
//! through the index on `(store_id, deltas.product_id)`, so on_hand = Σ ledger
//! deltas holds by construction. Why not a level document updated with
//! `$inc`: FerretDB 1.24 (SQLite backend) loses concurrent updates of one
//! document (measured: 8 writers × 50 `$inc` ended at 54, not 400), so any
//! read-modify-write counter would drift under concurrent consumers. Inserts
//! with a unique `_id` are safe there and on MongoDB alike.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use async_trait::async_trait;
use erp_core::{EventId, ProductId, StoreId, Timestamp};
use erp_store::{
    StoreError,
    mongo::{is_duplicate_key, unavailable},
};
use futures::TryStreamExt;
use mongodb::{
    Collection, Database, IndexModel,
    bson::{Document, doc},
};

use crate::stock::{Applied, LedgerEntry, Movement, MovementKind, StockLedger, StockLevel};

/// The MongoDB ledger.
#[derive(Debug, Clone)]
pub struct MongoStockLedger {
    movements: Collection<Document>,
    crash_after: Option<Arc<AtomicUsize>>,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl MongoStockLedger {
    /// The ledger in `db`; creates its index (idempotently).
    pub async fn new(db: &Database) -> Result<Self, StoreError> {
        let movements = db.collection::<Document>("stock_movements");
        movements
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"store_id": 1, "deltas.product_id": 1})
                    .build(),
            )
            .await
            .map_err(unavailable)?;
        Ok(Self {
            movements,
            crash_after: None,
        })
    }

    /// Test seam: fail with [`StoreError::Unavailable`] in place of the
    /// n-th write (1-based), as if the process died there.
    #[doc(hidden)]
    pub fn crashing_at_write(mut self, n: usize) -> Self {
        self.crash_after = Some(Arc::new(AtomicUsize::new(n)));
        self
    }

    fn step(&self) -> Result<(), StoreError> {
        if let Some(left) = &self.crash_after {
            if left.fetch_sub(1, Ordering::SeqCst) == 1 {
                return Err(StoreError::Unavailable("injected crash".into()));
            }
        }
        Ok(())
    }

    /// Movements touching `store` (all stores if `None`) and `product` (all
    /// products if `None`), streamed and folded into per-pair levels.
    async fn fold_levels(
        &self,
        store: Option<&StoreId>,
        products: Option<&[ProductId]>,
    ) -> Result<BTreeMap<(String, String), (i64, String)>, StoreError> {
        let mut filter = Document::new();
        if let Some(s) = store {
            filter.insert("store_id", s.as_str());
        }
        match products {
            Some([p]) => {
                filter.insert("deltas.product_id", p.as_str());
            }
            Some(ps) => {
                let ids: Vec<&str> = ps.iter().map(ProductId::as_str).collect();
                filter.insert("deltas.product_id", doc! {"$in": ids});
            }
            None => {}
        }
        let mut cursor = self
            .movements
            .find(filter)
            .projection(doc! {"store_id": 1, "deltas": 1, "applied_at": 1})
            .await
            .map_err(unavailable)?;
        let mut levels: BTreeMap<(String, String), (i64, String)> = BTreeMap::new();
        while let Some(d) = cursor.try_next().await.map_err(unavailable)? {
            let store_id = d.get_str("store_id").map_err(corrupt)?.to_owned();
            let applied_at = d.get_str("applied_at").map_err(corrupt)?.to_owned();
            for line in d
                .get_array("deltas")
                .map_err(corrupt)?
                .iter()
                .filter_map(|l| l.as_document())
            {
                let line_product = line.get_str("product_id").map_err(corrupt)?;
                if products.is_some_and(|ps| ps.iter().all(|p| p.as_str() != line_product)) {
                    continue;
                }
                let delta = line.get_i64("delta").map_err(corrupt)?;
                let level = levels
                    .entry((store_id.clone(), line_product.to_owned()))
                    .or_insert((0, String::new()));
                level.0 += delta;
                // Canonical timestamps compare as text.
                if applied_at > level.1 {
                    level.1.clone_from(&applied_at);
                }
            }
        }
        Ok(levels)
    }
}

fn level_of(
    (store, product): (String, String),
    (on_hand, updated_at): (i64, String),
) -> Result<StockLevel, StoreError> {
    Ok(StockLevel {
        store_id: StoreId::parse(&store).map_err(corrupt)?,
        product_id: ProductId::parse(&product).map_err(corrupt)?,
        on_hand,
        updated_at: Timestamp::parse(&updated_at).map_err(corrupt)?,
    })
}

fn kind_str(k: MovementKind) -> &'static str {
    match k {
        MovementKind::Purchase => "purchase",
        MovementKind::Sale => "sale",
    }
}

#[async_trait]
impl StockLedger for MongoStockLedger {
    async fn apply(&self, m: &Movement) -> Result<Applied, StoreError> {
        let deltas: Vec<Document> = m
            .deltas
            .iter()
            .map(|(p, d)| doc! {"product_id": p.as_str(), "delta": *d})
            .collect();
        self.step()?;
        let inserted = self
            .movements
            .insert_one(doc! {
                "_id": m.event_id.to_string(),
                "kind": kind_str(m.kind),
                "source_id": &m.source_id,
                "store_id": m.store_id.as_str(),
                "at": m.at.to_string(),
                "applied_at": Timestamp::now().to_string(),
                "deltas": deltas,
            })
            .await;
        match inserted {
            Ok(_) => Ok(Applied::Moved),
            Err(e) if is_duplicate_key(&e) => Ok(Applied::AlreadyApplied),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn level(
        &self,
        store: &StoreId,
        product: &ProductId,
    ) -> Result<Option<StockLevel>, StoreError> {
        self.fold_levels(Some(store), Some(std::slice::from_ref(product)))
            .await?
            .into_iter()
            .next()
            .map(|(k, v)| level_of(k, v))
            .transpose()
    }

    async fn levels(
        &self,
        store: Option<&StoreId>,
        product: Option<&ProductId>,
    ) -> Result<Vec<StockLevel>, StoreError> {
        self.fold_levels(store, product.map(std::slice::from_ref))
            .await?
            .into_iter()
            .map(|(k, v)| level_of(k, v))
            .collect()
    }

    async fn movements(
        &self,
        store: &StoreId,
        product: &ProductId,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let docs: Vec<Document> = self
            .movements
            .find(doc! {"store_id": store.as_str(), "deltas.product_id": product.as_str()})
            .sort(doc! {"at": 1, "_id": 1})
            .await
            .map_err(unavailable)?
            .try_collect()
            .await
            .map_err(unavailable)?;
        let mut entries = Vec::with_capacity(docs.len());
        for d in docs {
            let delta = d
                .get_array("deltas")
                .map_err(corrupt)?
                .iter()
                .filter_map(|l| l.as_document())
                .find(|l| l.get_str("product_id") == Ok(product.as_str()))
                .and_then(|l| l.get_i64("delta").ok())
                .ok_or_else(|| corrupt("movement without the product's delta"))?;
            entries.push(LedgerEntry {
                event_id: EventId::parse(d.get_str("_id").map_err(corrupt)?).map_err(corrupt)?,
                kind: match d.get_str("kind").map_err(corrupt)? {
                    "sale" => MovementKind::Sale,
                    _ => MovementKind::Purchase,
                },
                source_id: d.get_str("source_id").map_err(corrupt)?.to_owned(),
                delta,
                at: Timestamp::parse(d.get_str("at").map_err(corrupt)?).map_err(corrupt)?,
            });
        }
        Ok(entries)
    }

    async fn levels_of(
        &self,
        store: &StoreId,
        products: &[ProductId],
    ) -> Result<Vec<StockLevel>, StoreError> {
        self.fold_levels(Some(store), Some(products))
            .await?
            .into_iter()
            .map(|(k, v)| level_of(k, v))
            .collect()
    }

    async fn total_units(&self, store: &StoreId) -> Result<i64, StoreError> {
        Ok(self
            .fold_levels(Some(store), None)
            .await?
            .values()
            .map(|(on_hand, _)| (*on_hand).max(0))
            .sum())
    }
}
