//! Projections building the catalog's read models from its events.

use std::sync::Arc;

use async_trait::async_trait;
use erp_core::{Projection, ProjectionError, RawEnvelope};
use erp_store::ReadModel;

use crate::catalog::{Product, ProductRegistered, Store, StoreOpened};

/// `product.registered` → the products read model.
pub struct ProductsProjection(pub Arc<dyn ReadModel<Product>>);

#[async_trait]
impl Projection for ProductsProjection {
    fn name(&self) -> &'static str {
        "products"
    }

    fn handles(&self, event_type: &str) -> bool {
        event_type == <ProductRegistered as erp_core::DomainEvent>::TYPE
    }

    async fn project(&self, event: &RawEnvelope) -> Result<(), ProjectionError> {
        let ProductRegistered(p) = event.data_as()?;
        self.0
            .upsert(p.id.clone().as_str(), p)
            .await
            .map_err(|e| ProjectionError::Store(e.to_string()))
    }
}

/// `store.opened` → the stores read model.
pub struct StoresProjection(pub Arc<dyn ReadModel<Store>>);

#[async_trait]
impl Projection for StoresProjection {
    fn name(&self) -> &'static str {
        "stores"
    }

    fn handles(&self, event_type: &str) -> bool {
        event_type == <StoreOpened as erp_core::DomainEvent>::TYPE
    }

    async fn project(&self, event: &RawEnvelope) -> Result<(), ProjectionError> {
        let StoreOpened(s) = event.data_as()?;
        self.0
            .upsert(s.id.clone().as_str(), s)
            .await
            .map_err(|e| ProjectionError::Store(e.to_string()))
    }
}
