//! Commands and queries of purchase-svc.

use std::sync::Arc;

use axum::http::StatusCode;
use erp_bus::relay::{EventOrigin, RelayHandle};
use erp_core::PurchaseId;
use erp_domain::trade::{TradeRequest, refusal};
use erp_service::{
    ApiError,
    idempotency::{already_created, settle_create},
};
use erp_store::{Page, ReadModel, ViewQuery, WriteStore};

use crate::{
    domain::{Purchase, PurchaseAggregate, RecordPurchase},
    inventory_client::InventoryClient,
};

/// The name purchase-svc signs its events with.
pub const SOURCE: &str = "purchase-svc";

/// Everything purchase-svc's routes need, shared by every request.
pub type Purchases = erp_service::Shared<PurchaseParts>;

/// The ports purchases's commands and queries use.
pub struct PurchaseParts {
    pub(crate) store: Arc<dyn WriteStore<Purchase>>,
    pub(crate) views: Arc<dyn ReadModel<Purchase>>,
    pub(crate) inventory: InventoryClient,
    pub(crate) relay: RelayHandle,
}

impl PurchaseParts {
    /// Checks the purchase with inventory, records it and queues
    /// `purchase.completed` in the outbox, in one write.
    pub async fn record(
        &self,
        request: TradeRequest,
        correlation_id: &str,
        key_id: Option<PurchaseId>,
    ) -> Result<Purchase, ApiError> {
        // A retry of a keyed request whose first try wrote: its answer,
        // before any check (a sale's stock is gone by now).
        if let Some(id) = key_id
            && let Some(first) = already_created(self.store.as_ref(), &id.to_string()).await?
        {
            return Ok(first);
        }
        self.check_with_inventory(&request, correlation_id).await?;
        let id = key_id.unwrap_or_default(); // default: a fresh v7 id
        let origin = EventOrigin {
            source: SOURCE,
            correlation_id,
            publish: true,
        };
        let created = self
            .relay
            .create(
                self.store.as_ref(),
                &id.to_string(),
                PurchaseAggregate::default(),
                RecordPurchase { id, request },
                |a| a.0,
                origin,
            )
            .await;
        settle_create(
            self.store.as_ref(),
            &id.to_string(),
            key_id.is_some(),
            created,
        )
        .await
    }

    async fn check_with_inventory(
        &self,
        request: &TradeRequest,
        correlation_id: &str,
    ) -> Result<(), ApiError> {
        let check = self
            .inventory
            .check_purchase(&request.store_id, &request.lines, correlation_id)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "inventory check failed");
                refusal::inventory_unavailable("this purchase", e.retry_after_secs)
            })?;
        if !check.store_known {
            return Err(refusal::unknown_store(&request.store_id));
        }
        if !check.unknown_products.is_empty() {
            let details = request
                .lines
                .iter()
                .enumerate()
                .filter(|(_, l)| check.unknown_products.contains(&l.product_id))
                .map(|(i, l)| refusal::unknown_product_line(i, l))
                .collect();
            return Err(refusal::unknown_products(details));
        }
        if !check.capacity_ok {
            let incoming: i64 = request.lines.iter().map(|l| l.quantity.get()).sum();
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "store_capacity_exceeded",
                format!(
                    "store {} holds {} of {} units; this purchase adds {incoming}",
                    request.store_id,
                    check.total_units,
                    check.capacity.unwrap_or_default()
                ),
            )
            .with_detail("store_id", "capacity exceeded"));
        }
        Ok(())
    }

    /// Rebuilds the purchases read model from the write side.
    pub async fn rebuild_read_models(&self) -> Result<usize, ApiError> {
        self.views.clear().await?;
        erp_service::rebuild::replay(
            self.store.as_ref(),
            self.relay.projections(),
            SOURCE,
            Purchase::to_event,
        )
        .await
    }

    /// A purchase from the read model.
    pub async fn get(&self, id: &PurchaseId) -> Result<Option<Purchase>, ApiError> {
        Ok(self.views.get(&id.to_string()).await?)
    }

    /// A page of purchases from the read model.
    pub async fn list(&self, query: &ViewQuery) -> Result<Page<Purchase>, ApiError> {
        Ok(self.views.query(query).await?)
    }
}
