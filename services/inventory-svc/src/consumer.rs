//! The stock consumer: applies `purchase.completed` (+) and `sale.completed`
//! (−) to the ledger, once per event id.
//!
//! Dispositions: applied or already applied → ack; the database failed →
//! retry with backoff; the message can never apply (malformed, unknown type
//! or version, unknown store or product) → dead-letter at once with a reason
//! code, so a poison message never loops.

use std::time::Duration;

use async_trait::async_trait;
use erp_bus::{Delivery, Disposition, MessageHandler, Subscription};
use erp_core::{
    DecodeError, DomainEvent, EventLine, PurchaseCompleted, RawEnvelope, SaleCompleted,
};
use erp_store::StoreError;

use crate::{
    app::Inventory,
    stock::{Movement, MovementKind},
};

/// The queue inventory consumes (design §6).
pub const QUEUE: &str = "inventory.stock";

/// The subscription: `inventory.stock` bound to both completion events.
pub fn subscription() -> Subscription {
    Subscription::new(QUEUE, &[PurchaseCompleted::TYPE, SaleCompleted::TYPE])
}

/// Handles deliveries of [`QUEUE`].
#[derive(Debug, Clone)]
pub struct StockConsumer {
    inventory: Inventory,
}

impl StockConsumer {
    /// A consumer applying to `inventory`'s ledger.
    pub fn new(inventory: Inventory) -> Self {
        Self { inventory }
    }
}

/// Why a message can never be applied; the dead-letter reason.
fn decode_reason(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::UnsupportedVersion { .. } => "unsupported_version",
        DecodeError::UnexpectedType { .. } => "unknown_event_type",
        _ => "malformed_message",
    }
}

fn movement(raw: RawEnvelope) -> Result<Movement, Disposition> {
    let event_id = raw.id;
    let (kind, source_id, store_id, at, lines, sign): (_, String, _, _, Vec<EventLine>, i64) =
        match raw.event_type.as_str() {
            PurchaseCompleted::TYPE => {
                let e = raw.into_typed::<PurchaseCompleted>().map_err(dead)?.data;
                (
                    MovementKind::Purchase,
                    e.purchase_id.to_string(),
                    e.store_id,
                    e.purchased_at,
                    e.lines,
                    1,
                )
            }
            SaleCompleted::TYPE => {
                let e = raw.into_typed::<SaleCompleted>().map_err(dead)?.data;
                (
                    MovementKind::Sale,
                    e.sale_id.to_string(),
                    e.store_id,
                    e.sold_at,
                    e.lines,
                    -1,
                )
            }
            other => {
                tracing::warn!(event_type = other, "event type inventory does not consume");
                return Err(Disposition::dead_letter("unknown_event_type"));
            }
        };
    Ok(Movement {
        event_id,
        kind,
        source_id,
        store_id,
        at,
        deltas: lines
            .into_iter()
            .map(|l| (l.product_id, sign * l.quantity.get()))
            .collect(),
    })
}

fn dead(e: DecodeError) -> Disposition {
    tracing::warn!(error = %e, "undecodable event");
    Disposition::dead_letter(decode_reason(&e))
}

fn retry(attempt: u32, e: &StoreError) -> Disposition {
    let after = Duration::from_millis(100)
        .saturating_mul(1 << attempt.saturating_sub(1).min(6))
        .min(Duration::from_secs(5));
    Disposition::retry(after, format!("store: {e}"))
}

#[async_trait]
impl MessageHandler for StockConsumer {
    async fn handle(&self, delivery: &Delivery) -> Disposition {
        let raw = match RawEnvelope::decode(&delivery.body) {
            Ok(raw) => raw,
            Err(e) => return dead(e),
        };
        let m = match movement(raw) {
            Ok(m) => m,
            Err(d) => return d,
        };
        let inv = &self.inventory;
        match inv.stores.get(m.store_id.as_str()).await {
            Ok(Some(_)) => {}
            Ok(None) => return Disposition::dead_letter("unknown_store"),
            Err(e) => return retry(delivery.attempt, &e),
        }
        for (product, _) in &m.deltas {
            match inv.products.get(product.as_str()).await {
                Ok(Some(_)) => {}
                Ok(None) => return Disposition::dead_letter("unknown_product"),
                Err(e) => return retry(delivery.attempt, &e),
            }
        }
        match inv.ledger.apply(&m).await {
            Ok(applied) => {
                tracing::debug!(event_id = %m.event_id, ?applied, "stock movement");
                Disposition::Ack
            }
            Err(e) => retry(delivery.attempt, &e),
        }
    }
}
