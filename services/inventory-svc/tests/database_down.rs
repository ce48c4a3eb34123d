//! Design §7.6 for the database: inventory-svc on its own test server (a
//! private instance of the launcher `scripts/mongodb.sh` leaves in
//! `.data/bin/mongo-server`, so stopping it disturbs no other test). While
//! the database is down, readiness is 503 naming the store and requests
//! answer 503 `store_unavailable`, and the events that arrive then wait
//! instead of being dead-lettered; when the database comes back the service
//! recovers with its data, without a restart, and applies each of them
//! once. The outage lasts `ERP_TEST_OUTAGE_SECS` (default 12, four times
//! the backoff that used to dead-letter; 60 reproduces the check).
#![cfg(all(feature = "mongodb", feature = "rabbitmq"))]

mod common;

use std::time::Duration;

use common::{Service, free_ports, purchase_message};

use erp_bus::EventBus;
use erp_store::mongo::testing::PrivateServer as Database;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_means_503_and_the_service_recovers_by_itself() {
    let dir = std::env::temp_dir().join(format!(
        "erp-db-down-{}",
        erp_core::EventId::new().as_uuid().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("inventory.mv");
    let [port, http, grpc] = free_ports();
    let database = Database::start(&file, port).await;

    let mongodb_uri = database.uri();
    let amqp_url = erp_bus::rabbitmq::testing::url();
    let args = [
        "--bus",
        "rabbitmq",
        "--amqp-url",
        &amqp_url,
        "--store",
        "mongodb",
        "--database",
        "inventory_down_test",
    ];
    let args: Vec<&str> = args
        .into_iter()
        .chain(["--mongodb-uri", &mongodb_uri])
        .collect();
    let service = Service::start(&args, http, grpc);
    service
        .wait("ready", "/health/ready", |s, _| s == 200)
        .await;
    let created = service
        .post(
            "/products",
            &json!({"id": "kept", "name": "Kept", "unit": "pcs"}),
        )
        .await;
    assert_eq!(created.status(), 201);

    drop(database);
    let ready = service
        .wait("readiness 503", "/health/ready", |s, _| s == 503)
        .await;
    assert_eq!(ready["checks"]["store"]["status"], "down", "{ready}");
    let (status, body) = service.get("/products/kept").await.unwrap();
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("store_unavailable"))
    );
    let write = service
        .post(
            "/products",
            &json!({"id": "later", "name": "Later", "unit": "pcs"}),
        )
        .await;
    assert_eq!(write.status(), 503);
    assert!(write.headers().contains_key("retry-after"));
    let text = write.text().await.unwrap();
    assert!(!text.contains("127.0.0.1"), "internals leaked: {text}");

    // Purchases of the known product arrive while the database is down,
    // and it stays down longer than the attempts' backoff (100 ms doubling,
    // five attempts: 3.1 s) that used to dead-letter them.
    const EVENTS: usize = 200;
    let outage = std::env::var("ERP_TEST_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let bus = erp_bus::rabbitmq::testing::connect().await;
    let messages: Vec<_> = (0..EVENTS).map(|_| purchase_message("kept", 1)).collect();
    let ids: std::collections::HashSet<String> =
        messages.iter().map(|m| m.message_id.clone()).collect();
    let went_down = std::time::Instant::now();
    for m in messages {
        bus.publish(m).await.unwrap();
    }
    let left = Duration::from_secs(outage).saturating_sub(went_down.elapsed());
    tokio::time::sleep(left).await; // the outage itself: time is the point
    let (status, _) = service.get("/health/ready").await.unwrap();
    assert_eq!(status, 503, "not ready through the whole outage");

    let _database = Database::start(&file, port).await;
    service
        .wait("ready again", "/health/ready", |s, _| s == 200)
        .await;
    let product = service
        .wait("the product back", "/products/kept", |s, _| s == 200)
        .await;
    assert_eq!(product["name"], "Kept");
    service
        .wait_up_to(60, "every purchase applied", "/stock/main/kept", |s, b| {
            s == 200 && b["on_hand"] == EVENTS
        })
        .await;
    common::assert_each_applied_once(&service, "/stock/main/kept", &ids, &bus).await;
    // It waited: no attempt was spent on the outage.
    let metrics = service
        .client
        .get(format!("{}/metrics", service.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let retried = metrics
        .lines()
        .find(|l| l.starts_with("erp_events_retried_total{queue=\"inventory.stock\"}"));
    assert!(
        retried.is_none_or(|l| l.ends_with(" 0")),
        "the outage cost attempts: {retried:?}"
    );
    bus.shutdown();
    drop(service);
    let _ = std::fs::remove_dir_all(&dir);
}
