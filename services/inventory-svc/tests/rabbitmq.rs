//! inventory-svc on a real RabbitMQ, driven only through AMQP and HTTP: the
//! topology exists, a duplicate event moves stock once, a malformed message
//! is dead-lettered while the service stays ready, and readiness follows the
//! broker through `stop_app` / `start_app`. One test: it restarts the broker.
#![cfg(feature = "rabbitmq")]

mod common;

use common::purchase_message;
use erp_bus::rabbitmq::testing as rabbit;
use std::{sync::Arc, time::Duration};

use erp_bus::{EventBus, OutgoingMessage, rabbitmq::RabbitBus};
use inventory_svc::{config::Config, startup::Application};
use serde_json::{Value, json};

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn wait_for(
        &self,
        what: &str,
        secs: u64,
        path: &str,
        check: impl Fn(u16, &Value) -> bool,
    ) {
        for _ in 0..secs * 10 {
            let (s, b) = self.get(path).await;
            if check(s, &b) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "timed out waiting for {what}: last {:?}",
            self.get(path).await
        );
    }
}

/// A queue of this test only, bound to `stock.changed`; deleted afterwards.
const CHANGES: &str = "test.inventory-stock-changed";

async fn publish_until_confirmed(bus: &RabbitBus, m: OutgoingMessage) {
    for _ in 0..300 {
        if bus.publish(m.clone()).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never confirmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_on_rabbitmq_applies_once_dead_letters_and_recovers() {
    let client_bus = rabbit::connect().await;
    let service_bus = rabbit::connect().await;
    let any = "127.0.0.1:0".parse().unwrap();
    let app = Application::build(&Config::in_memory(any, any), Arc::new(service_bus))
        .await
        .unwrap();
    let c = Client {
        base: format!("http://{}", app.http_addr()),
        http: reqwest::Client::new(),
    };
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    // Leftovers of earlier runs must not confuse the dead-letter check.
    client_bus
        .take_dead_letters("inventory.stock", 10_000)
        .await
        .unwrap();

    let queues = rabbit::rabbitmqctl(&["list_queues", "-q", "name", "type"]);
    for expected in [
        "inventory.stock\tquorum",
        "inventory.stock.dlq",
        "inventory.stock.retry",
    ] {
        assert!(
            queues.contains(expected),
            "missing {expected} in:\n{queues}"
        );
    }
    let bindings = rabbit::rabbitmqctl(&[
        "list_bindings",
        "-q",
        "source_name",
        "destination_name",
        "routing_key",
    ]);
    for expected in [
        "erp.events\tinventory.stock\tpurchase.completed",
        "erp.events\tinventory.stock\tsale.completed",
        "erp.dlx\tinventory.stock.dlq\tinventory.stock",
    ] {
        assert!(
            bindings.contains(expected),
            "missing binding {expected} in:\n{bindings}"
        );
    }

    let r = c
        .http
        .post(format!("{}/products", c.base))
        .json(&json!({"id": "rmq-widget", "name": "W", "unit": "pcs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // Whoever binds a queue to stock.changed hears of each change.
    rabbit::delete_subscription_queues(CHANGES).await;
    let (recorder, mut changes) = erp_bus::Recorder::acking();
    let listening = client_bus
        .subscribe(
            erp_bus::Subscription::new(CHANGES, &["stock.changed"]),
            recorder,
        )
        .await
        .unwrap();

    // The same message id twice moves stock once.
    let twice = purchase_message("rmq-widget", 3);
    client_bus.publish(twice.clone()).await.unwrap();
    client_bus.publish(twice).await.unwrap();
    c.wait_for("stock 3", 10, "/stock/main/rmq-widget", |s, b| {
        s == 200 && b["on_hand"] == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.get("/stock/main/rmq-widget").await.1["on_hand"], 3);
    assert_eq!(
        c.get("/stock/main/rmq-widget/movements")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let delivery = tokio::time::timeout(Duration::from_secs(10), changes.recv())
        .await
        .expect("a stock.changed")
        .unwrap();
    let change = erp_core::RawEnvelope::decode(&delivery.body).unwrap();
    assert_eq!(change.event_type, "stock.changed");
    assert_eq!(change.data["product_id"], "rmq-widget");
    assert_eq!(
        (
            change.data["delta"].as_i64(),
            change.data["on_hand"].as_i64()
        ),
        (Some(3), Some(3))
    );
    // The duplicate may announce again, but only under the same id.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(again) = changes.try_recv() {
        assert_eq!(again.message_id, Some(change.id.to_string()));
    }
    listening.stop().await;
    rabbit::delete_subscription_queues(CHANGES).await;

    // A malformed message goes to the DLQ; the service stays ready.
    client_bus
        .publish(OutgoingMessage {
            message_id: "garbage-1".into(),
            routing_key: "purchase.completed".into(),
            headers: Default::default(),
            body: b"{this is not json".to_vec().into(),
        })
        .await
        .unwrap();
    // Only this test's message counts: the shared queue may still hold
    // other runs' events, which this fresh inventory cannot apply either.
    let mut dead = Vec::new();
    for _ in 0..100 {
        let taken = client_bus
            .take_dead_letters("inventory.stock", 100)
            .await
            .unwrap();
        dead.extend(
            taken
                .into_iter()
                .filter(|d| d.delivery.message_id.as_deref() == Some("garbage-1")),
        );
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    dead.extend(
        client_bus
            .take_dead_letters("inventory.stock", 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.delivery.message_id.as_deref() == Some("garbage-1")),
    );
    assert_eq!(dead.len(), 1, "dead-lettered once, not looping");
    assert_eq!(dead[0].reason, "malformed_message");
    assert_eq!(c.get("/health/ready").await.0, 200);

    // Readiness follows the broker, and events flow again afterwards.
    rabbit::rabbitmqctl(&["stop_app"]);
    c.wait_for("readiness 503", 20, "/health/ready", |s, _| s == 503)
        .await;
    rabbit::rabbitmqctl(&["start_app"]);
    c.wait_for("readiness 200", 60, "/health/ready", |s, _| s == 200)
        .await;
    publish_until_confirmed(&client_bus, purchase_message("rmq-widget", 1)).await;
    c.wait_for("stock 4", 20, "/stock/main/rmq-widget", |s, b| {
        s == 200 && b["on_hand"] == 4
    })
    .await;
}
