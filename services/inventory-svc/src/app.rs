//! The application layer: commands and queries, shared by the REST API, the
//! gRPC service and the event consumer.

use std::sync::Arc;

use erp_bus::relay::{CreateError, EventOrigin, RelayHandle};
use erp_core::{ProductId, Quantity, StoreId};
use erp_store::{ReadModel, StoreError, ViewQuery, WriteStore};

use crate::{
    catalog::{CatalogError, Product, ProductAggregate, Store, StoreAggregate},
    stock::StockLedger,
};

/// The name inventory signs its events with.
pub const SOURCE: &str = "inventory-svc";

/// Why a command or query failed.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// A product or store with that id exists.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// No such store.
    #[error("unknown store {0}")]
    UnknownStore(StoreId),
    /// No such product.
    #[error("unknown product {0}")]
    UnknownProduct(ProductId),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Refused by the aggregate (the id exists) or beaten by a concurrent
/// insert of the same id: both are a duplicate.
fn already_exists_or(e: CreateError<CatalogError>, what: &'static str) -> InventoryError {
    match e {
        CreateError::Refused(CatalogError::AlreadyExists)
        | CreateError::Store(StoreError::Conflict(_)) => InventoryError::AlreadyExists(what),
        CreateError::Store(other) => other.into(),
    }
}

/// Everything inventory's routes need, shared by every request.
pub type Inventory = erp_service::Shared<InventoryParts>;

/// The ports inventory's commands and queries use.
pub struct InventoryParts {
    pub(crate) products: Arc<dyn WriteStore<Product>>,
    pub(crate) stores: Arc<dyn WriteStore<Store>>,
    pub(crate) product_views: Arc<dyn ReadModel<Product>>,
    pub(crate) store_views: Arc<dyn ReadModel<Store>>,
    pub(crate) ledger: Arc<dyn StockLedger>,
    pub(crate) relay: RelayHandle,
    /// Products and stores seen in the write model (see [`crate::known`]).
    pub(crate) known: crate::known::Known,
}

/// Answer of the purchase check (gRPC `CheckPurchase`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseCheck {
    /// Whether the store exists.
    pub store_known: bool,
    /// Products inventory does not know, in request order.
    pub unknown_products: Vec<ProductId>,
    /// Units in the store now.
    pub total_units: i64,
    /// The store's capacity, if limited.
    pub capacity: Option<i64>,
    /// Whether the purchase fits.
    pub capacity_ok: bool,
}

/// Catalog events only feed inventory's own read models.
fn local(correlation_id: &str) -> EventOrigin<'_> {
    EventOrigin {
        source: SOURCE,
        correlation_id,
        publish: false,
    }
}

impl InventoryParts {
    /// Registers a product; [`InventoryError::AlreadyExists`] if the id is taken.
    pub async fn register_product(
        &self,
        product: Product,
        correlation_id: &str,
    ) -> Result<Product, InventoryError> {
        let id = product.id.clone();
        let current = ProductAggregate(self.products.get(id.as_str()).await?.map(|v| v.value));
        self.relay
            .create(
                self.products.as_ref(),
                id.as_str(),
                current,
                product,
                |a| a.0,
                local(correlation_id),
            )
            .await
            .map_err(|e| already_exists_or(e, "product"))
    }

    /// Opens a store; [`InventoryError::AlreadyExists`] if the id is taken.
    pub async fn open_store(
        &self,
        store: Store,
        correlation_id: &str,
    ) -> Result<Store, InventoryError> {
        let id = store.id.clone();
        let current = StoreAggregate(self.stores.get(id.as_str()).await?.map(|v| v.value));
        self.relay
            .create(
                self.stores.as_ref(),
                id.as_str(),
                current,
                store,
                |a| a.0,
                local(correlation_id),
            )
            .await
            .map_err(|e| already_exists_or(e, "store"))
    }

    /// Rebuilds the product and store read models from the write side;
    /// returns how many of each were replayed. Stock levels are kept by the
    /// ledger itself, in the same writes as its entries.
    pub async fn rebuild_read_models(&self) -> Result<(usize, usize), erp_service::ApiError> {
        use crate::catalog::{ProductRegistered, StoreOpened};
        self.product_views.clear().await?;
        self.store_views.clear().await?;
        let projections = self.relay.projections();
        let products =
            erp_service::rebuild::replay(self.products.as_ref(), projections, SOURCE, |p| {
                ProductRegistered(p.clone())
            })
            .await?;
        let stores = erp_service::rebuild::replay(self.stores.as_ref(), projections, SOURCE, |s| {
            StoreOpened(s.clone())
        })
        .await?;
        Ok((products, stores))
    }

