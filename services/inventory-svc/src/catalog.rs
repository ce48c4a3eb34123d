//! The catalog's write model: products and stores, each an aggregate that is
//! registered once and never changes afterwards.

use erp_core::{Aggregate, DomainEvent, ProductId, StoreId};
use serde::{Deserialize, Serialize};

/// A product inventory keeps stock of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    /// Its id.
    #[schema(value_type = String)]
    pub id: ProductId,
    /// Display name.
    pub name: String,
    /// Unit of measure (`pcs`, `kg`, …).
    pub unit: String,
}

/// A place that holds stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Store {
    /// Its id.
    #[schema(value_type = String)]
    pub id: StoreId,
    /// Display name.
    pub name: String,
    /// Who runs it.
    pub manager: String,
    /// Total units it may hold; `None` is unlimited.
    pub capacity: Option<i64>,
}

impl Store {
    /// The store that always exists.
    pub fn main() -> Self {
        Self {
            id: StoreId::main(),
            name: "Main store".into(),
            manager: "unassigned".into(),
            capacity: None,
        }
    }
}

/// A product was registered. Local to inventory: feeds its read models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductRegistered(pub Product);

impl DomainEvent for ProductRegistered {
    const TYPE: &'static str = "product.registered";
    const VERSION: u32 = 1;
}

/// A store was opened. Local to inventory: feeds its read models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreOpened(pub Store);

impl DomainEvent for StoreOpened {
    const TYPE: &'static str = "store.opened";
    const VERSION: u32 = 1;
}

/// Why a catalog command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The id is taken.
    #[error("already exists")]
    AlreadyExists,
}

/// A product's lifecycle: absent, then registered.
#[derive(Debug, Clone, Default)]
pub struct ProductAggregate(pub Option<Product>);

impl Aggregate for ProductAggregate {
    type Command = Product;
    type Event = ProductRegistered;
    type Error = CatalogError;

    fn handle(&self, product: Product) -> Result<Vec<ProductRegistered>, CatalogError> {
        match self.0 {
            Some(_) => Err(CatalogError::AlreadyExists),
            None => Ok(vec![ProductRegistered(product)]),
        }
    }

    fn apply(&mut self, event: &ProductRegistered) {
        self.0 = Some(event.0.clone());
    }
}

/// A store's lifecycle: absent, then open.
#[derive(Debug, Clone, Default)]
pub struct StoreAggregate(pub Option<Store>);

impl Aggregate for StoreAggregate {
    type Command = Store;
    type Event = StoreOpened;
    type Error = CatalogError;

    fn handle(&self, store: Store) -> Result<Vec<StoreOpened>, CatalogError> {
        match self.0 {
            Some(_) => Err(CatalogError::AlreadyExists),
            None => Ok(vec![StoreOpened(store)]),
        }
    }

    fn apply(&mut self, event: &StoreOpened) {
        self.0 = Some(event.0.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_registers_once() {
        let p = Product {
            id: ProductId::parse("p1").unwrap(),
            name: "Pen".into(),
            unit: "pcs".into(),
        };
        let fresh = ProductAggregate::default();
        let events = fresh.handle(p.clone()).unwrap();
        let state = ProductAggregate::replay(&events);
        assert_eq!(state.0.as_ref(), Some(&p));
        assert_eq!(state.handle(p), Err(CatalogError::AlreadyExists));
    }
}
