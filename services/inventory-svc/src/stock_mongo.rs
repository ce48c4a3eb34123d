//! The stock ledger on MongoDB, exactly once per event without multi-document
//! transactions, with stock levels stored as documents read by `_id`.
//!
//! ```text
//! stock_movements {_id: event id, kind, source_id, store_id, at, applied_at,
//!                  deltas: [{product_id, delta}], appliers, settled}
//! stock_levels    {_id: "<store>/<product>", store_id, product_id, on_hand,
//!                  updated_at, pending: [event id, …]}
//! ```
//!
//! Why levels are documents: a level summed over its movements costs a read
//! of the pair's whole history, so every stock check, purchase check and
//! announcement got slower as the ledger grew. A level document costs one
//! `_id` lookup whatever the history.
//!
//! Applying event `E` (every write is single-document, so atomic):
//! 1. insert the movement, keyed by `E`, listing the applier's fresh token
//!    in `appliers`. It holds every line, so the ledger has an event for all
//!    its lines or none. On a duplicate key (a redelivery, a racing
//!    instance) the applier joins: it pushes its token onto `appliers`, only
//!    while the movement is not `settled`; if it is settled, the event was
//!    applied and there is nothing to do.
//! 2. per line, `$inc` the level guarded by `pending ≠ E` and `$push` `E`
//!    onto `pending`, in one update (an upsert for a pair's first movement).
//!    Guard and increment are one atomic step, so however often this step
//!    repeats (after a crash, by a racing applier) each line counts once.
//! 3. leave: pull the token from `appliers` and set `settled`, in one update.
//!    Once settled, nobody can join any more.
//! 4. the applier that leaves `appliers` empty pulls `E` from the levels'
//!    `pending`: every applier of `E` has passed step 2 by then, so no guard
//!    is needed any longer, and the lists hold only events in flight.
//!
//! A crash after any write leaves the message unacked; its redelivery joins
//! and repeats steps 2–4, which skip what was done. The crashed applier's
//! token stays in `appliers`, so `E` is never pulled from those levels'
//! `pending`: a crash leaks one id per line, never a double count. Levels
//! are therefore exactly Σ ledger deltas once settled.
//!
//! Needs a server that applies concurrent updates of one document
//! atomically, as MongoDB does (and the project's test server). FerretDB
//! 1.24 does not (8 writers × 50 `$inc` on one document ended at 54, not
//! 400): do not run inventory on it.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use async_trait::async_trait;
use erp_core::{EventId, ProductId, StoreId, Timestamp};
use erp_store::{
    Order, StoreError,
    mongo::{is_duplicate_key, unavailable},
};
use futures::TryStreamExt;
use mongodb::{
    Collection, Database, IndexModel,
    bson::{Bson, Document, doc},
    options::ReturnDocument,
};

use crate::stock::{Applied, LedgerEntry, Movement, MovementKind, StockLedger, StockLevel, Window};

/// A sort direction as MongoDB spells it.
fn direction(order: Order) -> i32 {
    match order {
        Order::Asc => 1,
        Order::Desc => -1,
    }
}

/// The documents of `find` in `window`'s page, paged by the database.
async fn windowed(
    find: mongodb::action::Find<'_, Document>,
    window: Window,
) -> Result<Vec<Document>, StoreError> {
    let find = find.skip(window.skip);
    let find = match window.limit.and_then(|l| i64::try_from(l).ok()) {
        Some(limit) => find.limit(limit),
        None => find,
    };
    find.await
        .map_err(unavailable)?
        .try_collect()
        .await
        .map_err(unavailable)
}

