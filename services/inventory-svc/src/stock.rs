//! The stock ledger: one entry per (event, product), and the stock levels
//! derived from it. Applying an event is all-or-nothing and happens once per
//! event id, however often the event is delivered.

use std::{
    collections::{BTreeMap, HashSet},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use erp_core::{EventId, ProductId, StoreId, Timestamp};
use erp_store::{Order, StoreError};
use serde::{Deserialize, Serialize};

/// Which part of an ordered list to read: its direction and one page,
/// applied by the store so that a page costs a page, not the whole list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Direction of the list's natural order.
    pub order: Order,
    /// Items before the page.
    pub skip: u64,
    /// Items in the page; `None` for all the rest.
    pub limit: Option<u64>,
}

impl Window {
    /// The whole list in `order`.
    pub fn all(order: Order) -> Self {
        Self {
            order,
            skip: 0,
            limit: None,
        }
    }

    /// The window over a list held in ascending order (in memory).
    pub fn apply<T>(&self, mut ascending: Vec<T>) -> Vec<T> {
        if self.order == Order::Desc {
            ascending.reverse();
        }
        let skip = usize::try_from(self.skip).unwrap_or(usize::MAX);
        let take = self
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        ascending.into_iter().skip(skip).take(take).collect()
    }
}

/// Why stock moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// A purchase added stock.
    Purchase,
    /// A sale removed stock.
    Sale,
}

/// Everything one event does to stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    /// The event; the unit of exactly-once.
    pub event_id: EventId,
    /// Purchase or sale.
    pub kind: MovementKind,
    /// The purchase or sale id.
    pub source_id: String,
    /// Where.
    pub store_id: StoreId,
    /// When it happened (business time).
    pub at: Timestamp,
    /// Signed change per product; each product once.
    pub deltas: Vec<(ProductId, i64)>,
}

/// One row of the ledger, as `GET /stock/{store}/{product}/movements` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LedgerEntry {
    /// The event that moved stock.
    #[schema(value_type = String)]
    pub event_id: EventId,
    /// Purchase or sale.
    pub kind: MovementKind,
    /// The purchase or sale id.
    pub source_id: String,
    /// Signed change.
    pub delta: i64,
    /// When it happened.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// Units on hand of one product in one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    /// Where.
    pub store_id: StoreId,
    /// What.
    pub product_id: ProductId,
    /// Σ ledger deltas; negative when sales outran stock.
    pub on_hand: i64,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// What `apply` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Stock moved.
    Moved,
    /// This event had moved stock before; nothing changed.
    AlreadyApplied,
}

/// The ledger port.
#[async_trait]
pub trait StockLedger: Send + Sync {
    /// Applies a movement once: every line or none.
    async fn apply(&self, movement: &Movement) -> Result<Applied, StoreError>;
    /// One level; `None` when the pair never moved.
    async fn level(
        &self,
        store: &StoreId,
        product: &ProductId,
    ) -> Result<Option<StockLevel>, StoreError>;
    /// Levels matching the optional filters, ordered by store then product,
    /// the `window` of them.
    async fn levels(
        &self,
        store: Option<&StoreId>,
        product: Option<&ProductId>,
        window: Window,
    ) -> Result<Vec<StockLevel>, StoreError>;
    /// The levels of some products in one store, in one read (what a
    /// movement touched); pairs that never moved are absent.
    async fn levels_of(
        &self,
        store: &StoreId,
        products: &[ProductId],
    ) -> Result<Vec<StockLevel>, StoreError>;
    /// The ledger of one pair, ordered by time (then event id), the
    /// `window` of it.
    async fn movements(
        &self,
        store: &StoreId,
        product: &ProductId,
        window: Window,
    ) -> Result<Vec<LedgerEntry>, StoreError>;
    /// Units in a store: Σ on_hand over its products, negative rows as 0.
    async fn total_units(&self, store: &StoreId) -> Result<i64, StoreError>;
}

type Pair = (StoreId, ProductId);

#[derive(Debug, Default)]
struct Ledger {
    applied: HashSet<EventId>,
    entries: BTreeMap<Pair, Vec<LedgerEntry>>,
    levels: BTreeMap<Pair, StockLevel>,
}

/// The in-memory ledger. One lock covers entries and levels, which makes
/// each `apply` atomic.
#[derive(Debug, Clone, Default)]
pub struct MemoryStockLedger(Arc<Mutex<Ledger>>);

