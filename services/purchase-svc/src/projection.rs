//! `purchase.completed` → the purchases read model.

use std::sync::Arc;

use async_trait::async_trait;
use erp_core::{DomainEvent, Projection, ProjectionError, PurchaseCompleted, RawEnvelope};
use erp_store::ReadModel;

use crate::domain::Purchase;

/// Keeps one view per purchase; idempotent because it upserts by id.
pub struct PurchasesProjection(pub Arc<dyn ReadModel<Purchase>>);

#[async_trait]
impl Projection for PurchasesProjection {
    fn name(&self) -> &'static str {
        "purchases"
    }

    fn handles(&self, event_type: &str) -> bool {
        event_type == PurchaseCompleted::TYPE
    }

    async fn project(&self, event: &RawEnvelope) -> Result<(), ProjectionError> {
        let view = Purchase::from_event(&event.data_as::<PurchaseCompleted>()?);
        self.0
            .upsert(&view.id.to_string(), view)
            .await
            .map_err(|e| ProjectionError::Store(e.to_string()))
    }
}