/// The MongoDB ledger.
#[derive(Debug, Clone)]
pub struct MongoStockLedger {
    movements: Collection<Document>,
    levels: Collection<Document>,
    crash_after: Option<Arc<AtomicUsize>>,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// A level's `_id`. Ids cannot contain `/` (`^[A-Za-z0-9][A-Za-z0-9._-]*$`),
/// so the pair reads back unambiguously.
fn level_id(store: &StoreId, product: &ProductId) -> String {
    format!("{}/{}", store.as_str(), product.as_str())
}

/// What a level read returns: everything but the `pending` list.
fn level_projection() -> Document {
    doc! {"store_id": 1, "product_id": 1, "on_hand": 1, "updated_at": 1}
}

fn level_of(d: &Document) -> Result<StockLevel, StoreError> {
    Ok(StockLevel {
        store_id: StoreId::parse(d.get_str("store_id").map_err(corrupt)?).map_err(corrupt)?,
        product_id: ProductId::parse(d.get_str("product_id").map_err(corrupt)?).map_err(corrupt)?,
        on_hand: d.get_i64("on_hand").map_err(corrupt)?,
        updated_at: Timestamp::parse(d.get_str("updated_at").map_err(corrupt)?).map_err(corrupt)?,
    })
}

fn kind_str(k: MovementKind) -> &'static str {
    match k {
        MovementKind::Purchase => "purchase",
        MovementKind::Sale => "sale",
    }
}

