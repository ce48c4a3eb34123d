//! Step 2 — the command handler with the outbox, and the queries.
//!
//! A redemption is written together with its `points.redeemed` event in one
//! write (the transactional outbox); the relay then publishes the event and
//! feeds our own projections. Queries read only read models.

use std::sync::Arc;

use erp_service::{
    ApiError,
    axum::http::StatusCode,
    erp_bus::relay::{EventOrigin, RelayHandle},
    erp_core::ProductId,
    erp_store::{Filter, ReadModel, WriteStore},
    idempotency::{already_created, settle_create},
};
use serde_json::json;

use crate::{
    domain::{Redeem, Redemption, RedemptionAggregate},
    inventory::{InventoryClient, Product},
    projections::Earning,
};

/// The name the service signs its events with.
pub const SOURCE: &str = "loyalty-svc";

/// What the routes share.
pub type Loyalty = erp_service::Shared<LoyaltyParts>;

/// The ports the commands and queries use.
pub struct LoyaltyParts {
    /// Redemptions, the write model.
    pub redemptions: Arc<dyn WriteStore<Redemption>>,
    /// Redemptions as the read model shows them.
    pub redemption_views: Arc<dyn ReadModel<Redemption>>,
    /// Points earned per sale.
    pub earnings: Arc<dyn ReadModel<Earning>>,
    /// Inventory, behind its breaker.
    pub inventory: InventoryClient,
    /// Writes with events, and the projections.
    pub relay: RelayHandle,
}

/// A customer's points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Balance {
    /// Earned with sales.
    pub earned: i64,
    /// Spent on redemptions.
    pub redeemed: i64,
    /// What is left.
    pub available: i64,
}

impl LoyaltyParts {
    /// Redeems `points` of `customer` on `product`. `id` is derived from an
    /// `Idempotency-Key` when the client sent one: a retry finds the first.
    pub async fn redeem(
        &self,
        customer: String,
        product_id: ProductId,
        points: i64,
        id: String,
        keyed: bool,
        correlation_id: &str,
    ) -> Result<Redemption, ApiError> {
        if keyed && let Some(first) = already_created(self.redemptions.as_ref(), &id).await? {
            return Ok(first);
        }
        match self.inventory.product(&product_id).await {
            Ok(Product::Known) => {}
            Ok(Product::Unknown) => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unknown_product",
                    format!("inventory knows no product {product_id}"),
                )
                .with_detail("product_id", "unknown product"));
            }
            Err(e) => {
                tracing::warn!(error = %e, "inventory check failed");
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "inventory_unavailable",
                    "inventory cannot be reached; retry later",
                )
                .with_retry_after(e.retry_after_secs));
            }
        }
        let balance = self.balance(&customer).await?;
        if balance.available < points {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "insufficient_points",
                format!("{customer} has {} points, not {points}", balance.available),
            )
            .with_detail("points", format!("at most {}", balance.available)));
        }
        let origin = EventOrigin {
            source: SOURCE,
            correlation_id,
            publish: true,
        };
        let command = Redeem {
            id: id.clone(),
            customer,
            product_id,
            points,
        };
        let created = self
            .relay
            .create(
                self.redemptions.as_ref(),
                &id,
                RedemptionAggregate::default(),
                command,
                |a| a.0,
                origin,
            )
            .await;
        settle_create(self.redemptions.as_ref(), &id, keyed, created).await
    }

    /// A customer's balance, from the read models.
    pub async fn balance(&self, customer: &str) -> Result<Balance, ApiError> {
        let mine = [Filter::Eq("customer".into(), json!(customer))];
        let earned = self.earnings.totals(&mine, &["points"]).await?.sums[0];
        let redeemed = self.redemption_views.totals(&mine, &["points"]).await?.sums[0];
        Ok(Balance {
            earned,
            redeemed,
            available: earned - redeemed,
        })
    }

    /// One redemption, from the read model.
    pub async fn redemption(&self, id: &str) -> Result<Option<Redemption>, ApiError> {
        Ok(self.redemption_views.get(id).await?)
    }

    /// Step 4 — rebuilds the redemptions read model from the write side.
    pub async fn rebuild_read_models(&self) -> Result<usize, ApiError> {
        self.redemption_views.clear().await?;
        erp_service::rebuild::replay(
            self.redemptions.as_ref(),
            self.relay.projections(),
            SOURCE,
            Redemption::to_event,
        )
        .await
    }
}
