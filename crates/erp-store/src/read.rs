use async_trait::async_trait;
use serde_json::Value;

use crate::StoreError;

/// A condition on a view's JSON form. Field paths use dots (`lines.product_id`)
/// and, as in MongoDB, a path through an array matches if any element does.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// The field equals the value.
    Eq(String, Value),
    /// The field is ≥ the value (numbers with numbers, strings with strings).
    Gte(String, Value),
    /// The field is ≤ the value.
    Lte(String, Value),
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Smallest first.
    Asc,
    /// Largest first (the contract's default for lists).
    #[default]
    Desc,
}

/// A filtered, sorted page of views.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewQuery {
    /// All must hold.
    pub filters: Vec<Filter>,
    /// Sort keys, most significant first. Add a unique field last for a
    /// stable order across pages.
    pub sort: Vec<(String, Order)>,
    /// 1-based page number.
    pub page: u64,
    /// Items per page, ≥ 1.
    pub page_size: u64,
}

impl ViewQuery {
    /// Every view, in id order of the store.
    pub fn everything() -> Self {
        Self {
            filters: Vec::new(),
            sort: Vec::new(),
            page: 1,
            page_size: u64::MAX,
        }
    }

    /// How many items precede the requested page.
    pub fn offset(&self) -> u64 {
        self.page.saturating_sub(1).saturating_mul(self.page_size)
    }
}

/// One page of a query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<V> {
    /// The views on this page.
    pub items: Vec<V>,
    /// How many views match the filters, over all pages.
    pub total_items: u64,
}

/// Count and sums over matching views.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Totals {
    /// How many views match.
    pub count: u64,
    /// One sum per requested field, in request order.
    pub sums: Vec<i64>,
}

/// A read model: views keyed by id, written only by projections.
#[async_trait]
pub trait ReadModel<V: Send + Sync + 'static>: Send + Sync {
    /// Inserts or replaces a view. Idempotent, so projections may re-run.
    async fn upsert(&self, id: &str, view: V) -> Result<(), StoreError>;

    /// Reads one view.
    async fn get(&self, id: &str) -> Result<Option<V>, StoreError>;

    /// Reads a page of views.
    async fn query(&self, query: &ViewQuery) -> Result<Page<V>, StoreError>;

    /// Counts the views matching `filters` and sums the integer fields
    /// `sum_fields` over them (a missing field counts as 0).
    async fn totals(&self, filters: &[Filter], sum_fields: &[&str]) -> Result<Totals, StoreError>;

    /// Removes every view, before a rebuild.
    async fn clear(&self) -> Result<(), StoreError>;
}
