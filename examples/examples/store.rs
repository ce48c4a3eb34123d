//! erp-store alone: a write with its outbox events, a read model query, and
//! an idempotency claim, on the in-memory adapters.
//!
//! `cargo run -p erp-examples --example store`

use erp_core::{EventEnvelope, EventId, Timestamp};
use erp_store::{
    Claim, Filter, IdempotencyStore, Order, Outbox, OutboxRecord, ReadModel, ViewQuery, WriteStore,
    memory::{MemoryIdempotency, MemoryOutbox, MemoryReadModel, MemoryWriteStore},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OrderDoc {
    id: String,
    total: i64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let outbox = MemoryOutbox::new();
    let orders = MemoryWriteStore::new(outbox.clone());
    let event = EventEnvelope {
        id: EventId::new(),
        event_type: "order.placed".into(),
        version: 1,
        occurred_at: Timestamp::now(),
        source: "example".into(),
        correlation_id: "c".into(),
        causation_id: "c".into(),
        data: json!({"id": "o1"}),
    };
    // The order and its event are stored together or not at all.
    orders
        .insert(
            "o1",
            OrderDoc {
                id: "o1".into(),
                total: 42,
            },
            vec![OutboxRecord::published(event)],
        )
        .await?;
    println!("outbox backlog: {}", outbox.backlog().await?);

    let views = MemoryReadModel::new();
    for (id, total) in [("o1", 42), ("o2", 7), ("o3", 99)] {
        views
            .upsert(
                id,
                OrderDoc {
                    id: id.into(),
                    total,
                },
            )
            .await?;
    }
    let big = views
        .query(&ViewQuery {
            filters: vec![Filter::Gte("total".into(), json!(10))],
            sort: vec![("total".into(), Order::Desc)],
            page: 1,
            page_size: 10,
        })
        .await?;
    println!(
        "orders ≥ 10: {:?}",
        big.items.iter().map(|o| &o.id).collect::<Vec<_>>()
    );

    let keys = MemoryIdempotency::default();
    assert_eq!(
        keys.claim("POST /orders", "k1", "hash").await?,
        Claim::Acquired
    );
    assert_eq!(
        keys.claim("POST /orders", "k1", "other").await?,
        Claim::Mismatch
    );
    println!("idempotency key claimed once");
    Ok(())
}