    /// Makes sure store `main` exists. Safe with several instances starting at once.
    pub async fn ensure_main_store(&self) -> Result<(), InventoryError> {
        match self.open_store(Store::main(), "startup").await {
            Ok(_) | Err(InventoryError::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A product, from the read model.
    pub async fn product(&self, id: &ProductId) -> Result<Option<Product>, InventoryError> {
        Ok(self.product_views.get(id.as_str()).await?)
    }

    /// Products from the read model, as `query` pages and orders them.
    pub async fn products(&self, query: ViewQuery) -> Result<Vec<Product>, InventoryError> {
        Ok(self.product_views.query(&query).await?.items)
    }

    /// A store, from the read model.
    pub async fn store(&self, id: &StoreId) -> Result<Option<Store>, InventoryError> {
        Ok(self.store_views.get(id.as_str()).await?)
    }

    /// Stores from the read model, as `query` pages and orders them.
    pub async fn stores(&self, query: ViewQuery) -> Result<Vec<Store>, InventoryError> {
        Ok(self.store_views.query(&query).await?.items)
    }

    /// Whether the product exists (in the write model; cached once seen).
    pub async fn product_exists(&self, id: &ProductId) -> Result<bool, InventoryError> {
        if self.known.has_product(id) {
            return Ok(true);
        }
        let exists = self.products.get(id.as_str()).await?.is_some();
        if exists {
            self.known.add_product(id.clone());
        }
        Ok(exists)
    }

    /// Whether the store exists (in the write model; cached once seen, and
    /// a cached store answers without a copy of it).
    pub async fn store_exists(&self, id: &StoreId) -> Result<bool, InventoryError> {
        Ok(self.known.has_store(id) || self.known_store(id).await?.is_some())
    }

    /// The store, from the write model (cached once seen).
    pub async fn known_store(&self, id: &StoreId) -> Result<Option<Store>, InventoryError> {
        if let Some(store) = self.known.store(id) {
            return Ok(Some(store));
        }
        let store = self.stores.get(id.as_str()).await?.map(|v| v.value);
        if let Some(s) = &store {
            self.known.add_store(s.clone());
        }
        Ok(store)
    }

    /// Fails unless both the store and the product are known.
    pub async fn require_pair(
        &self,
        store: &StoreId,
        product: &ProductId,
    ) -> Result<(), InventoryError> {
        if !self.store_exists(store).await? {
            return Err(InventoryError::UnknownStore(store.clone()));
        }
        if !self.product_exists(product).await? {
            return Err(InventoryError::UnknownProduct(product.clone()));
        }
        Ok(())
    }

    /// Units on hand of a known pair (0 if it never moved).
    pub async fn on_hand(
        &self,
        store: &StoreId,
        product: &ProductId,
    ) -> Result<i64, InventoryError> {
        self.require_pair(store, product).await?;
        Ok(self
            .ledger
            .level(store, product)
            .await?
            .map_or(0, |l| l.on_hand))
    }

    /// Units in a store and its capacity; [`InventoryError::UnknownStore`] if unknown.
    pub async fn count_total_items(
        &self,
        store: &StoreId,
    ) -> Result<(i64, Option<i64>), InventoryError> {
        let s = self
            .known_store(store)
            .await?
            .ok_or_else(|| InventoryError::UnknownStore(store.clone()))?;
        Ok((self.ledger.total_units(store).await?, s.capacity))
    }

    /// Everything purchase-svc checks before recording a purchase.
    pub async fn check_purchase(
        &self,
        store: &StoreId,
        lines: &[(ProductId, Quantity)],
    ) -> Result<PurchaseCheck, InventoryError> {
        let mut unknown_products = Vec::new();
        for (p, _) in lines {
            if !self.product_exists(p).await? {
                unknown_products.push(p.clone());
            }
        }
        let Some(s) = self.known_store(store).await? else {
            return Ok(PurchaseCheck {
                store_known: false,
                unknown_products,
                total_units: 0,
                capacity: None,
                capacity_ok: false,
            });
        };
        // Only a store with a capacity needs its units counted.
        let total_units = match s.capacity {
            Some(_) => self.ledger.total_units(store).await?,
            None => 0,
        };
        let incoming: i64 = lines.iter().map(|(_, q)| q.get()).sum();
        let capacity_ok = s.capacity.is_none_or(|c| total_units + incoming <= c);
        Ok(PurchaseCheck {
            store_known: true,
            unknown_products,
            total_units,
            capacity: s.capacity,
            capacity_ok,
        })
    }
}
