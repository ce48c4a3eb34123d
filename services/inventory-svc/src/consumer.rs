//! The stock consumer: applies `purchase.completed` (+) and `sale.completed`
//! (−) to the ledger, once per event id.
//!
//! Dispositions: applied or already applied → ack; the message can never
//! apply (malformed, unknown type or version, unknown store or product) →
//! dead-letter at once with a reason code, so a poison message never loops.
//! While the database is unavailable the delivery waits unacknowledged and
//! tries again (it never burns its attempts or reaches the dead-letter queue
//! for that); other store failures → retry with backoff.
//!
//! After applying, and before the ack, the consumer publishes one
//! `stock.changed` per line. It needs no outbox of its own: the delivery is
//! the outbox. If publishing fails or the process dies first, the message is
//! redelivered, the ledger answers "already applied", and the same events
//! are published again under the same ids ([`EventId::derive`]), which
//! their consumers deduplicate. With nobody bound to `stock.changed` the
//! broker routes them nowhere, which is fine: there is no one to tell.

use std::sync::Arc;

use async_trait::async_trait;
use erp_bus::{
    BusError, Delivery, Disposition, EventBus, MessageHandler, OutgoingMessage, Subscription,
    projection::backoff,
};
use erp_core::{
    DecodeError, DomainEvent, EventEnvelope, EventId, EventLine, PurchaseCompleted, RawEnvelope,
    SaleCompleted, StockChanged,
};
use erp_store::StoreError;

use crate::{
    app::{Inventory, InventoryError, SOURCE},
    stock::{Movement, MovementKind},
};

/// The queue inventory consumes (design §6).
pub const QUEUE: &str = "inventory.stock";

/// Deliveries one instance handles at once. Each spends most of its time
/// waiting on the database and the broker, and events commute (stock moves
/// by deltas), so more in flight is more throughput, not less order.
pub const CONCURRENCY: usize = 16;

/// The subscription: `inventory.stock` bound to both completion events,
/// [`CONCURRENCY`] at a time.
pub fn subscription() -> Subscription {
    let mut s = Subscription::new(QUEUE, &[PurchaseCompleted::TYPE, SaleCompleted::TYPE]);
    s.concurrency = CONCURRENCY;
    s.prefetch = 128;
    s
}

/// Handles deliveries of [`QUEUE`].
#[derive(Clone)]
pub struct StockConsumer {
    inventory: Inventory,
    bus: Arc<dyn EventBus>,
}

impl std::fmt::Debug for StockConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StockConsumer").finish_non_exhaustive()
    }
}

impl StockConsumer {
    /// A consumer applying to `inventory`'s ledger and announcing each
    /// change as `stock.changed` on `bus`.
    pub fn new(inventory: Inventory, bus: Arc<dyn EventBus>) -> Self {
        Self { inventory, bus }
    }

    /// One `stock.changed` per line of an applied movement, published with
    /// confirms. `on_hand` is the level read after applying, so with
    /// concurrent events it may already include a later change.
    async fn announce(
        &self,
        m: &Movement,
        correlation_id: &str,
        attempt: u32,
    ) -> Result<(), Disposition> {
        let products: Vec<_> = m.deltas.iter().map(|(p, _)| p.clone()).collect();
        // One read for every line of the movement, not one per line.
        let ledger = &self.inventory.ledger;
        let levels = match until_store_answers(|| async {
            Ok(ledger.levels_of(&m.store_id, &products).await?)
        })
        .await
        {
            Ok(levels) => levels,
            Err(e) => return Err(retry_inventory(attempt, e)),
        };
        let mut messages = Vec::with_capacity(m.deltas.len());
        for (product, delta) in &m.deltas {
            let on_hand = levels
                .iter()
                .find(|l| &l.product_id == product)
                .map_or(0, |l| l.on_hand);
            let mut event = EventEnvelope::new(
                StockChanged {
                    store_id: m.store_id.clone(),
                    product_id: product.clone(),
                    delta: *delta,
                    on_hand,
                    cause_event_id: m.event_id,
                },
                SOURCE,
                correlation_id,
                m.event_id.to_string(),
            );
            event.id = stock_changed_id(m.event_id, &m.store_id, product);
            messages.push(OutgoingMessage::from_envelope(&event.into_raw()));
        }
        for result in self.bus.publish_batch(messages).await {
            match result {
                Ok(()) | Err(BusError::Unroutable(_)) => {}
                Err(e) => {
                    return Err(Disposition::retry(
                        backoff(attempt),
                        format!("publishing stock.changed: {e}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The id of the `stock.changed` that event `cause` raises for one pair:
/// the same on every redelivery of `cause`.
pub fn stock_changed_id(
    cause: EventId,
    store: &erp_core::StoreId,
    product: &erp_core::ProductId,
) -> EventId {
    cause.derive(&format!("stock.changed/{store}/{product}"))
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

fn retry_inventory(attempt: u32, e: InventoryError) -> Disposition {
    Disposition::retry(backoff(attempt), format!("store: {e}"))
}

/// Runs `op` until the database answers: while it is unavailable the
/// delivery waits, unacknowledged (see [`erp_bus::patience`]): a purchase
/// is no less valid for the database having restarted.
async fn until_store_answers<T, F, Fut>(op: F) -> Result<T, InventoryError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, InventoryError>>,
{
    erp_bus::patience::until_available(
        "database",
        |e| matches!(e, InventoryError::Store(StoreError::Unavailable(_))),
        op,
    )
    .await
}

#[async_trait]
impl MessageHandler for StockConsumer {
    async fn handle(&self, delivery: &Delivery) -> Disposition {
        let raw = match RawEnvelope::decode(&delivery.body) {
            Ok(raw) => raw,
            Err(e) => return dead(e),
        };
        let correlation_id = raw.correlation_id.clone();
        let m = match movement(raw) {
            Ok(m) => m,
            Err(d) => return d,
        };
        let inv = &self.inventory;
        match until_store_answers(|| inv.known_store(&m.store_id)).await {
            Ok(Some(_)) => {}
            Ok(None) => return Disposition::dead_letter("unknown_store"),
            Err(e) => return retry_inventory(delivery.attempt, e),
        }
        for (product, _) in &m.deltas {
            match until_store_answers(|| inv.product_exists(product)).await {
                Ok(true) => {}
                Ok(false) => return Disposition::dead_letter("unknown_product"),
                Err(e) => return retry_inventory(delivery.attempt, e),
            }
        }
        let applied = until_store_answers(|| async { Ok(inv.ledger.apply(&m).await?) }).await;
        match applied {
            Ok(applied) => tracing::debug!(event_id = %m.event_id, ?applied, "stock movement"),
            Err(e) => return retry_inventory(delivery.attempt, e),
        }
        match self.announce(&m, &correlation_id, delivery.attempt).await {
            Ok(()) => Disposition::Ack,
            Err(retry) => retry,
        }
    }
}
