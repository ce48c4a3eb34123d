//! `sale.completed` → the sales read model and the sale-lines read model
//! (one row per sale and product) that the summary sums over.

use std::sync::Arc;

use async_trait::async_trait;
use erp_core::{
    DomainEvent, Money, ProductId, Projection, ProjectionError, Quantity, RawEnvelope,
    SaleCompleted, SaleId, StoreId, Timestamp,
};
use erp_store::ReadModel;
use serde::{Deserialize, Serialize};

use crate::domain::Sale;

fn store_err(e: erp_store::StoreError) -> ProjectionError {
    ProjectionError::Store(e.to_string())
}

/// One view per sale; idempotent because it upserts by id.
pub struct SalesProjection(pub Arc<dyn ReadModel<Sale>>);

#[async_trait]
impl Projection for SalesProjection {
    fn name(&self) -> &'static str {
        "sales"
    }

    fn handles(&self, event_type: &str) -> bool {
        event_type == SaleCompleted::TYPE
    }

    async fn project(&self, event: &RawEnvelope) -> Result<(), ProjectionError> {
        let view = Sale::from_event(&event.data_as::<SaleCompleted>()?);
        self.0
            .upsert(&view.id.to_string(), view)
            .await
            .map_err(store_err)
    }
}

/// One sold product of one sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleLine {
    /// `{sale_id}:{product_id}`; unique because a product is on one line per sale.
    pub id: String,
    /// The sale.
    pub sale_id: SaleId,
    /// The product.
    pub product_id: ProductId,
    /// The store.
    pub store_id: StoreId,
    /// When.
    pub sold_at: Timestamp,
    /// Units sold.
    pub quantity: Quantity,
    /// quantity × unit price.
    pub amount: Money,
}

/// One row per (sale, product); idempotent because rows are upserted by id.
pub struct SaleLinesProjection(pub Arc<dyn ReadModel<SaleLine>>);

#[async_trait]
impl Projection for SaleLinesProjection {
    fn name(&self) -> &'static str {
        "sale_lines"
    }

    fn handles(&self, event_type: &str) -> bool {
        event_type == SaleCompleted::TYPE
    }

    async fn project(&self, event: &RawEnvelope) -> Result<(), ProjectionError> {
        let e = event.data_as::<SaleCompleted>()?;
        for line in Sale::from_event(&e).lines {
            let row = SaleLine {
                id: format!("{}:{}", e.sale_id, line.product_id),
                sale_id: e.sale_id,
                product_id: line.product_id,
                store_id: e.store_id.clone(),
                sold_at: e.sold_at,
                quantity: line.quantity,
                amount: line.line_total,
            };
            self.0
                .upsert(&row.id.clone(), row)
                .await
                .map_err(store_err)?;
        }
        Ok(())
    }
}
