//! Step 1 — the domain: what happened (an event) and who decides (an
//! aggregate). No I/O here.

use erp_service::erp_core::{Aggregate, DomainEvent, ProductId, Timestamp};
use serde::{Deserialize, Serialize};

/// A customer spent points on a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsRedeemed {
    /// The redemption's id.
    pub redemption_id: String,
    /// Who spent them.
    pub customer: String,
    /// On what.
    pub product_id: ProductId,
    /// How many.
    pub points: i64,
    /// When.
    pub redeemed_at: Timestamp,
}

impl DomainEvent for PointsRedeemed {
    const TYPE: &'static str = "points.redeemed";
    const VERSION: u32 = 1;
}

/// A recorded redemption: the write model, and the view the read model
/// holds (built from the event by a projection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    /// Its id.
    pub id: String,
    /// Who.
    pub customer: String,
    /// On what.
    pub product_id: ProductId,
    /// How many points.
    pub points: i64,
    /// When.
    pub redeemed_at: Timestamp,
}

impl Redemption {
    /// The redemption an event describes.
    pub fn from_event(e: &PointsRedeemed) -> Self {
        Self {
            id: e.redemption_id.clone(),
            customer: e.customer.clone(),
            product_id: e.product_id.clone(),
            points: e.points,
            redeemed_at: e.redeemed_at,
        }
    }

    /// The event that recorded it, to rebuild read models from the write side.
    pub fn to_event(&self) -> PointsRedeemed {
        PointsRedeemed {
            redemption_id: self.id.clone(),
            customer: self.customer.clone(),
            product_id: self.product_id.clone(),
            points: self.points,
            redeemed_at: self.redeemed_at,
        }
    }
}

/// The command.
#[derive(Debug, Clone)]
pub struct Redeem {
    /// The new redemption's id.
    pub id: String,
    /// Who.
    pub customer: String,
    /// On what.
    pub product_id: ProductId,
    /// How many points (checked ≥ 1 by the route).
    pub points: i64,
}

/// Why a redemption is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedeemError {
    /// This id is taken.
    #[error("already redeemed")]
    AlreadyRedeemed,
}

/// A redemption's lifecycle: absent, then recorded.
#[derive(Debug, Clone, Default)]
pub struct RedemptionAggregate(pub Option<Redemption>);

impl Aggregate for RedemptionAggregate {
    type Command = Redeem;
    type Event = PointsRedeemed;
    type Error = RedeemError;

    fn handle(&self, c: Redeem) -> Result<Vec<PointsRedeemed>, RedeemError> {
        if self.0.is_some() {
            return Err(RedeemError::AlreadyRedeemed);
        }
        Ok(vec![PointsRedeemed {
            redemption_id: c.id,
            customer: c.customer,
            product_id: c.product_id,
            points: c.points,
            redeemed_at: Timestamp::now(),
        }])
    }

    fn apply(&mut self, e: &PointsRedeemed) {
        self.0 = Some(Redemption::from_event(e));
    }
}