impl MongoStockLedger {
    /// The ledger in `db`; creates its indexes (idempotently).
    pub async fn new(db: &Database) -> Result<Self, StoreError> {
        let movements = db.collection::<Document>("stock_movements");
        let levels = db.collection::<Document>("stock_levels");
        // Serves `GET /stock/{store}/{product}/movements` on MongoDB.
        movements
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"store_id": 1, "deltas.product_id": 1})
                    .build(),
            )
            .await
            .map_err(unavailable)?;
        // Serves a store's levels (`GET /stock?store_id`, total units).
        levels
            .create_index(
                IndexModel::builder()
                    .keys(doc! {"store_id": 1, "product_id": 1})
                    .build(),
            )
            .await
            .map_err(unavailable)?;
        Ok(Self {
            movements,
            levels,
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

    /// How many writes applying `m` takes when nothing was applied before:
    /// the movement, one per line, leaving, the cleanup.
    #[doc(hidden)]
    pub fn writes_to_apply(m: &Movement) -> usize {
        m.deltas.len() + 3
    }

    fn step(&self) -> Result<(), StoreError> {
        if let Some(left) = &self.crash_after
            && left.fetch_sub(1, Ordering::SeqCst) == 1
        {
            return Err(StoreError::Unavailable("injected crash".into()));
        }
        Ok(())
    }

    /// Step 1: record the movement, or join its appliers when it is
    /// recorded but not settled. `false`: it is settled (the event applied).
    async fn record_or_join(&self, m: &Movement, token: &str) -> Result<bool, StoreError> {
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
                "appliers": [token],
                "settled": false,
            })
            .await;
        match inserted {
            Ok(_) => return Ok(true),
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(unavailable(e)),
        }
        let joined = self
            .movements
            .update_one(
                doc! {"_id": m.event_id.to_string(), "settled": false},
                doc! {"$push": {"appliers": token}},
            )
            .await
            .map_err(unavailable)?;
        Ok(joined.matched_count == 1)
    }

    /// Step 2 for one line: the guarded increment.
    async fn move_level(
        &self,
        m: &Movement,
        product: &ProductId,
        delta: i64,
        now: &str,
    ) -> Result<(), StoreError> {
        let id = level_id(&m.store_id, product);
        let event = m.event_id.to_string();
        self.step()?;
        loop {
            let moved = self
                .levels
                .update_one(
                    doc! {"_id": &id, "pending": {"$ne": &event}},
                    doc! {
                        "$inc": {"on_hand": delta},
                        "$push": {"pending": &event},
                        "$set": {
                            "store_id": m.store_id.as_str(),
                            "product_id": product.as_str(),
                            "updated_at": now,
                        },
                    },
                )
                .upsert(true)
                .await;
            match moved {
                Ok(_) => return Ok(()),
                // The level exists and the guard failed (this event already
                // moved it), or two first movements raced on the insert.
                Err(e) if is_duplicate_key(&e) => {
                    let already = self
                        .levels
                        .find_one(doc! {"_id": &id, "pending": &event})
                        .projection(doc! {"_id": 1})
                        .await
                        .map_err(unavailable)?;
                    if already.is_some() {
                        return Ok(());
                    }
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
    }

    /// Steps 3 and 4.
    async fn leave(&self, m: &Movement, token: &str) -> Result<(), StoreError> {
        let event = m.event_id.to_string();
        self.step()?;
        let left = self
            .movements
            .find_one_and_update(
                doc! {"_id": &event, "appliers": token},
                doc! {"$pull": {"appliers": token}, "$set": {"settled": true}},
            )
            .return_document(ReturnDocument::After)
            .projection(doc! {"appliers": 1})
            .await
            .map_err(unavailable)?;
        let last = left.is_some_and(|d| d.get_array("appliers").is_ok_and(Vec::is_empty));
        if !last {
            return Ok(());
        }
        let ids: Vec<String> = m
            .deltas
            .iter()
            .map(|(p, _)| level_id(&m.store_id, p))
            .collect();
        self.step()?;
        self.levels
            .update_many(
                doc! {"_id": {"$in": ids}},
                doc! {"$pull": {"pending": &event}},
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn find_levels(
        &self,
        filter: Document,
        window: Window,
    ) -> Result<Vec<StockLevel>, StoreError> {
        let dir = direction(window.order);
        let docs: Vec<Document> = windowed(
            self.levels
                .find(filter)
                .projection(level_projection())
                .sort(doc! {"store_id": dir, "product_id": dir}),
            window,
        )
        .await?;
        docs.iter().map(level_of).collect()
    }
}

#[async_trait]
impl StockLedger for MongoStockLedger {
    async fn apply(&self, m: &Movement) -> Result<Applied, StoreError> {
        let token = EventId::new().to_string();
        if !self.record_or_join(m, &token).await? {
            return Ok(Applied::AlreadyApplied);
        }
        let now = Timestamp::now().to_string();
        // Lines touch different documents: move them at once.
        futures::future::try_join_all(
            m.deltas
                .iter()
                .map(|(product, delta)| self.move_level(m, product, *delta, &now)),
        )
        .await?;
        self.leave(m, &token).await?;
        Ok(Applied::Moved)
    }

    async fn level(
        &self,
        store: &StoreId,
        product: &ProductId,
    ) -> Result<Option<StockLevel>, StoreError> {
        self.levels
            .find_one(doc! {"_id": level_id(store, product)})
            .projection(level_projection())
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(level_of)
            .transpose()
    }

    async fn levels(
        &self,
        store: Option<&StoreId>,
        product: Option<&ProductId>,
        window: Window,
    ) -> Result<Vec<StockLevel>, StoreError> {
        let filter = match (store, product) {
            // One pair: its `_id`, not a filter.
            (Some(s), Some(p)) => doc! {"_id": level_id(s, p)},
            (Some(s), None) => doc! {"store_id": s.as_str()},
            (None, Some(p)) => doc! {"product_id": p.as_str()},
            (None, None) => doc! {},
        };
        self.find_levels(filter, window).await
    }

    async fn levels_of(
        &self,
        store: &StoreId,
        products: &[ProductId],
    ) -> Result<Vec<StockLevel>, StoreError> {
        let ids: Vec<Bson> = products
            .iter()
            .map(|p| Bson::String(level_id(store, p)))
            .collect();
        self.find_levels(doc! {"_id": {"$in": ids}}, Window::all(Order::Asc))
            .await
    }

    async fn movements(
        &self,
        store: &StoreId,
        product: &ProductId,
        window: Window,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let dir = direction(window.order);
        let docs: Vec<Document> = windowed(
            self.movements
                .find(doc! {"store_id": store.as_str(), "deltas.product_id": product.as_str()})
                .sort(doc! {"at": dir, "_id": dir}),
            window,
        )
        .await?;
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

    async fn total_units(&self, store: &StoreId) -> Result<i64, StoreError> {
        // One document per product the store ever held: bounded by the
        // catalogue, not by the history.
        let mut cursor = self
            .levels
            .find(doc! {"store_id": store.as_str()})
            .projection(doc! {"on_hand": 1})
            .await
            .map_err(unavailable)?;
        let mut total = 0_i64;
        while let Some(d) = cursor.try_next().await.map_err(unavailable)? {
            total = total.saturating_add(d.get_i64("on_hand").map_err(corrupt)?.max(0));
        }
        Ok(total)
    }
}
