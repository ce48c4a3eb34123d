//! The purchase aggregate: recorded once, never changed.

use erp_core::{Aggregate, Money, PurchaseCompleted, PurchaseId, StoreId, Timestamp};
use erp_domain::trade::{LineView, TradeRequest, totals};
use serde::{Deserialize, Serialize};

/// A recorded purchase: the write model and, built by the projection from
/// `purchase.completed`, the read model's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Purchase {
    /// Its id.
    #[schema(value_type = String)]
    pub id: PurchaseId,
    /// The receiving store.
    #[schema(value_type = String)]
    pub store_id: StoreId,
    /// When it happened.
    #[schema(value_type = String, format = DateTime)]
    pub purchased_at: Timestamp,
    /// Who sold to us.
    pub supplier: Option<String>,
    /// Lines with totals.
    pub lines: Vec<LineView>,
    /// Σ line totals.
    #[schema(value_type = i64)]
    pub total: Money,
}

impl Purchase {
    /// The purchase an event describes. Totals were checked when the command
    /// was handled, so they fit.
    pub fn from_event(e: &PurchaseCompleted) -> Self {
        let (lines, total) = totals(&e.lines).unwrap_or_default();
        Self {
            id: e.purchase_id,
            store_id: e.store_id.clone(),
            purchased_at: e.purchased_at,
            supplier: e.supplier.clone(),
            lines,
            total,
        }
    }
}

impl Purchase {
    /// The event that recorded this purchase, for rebuilding read models.
    pub fn to_event(&self) -> PurchaseCompleted {
        PurchaseCompleted {
            purchase_id: self.id,
            store_id: self.store_id.clone(),
            purchased_at: self.purchased_at,
            lines: self.lines.iter().map(LineView::to_event_line).collect(),
            supplier: self.supplier.clone(),
        }
    }
}

/// Record a purchase.
#[derive(Debug, Clone)]
pub struct RecordPurchase {
    /// The new purchase's id.
    pub id: PurchaseId,
    /// What was validated from the request.
    pub request: TradeRequest,
}

/// Why a purchase cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurchaseError {
    /// This id is recorded already.
    #[error("purchase already recorded")]
    AlreadyRecorded,
    /// A total does not fit.
    #[error(transparent)]
    Amount(#[from] erp_core::AmountError),
}

/// A purchase's lifecycle: absent, then recorded.
#[derive(Debug, Clone, Default)]
pub struct PurchaseAggregate(pub Option<Purchase>);

impl Aggregate for PurchaseAggregate {
    type Command = RecordPurchase;
    type Event = PurchaseCompleted;
    type Error = PurchaseError;

    fn handle(&self, cmd: RecordPurchase) -> Result<Vec<PurchaseCompleted>, PurchaseError> {
        if self.0.is_some() {
            return Err(PurchaseError::AlreadyRecorded);
        }
        totals(&cmd.request.lines)?;
        Ok(vec![PurchaseCompleted {
            purchase_id: cmd.id,
            store_id: cmd.request.store_id,
            purchased_at: cmd.request.at,
            lines: cmd.request.lines,
            supplier: cmd.request.party,
        }])
    }

    fn apply(&mut self, event: &PurchaseCompleted) {
        self.0 = Some(Purchase::from_event(event));
    }
}

#[cfg(test)]
mod tests {
    use erp_core::{EventLine, Money, ProductId, Quantity};

    use super::*;

    #[test]
    fn recording_raises_purchase_completed_with_totals() {
        let cmd = RecordPurchase {
            id: PurchaseId::new(),
            request: TradeRequest {
                store_id: StoreId::main(),
                at: Timestamp::now(),
                party: Some("ACME".into()),
                lines: vec![EventLine {
                    product_id: ProductId::parse("p").unwrap(),
                    quantity: Quantity::new(3).unwrap(),
                    unit_price: Money::from_minor(250).unwrap(),
                }],
            },
        };
        let events = PurchaseAggregate::default().handle(cmd.clone()).unwrap();
        let state = PurchaseAggregate::replay(&events);
        let p = state.0.as_ref().unwrap();
        assert_eq!((p.total.minor(), p.lines[0].line_total.minor()), (750, 750));
        assert_eq!(p.supplier.as_deref(), Some("ACME"));
        assert_eq!(state.handle(cmd), Err(PurchaseError::AlreadyRecorded));
    }
}
