//! Step 3 and 4 — read models, built by projections from events: our own
//! (redemptions, fed by the outbox relay) and another service's (points
//! earned on `sale.completed`, fed from the bus once per event).

use std::sync::Arc;

use erp_service::{
    async_trait::async_trait,
    erp_core::{
        DomainEvent, EventEnvelope, Projection, ProjectionError, RawEnvelope, SaleCompleted,
    },
    erp_store::ReadModel,
};
use serde::{Deserialize, Serialize};

use crate::domain::{PointsRedeemed, Redemption};

/// One point per whole 100 minor units spent.
pub const MINOR_UNITS_PER_POINT: i64 = 100;

/// Points a customer earned with one sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earning {
    /// The sale.
    pub sale_id: String,
    /// Its customer.
    pub customer: String,
    /// The points.
    pub points: i64,
}

/// `sale.completed` → an [`Earning`], keyed by the sale, so projecting
/// the same event again changes nothing (projections must be idempotent).
pub struct EarningsProjection(pub Arc<dyn ReadModel<Earning>>);

#[async_trait]
impl Projection for EarningsProjection {
    fn name(&self) -> &'static str {
        "loyalty.earnings"
    }

    fn handles(&self, event_type: &str) -> bool {
        event_type == SaleCompleted::TYPE
    }

    async fn project(&self, event: &RawEnvelope) -> Result<(), ProjectionError> {
        let sale: EventEnvelope<SaleCompleted> = event.clone().into_typed()?;
        let Some(customer) = sale.data.customer else {
            return Ok(()); // an anonymous sale earns nobody anything
        };
        let spent: i64 = sale
            .data
            .lines
            .iter()
            .map(|l| l.unit_price.minor().saturating_mul(l.quantity.get()))
            .fold(0, i64::saturating_add);
        let earning = Earning {
            sale_id: sale.data.sale_id.to_string(),
            customer,
            points: spent / MINOR_UNITS_PER_POINT,
        };
        self.0
            .upsert(&earning.sale_id.clone(), earning)
            .await
            .map_err(|e| ProjectionError::Store(e.to_string()))
    }
}

/// Our own `points.redeemed` → the redemptions read model.
pub struct RedemptionsProjection(pub Arc<dyn ReadModel<Redemption>>);

#[async_trait]
impl Projection for RedemptionsProjection {
    fn name(&self) -> &'static str {
        "loyalty.redemptions"
    }

    fn handles(&self, event_type: &str) -> bool {
        event_type == PointsRedeemed::TYPE
    }

    async fn project(&self, event: &RawEnvelope) -> Result<(), ProjectionError> {
        let e: EventEnvelope<PointsRedeemed> = event.clone().into_typed()?;
        let view = Redemption::from_event(&e.data);
        self.0
            .upsert(&view.id.clone(), view)
            .await
            .map_err(|e| ProjectionError::Store(e.to_string()))
    }
}