impl MemoryStockLedger {
    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl StockLedger for MemoryStockLedger {
    async fn apply(&self, m: &Movement) -> Result<Applied, StoreError> {
        let mut ledger = self.lock();
        if !ledger.applied.insert(m.event_id) {
            return Ok(Applied::AlreadyApplied);
        }
        let now = Timestamp::now();
        for (product, delta) in &m.deltas {
            let pair = (m.store_id.clone(), product.clone());
            ledger
                .entries
                .entry(pair.clone())
                .or_default()
                .push(LedgerEntry {
                    event_id: m.event_id,
                    kind: m.kind,
                    source_id: m.source_id.clone(),
                    delta: *delta,
                    at: m.at,
                });
            let level = ledger.levels.entry(pair).or_insert_with(|| StockLevel {
                store_id: m.store_id.clone(),
                product_id: product.clone(),
                on_hand: 0,
                updated_at: now,
            });
            level.on_hand += delta;
            level.updated_at = now;
        }
        Ok(Applied::Moved)
    }

    async fn level(
        &self,
        store: &StoreId,
        product: &ProductId,
    ) -> Result<Option<StockLevel>, StoreError> {
        Ok(self
            .lock()
            .levels
            .get(&(store.clone(), product.clone()))
            .cloned())
    }

    async fn levels_of(
        &self,
        store: &StoreId,
        products: &[ProductId],
    ) -> Result<Vec<StockLevel>, StoreError> {
        let ledger = self.lock();
        Ok(products
            .iter()
            .filter_map(|p| ledger.levels.get(&(store.clone(), p.clone())).cloned())
            .collect())
    }

    async fn levels(
        &self,
        store: Option<&StoreId>,
        product: Option<&ProductId>,
        window: Window,
    ) -> Result<Vec<StockLevel>, StoreError> {
        Ok(window.apply(
            self.lock()
                .levels
                .values()
                .filter(|l| store.is_none_or(|s| *s == l.store_id))
                .filter(|l| product.is_none_or(|p| *p == l.product_id))
                .cloned()
                .collect(),
        ))
    }

    async fn movements(
        &self,
        store: &StoreId,
        product: &ProductId,
        window: Window,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let mut entries = self
            .lock()
            .entries
            .get(&(store.clone(), product.clone()))
            .cloned()
            .unwrap_or_default();
        entries.sort_by_key(|e| (e.at, e.event_id));
        Ok(window.apply(entries))
    }

    async fn total_units(&self, store: &StoreId) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .levels
            .values()
            .filter(|l| l.store_id == *store)
            .map(|l| l.on_hand.max(0))
            .sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movement(kind: MovementKind, deltas: &[(&str, i64)]) -> Movement {
        Movement {
            event_id: EventId::new(),
            kind,
            source_id: "src".into(),
            store_id: StoreId::main(),
            at: Timestamp::now(),
            deltas: deltas
                .iter()
                .map(|(p, d)| (ProductId::parse(p).unwrap(), *d))
                .collect(),
        }
    }

    #[tokio::test]
    async fn levels_of_reads_only_the_named_products_that_moved() {
        let ledger = MemoryStockLedger::default();
        let buy = movement(MovementKind::Purchase, &[("a", 5), ("b", 2), ("c", 1)]);
        ledger.apply(&buy).await.unwrap();
        let ids = ["a", "c", "never"].map(|p| ProductId::parse(p).unwrap());
        let got: Vec<_> = ledger
            .levels_of(&StoreId::main(), &ids)
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.product_id.to_string(), l.on_hand))
            .collect();
        assert_eq!(got, [("a".to_owned(), 5), ("c".to_owned(), 1)]);
    }

    #[tokio::test]
    async fn each_event_moves_stock_once_and_levels_equal_ledger_sums() {
        let ledger = MemoryStockLedger::default();
        let buy = movement(MovementKind::Purchase, &[("a", 5), ("b", 2)]);
        let sell = movement(MovementKind::Sale, &[("a", -7)]);
        assert_eq!(ledger.apply(&buy).await.unwrap(), Applied::Moved);
        assert_eq!(ledger.apply(&buy).await.unwrap(), Applied::AlreadyApplied);
        assert_eq!(ledger.apply(&sell).await.unwrap(), Applied::Moved);
        let main = StoreId::main();
        let a = ProductId::parse("a").unwrap();
        assert_eq!(ledger.level(&main, &a).await.unwrap().unwrap().on_hand, -2);
        let sum: i64 = ledger
            .movements(&main, &a, Window::all(Order::Asc))
            .await
            .unwrap()
            .iter()
            .map(|e| e.delta)
            .sum();
        assert_eq!(sum, -2, "conservation: level = Σ ledger deltas");
        assert_eq!(
            ledger.total_units(&main).await.unwrap(),
            2,
            "negative rows count as 0"
        );
        let all = Window::all(Order::Asc);
        assert_eq!(
            ledger.levels(Some(&main), None, all).await.unwrap().len(),
            2
        );
        assert_eq!(ledger.levels(None, Some(&a), all).await.unwrap().len(), 1);
    }
}
