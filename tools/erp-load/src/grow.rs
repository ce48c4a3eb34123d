//! Growing inventory's ledger: `purchase.completed` events published
//! straight to `erp.events`, as another producer would.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use erp_bus::{
    EventBus, OutgoingMessage,
    rabbitmq::{RabbitBus, RabbitConfig},
};
use erp_core::{
    EventEnvelope, EventLine, Money, ProductId, PurchaseCompleted, PurchaseId, Quantity, StoreId,
    Timestamp,
};

use crate::{Args, http::Api};

/// Events per confirmed batch.
const BATCH: u64 = 1000;

/// Publishes `count` one-unit purchases of a fresh product and waits until
/// inventory shows them all.
pub(crate) async fn grow_ledger(
    api: &Api,
    args: &Args,
    run_id: &str,
    count: u64,
) -> anyhow::Result<()> {
    let product = format!("{run_id}-grow");
    let created = api.create_product(&product).await;
    if !matches!(created.status, Some(201 | 409)) {
        bail!("creating product {product}: {:?}", created.status);
    }
    let base = api.on_hand(&product).await.unwrap_or(0);
    let bus = RabbitBus::start(RabbitConfig::new(args.amqp_url.clone()));
    if !bus.wait_connected(Duration::from_secs(15)).await {
        bail!("RabbitMQ is not reachable at the --amqp-url");
    }
    let product_id = ProductId::parse(&product).context("product id")?;
    let mut published = 0;
    while published < count {
        let n = BATCH.min(count - published);
        let messages = (0..n).map(|_| purchase_of(&product_id)).collect::<Vec<_>>();
        for result in bus.publish_batch(messages).await {
            result.context("publishing to erp.events")?;
        }
        published += n;
    }
    bus.shutdown();
    println!("published {count} purchase.completed events; waiting for inventory");
    let target = base + i64::try_from(count).context("count")?;
    let mut last = (base, Instant::now());
    loop {
        let on_hand = api.on_hand(&product).await.unwrap_or(last.0);
        if on_hand >= target {
            return Ok(());
        }
        if on_hand > last.0 {
            last = (on_hand, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(60) {
            bail!(
                "inventory stopped applying: {on_hand} of {target} after a minute without progress"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn purchase_of(product: &ProductId) -> OutgoingMessage {
    let event = EventEnvelope::new(
        PurchaseCompleted {
            purchase_id: PurchaseId::new(),
            store_id: StoreId::main(),
            purchased_at: Timestamp::now(),
            lines: vec![EventLine {
                product_id: product.clone(),
                quantity: Quantity::new(1).expect("1 is a quantity"),
                unit_price: Money::from_minor(100).expect("100 is money"),
            }],
            supplier: Some("erp-load".into()),
        },
        "erp-load",
        "erp-load",
        "erp-load",
    );
    OutgoingMessage::from_envelope(&event.into_raw())
}
