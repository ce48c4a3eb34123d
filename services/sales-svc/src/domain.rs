//! The sale aggregate: recorded once, never changed.

use erp_core::{Aggregate, Money, SaleCompleted, SaleId, StoreId, Timestamp};
use erp_domain::trade::{LineView, TradeRequest, totals};
use serde::{Deserialize, Serialize};

/// A recorded sale: the write model and, built by the projection from
/// `sale.completed`, the read model's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Sale {
    /// Its id.
    #[schema(value_type = String)]
    pub id: SaleId,
    /// The selling store.
    #[schema(value_type = String)]
    pub store_id: StoreId,
    /// When it happened.
    #[schema(value_type = String, format = DateTime)]
    pub sold_at: Timestamp,
    /// Who bought.
    pub customer: Option<String>,
    /// Lines with totals.
    pub lines: Vec<LineView>,
    /// Σ line totals.
    #[schema(value_type = i64)]
    pub total: Money,
}

impl Sale {
    /// The sale an event describes. Totals were checked when the command was
    /// handled, so they fit.
    pub fn from_event(e: &SaleCompleted) -> Self {
        let (lines, total) = totals(&e.lines).unwrap_or_default();
        Self {
            id: e.sale_id,
            store_id: e.store_id.clone(),
            sold_at: e.sold_at,
            customer: e.customer.clone(),
            lines,
            total,
        }
    }
}

impl Sale {
    /// The event that recorded this sale, for rebuilding read models.
    pub fn to_event(&self) -> SaleCompleted {
        SaleCompleted {
            sale_id: self.id,
            store_id: self.store_id.clone(),
            sold_at: self.sold_at,
            lines: self.lines.iter().map(LineView::to_event_line).collect(),
            customer: self.customer.clone(),
        }
    }
}

/// Record a sale.
#[derive(Debug, Clone)]
pub struct RecordSale {
    /// The new sale's id.
    pub id: SaleId,
    /// What was validated from the request.
    pub request: TradeRequest,
}

/// Why a sale cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaleError {
    /// This id is recorded already.
    #[error("sale already recorded")]
    AlreadyRecorded,
    /// A total does not fit.
    #[error(transparent)]
    Amount(#[from] erp_core::AmountError),
}

/// A sale's lifecycle: absent, then recorded.
#[derive(Debug, Clone, Default)]
pub struct SaleAggregate(pub Option<Sale>);

impl Aggregate for SaleAggregate {
    type Command = RecordSale;
    type Event = SaleCompleted;
    type Error = SaleError;

    fn handle(&self, cmd: RecordSale) -> Result<Vec<SaleCompleted>, SaleError> {
        if self.0.is_some() {
            return Err(SaleError::AlreadyRecorded);
        }
        totals(&cmd.request.lines)?;
        Ok(vec![SaleCompleted {
            sale_id: cmd.id,
            store_id: cmd.request.store_id,
            sold_at: cmd.request.at,
            lines: cmd.request.lines,
            customer: cmd.request.party,
        }])
    }

    fn apply(&mut self, event: &SaleCompleted) {
        self.0 = Some(Sale::from_event(event));
    }
}

#[cfg(test)]
mod tests {
    use erp_core::{EventLine, Money, ProductId, Quantity};

    use super::*;

    #[test]
    fn recording_raises_sale_completed_once() {
        let cmd = RecordSale {
            id: SaleId::new(),
            request: TradeRequest {
                store_id: StoreId::main(),
                at: Timestamp::now(),
                party: None,
                lines: vec![EventLine {
                    product_id: ProductId::parse("p").unwrap(),
                    quantity: Quantity::new(2).unwrap(),
                    unit_price: Money::from_minor(99).unwrap(),
                }],
            },
        };
        let events = SaleAggregate::default().handle(cmd.clone()).unwrap();
        assert_eq!(events[0].sale_id, cmd.id);
        let state = SaleAggregate::replay(&events);
        assert_eq!(state.0.as_ref().unwrap().total.minor(), 198);
        assert_eq!(state.handle(cmd), Err(SaleError::AlreadyRecorded));
    }
}
