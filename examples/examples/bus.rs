//! erp-bus alone: a handler whose disposition decides ack, retry or
//! dead-letter, on the in-memory bus.
//!
//! `cargo run -p erp-examples --example bus`

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use erp_bus::{
    Delivery, Disposition, EventBus, MessageHandler, OutgoingMessage, Subscription,
    memory::MemoryBus,
};

struct Printer;

#[async_trait]
impl MessageHandler for Printer {
    async fn handle(&self, d: &Delivery) -> Disposition {
        match d.body.as_ref() {
            b"flaky" if d.attempt < 3 => Disposition::retry(Duration::from_millis(10), "not yet"),
            b"poison" => Disposition::dead_letter("cannot parse"),
            body => {
                println!(
                    "handled {:?} on attempt {}",
                    String::from_utf8_lossy(body),
                    d.attempt
                );
                Disposition::Ack
            }
        }
    }
}

fn message(body: &'static str) -> OutgoingMessage {
    OutgoingMessage {
        message_id: body.into(),
        routing_key: "demo.happened".into(),
        headers: Default::default(),
        body: body.into(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bus = MemoryBus::new();
    let _sub = bus
        .subscribe(Subscription::new("demo", &["demo.*"]), Arc::new(Printer))
        .await?;
    for body in ["hello", "flaky", "poison"] {
        bus.publish(message(body)).await?;
    }
    assert!(
        bus.publish(OutgoingMessage {
            routing_key: "nobody.listens".into(),
            ..message("x")
        })
        .await
        .is_err()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    for dead in bus.take_dead_letters("demo", 10).await? {
        println!(
            "dead letter: {:?} ({})",
            String::from_utf8_lossy(&dead.delivery.body),
            dead.reason
        );
    }
    Ok(())
}
