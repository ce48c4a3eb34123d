//! A three-node RabbitMQ cluster (`scripts/rabbitmq-cluster.sh`): inventory
//! and a publisher given the nodes' URLs, a stream of `purchase.completed`,
//! one node stopped mid-stream, then another once the first is back. The
//! quorum queue keeps every message, the clients fail over to a surviving
//! node, and each event is applied exactly once.
#![cfg(all(feature = "mongodb", feature = "rabbitmq"))]

mod common;

use std::{path::Path, process::Command, time::Duration};

use common::{Service, free_ports, on_test_servers, purchase_message};
use erp_bus::{
    EventBus,
    rabbitmq::{RabbitBus, RabbitConfig},
};
use erp_core::EventId;
use erp_store::mongo::testing as mongo;
use serde_json::json;

const EVENTS: usize = 300;

/// `ERP_TEST_AMQP_CLUSTER`, else the nodes the script starts.
fn cluster_urls() -> String {
    std::env::var("ERP_TEST_AMQP_CLUSTER").unwrap_or_else(|_| {
        (1..=3)
            .map(|i| format!("amqp://guest:guest@127.0.0.1:{}/%2f", 5680 + i))
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// `scripts/rabbitmq-cluster.sh <args>`; panics when it fails.
fn cluster(args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rabbitmq-cluster.sh");
    let ok = Command::new("bash")
        .arg(script)
        .args(args)
        .status()
        .expect("the cluster script runs");
    assert!(ok.success(), "rabbitmq-cluster.sh {args:?} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_one_node_then_another_loses_and_doubles_nothing() {
    let urls = cluster_urls();
    let bus = RabbitBus::start(RabbitConfig::new(urls.clone()));
    assert!(
        bus.wait_connected(Duration::from_secs(15)).await,
        "no RabbitMQ cluster at {urls}; run scripts/rabbitmq-cluster.sh up"
    );
    let db = mongo::fresh_database("inv_cluster").await;
    let [http, grpc] = free_ports();
    let mut args = on_test_servers(db.name(), &[]);
    let at = args.iter().position(|a| a == "--amqp-url").unwrap();
    args[at + 1] = urls.clone();
    let service = Service::start(&args, http, grpc);
    service
        .wait("ready", "/health/ready", |s, _| s == 200)
        .await;
    let product = format!("clu-{}", EventId::new().as_uuid().simple());
    let r = service
        .post(
            "/products",
            &json!({"id": product, "name": "C", "unit": "pcs"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let stock = format!("/stock/main/{product}");

    let messages: Vec<_> = (0..EVENTS).map(|_| purchase_message(&product, 1)).collect();
    let ids: std::collections::HashSet<String> =
        messages.iter().map(|m| m.message_id.clone()).collect();
    // Publishes like the outbox relay: each until the cluster confirms it.
    let publisher = tokio::spawn({
        let bus = RabbitBus::start(RabbitConfig::new(urls.clone()));
        async move {
            for m in messages {
                let mut tries = 0;
                while bus.publish(m.clone()).await.is_err() {
                    tries += 1;
                    assert!(tries < 600, "never confirmed: {}", m.message_id);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                tokio::time::sleep(Duration::from_millis(10)).await; // a stream, not a burst
            }
            bus.close().await;
        }
    });
    let at_least = |n: i64| {
        move |s: u16, b: &serde_json::Value| {
            s == 200 && b["on_hand"].as_i64().is_some_and(|v| v >= n)
        }
    };

    service
        .wait("the stream flowing", &stock, at_least(30))
        .await;
    cluster(&["stop", "1"]);
    service
        .wait_up_to(60, "flowing without node 1", &stock, at_least(120))
        .await;
    cluster(&["start", "1"]);
    cluster(&["stop", "2"]);
    service
        .wait_up_to(60, "flowing without node 2", &stock, at_least(210))
        .await;
    cluster(&["start", "2"]);
    publisher.await.expect("the publisher");

    service
        .wait_up_to(60, "every event applied", &stock, |s, b| {
            s == 200 && b["on_hand"] == EVENTS
        })
        .await;
    common::assert_each_applied_once(&service, &stock, &ids, &bus).await;
    drop(service);
    bus.close().await;
    db.drop_database().await.unwrap();
}
