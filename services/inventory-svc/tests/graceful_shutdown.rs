//! SIGTERM mid-stream, for real: inventory-svc on RabbitMQ and the
//! project's database server, a stream of `purchase.completed` arriving. The
//! process turns not-ready at once (its gRPC health watch says NOT_SERVING),
//! finishes what it handles, exits 0 within its grace period, and leaves
//! the rest on the queue: after a restart every event is applied exactly
//! once and none was dead-lettered. Its own test binary, alone on the
//! shared `inventory.stock` queue.
#![cfg(all(feature = "rabbitmq", feature = "mongodb"))]

mod common;

use std::time::Duration;

use common::{Service, free_ports, on_test_servers, purchase_message};
use erp_bus::{EventBus, rabbitmq::testing as rabbit};
use erp_core::EventId;
use erp_store::mongo::testing as mongo;
use serde_json::json;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

const EVENTS: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_stream_exits_0_and_loses_or_doubles_nothing() {
    let db = mongo::fresh_database("inv_term").await;
    let name = db.name().to_owned();
    let [http, grpc] = free_ports();
    let bus = rabbit::connect().await;
    let args = on_test_servers(&name, &["--shutdown-grace-secs", "10"]);
    let mut service = Service::start(&args, http, grpc);
    service
        .wait("ready", "/health/ready", |s, _| s == 200)
        .await;
    let product = format!("term-{}", EventId::new().as_uuid().simple());
    let r = service
        .post(
            "/products",
            &json!({"id": product, "name": "T", "unit": "pcs"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let stock = format!("/stock/main/{product}");

    // Watch readiness over gRPC: a stream open before the signal.
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{grpc}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    // The watch reports the current status, then each change: wait for
    // SERVING (the first report may predate the first readiness probe).
    tokio::time::timeout(Duration::from_secs(10), async {
        while watch.message().await.unwrap().unwrap().status() != ServingStatus::Serving {}
    })
    .await
    .expect("gRPC health says SERVING");

    // The stream: every event a distinct id, one unit each.
    let messages: Vec<_> = (0..EVENTS).map(|_| purchase_message(&product, 1)).collect();
    let ids: std::collections::HashSet<String> =
        messages.iter().map(|m| m.message_id.clone()).collect();
    let publisher = {
        let bus = rabbit::connect().await;
        tokio::spawn(async move {
            for m in messages {
                bus.publish(m).await.unwrap();
            }
            bus.shutdown();
        })
    };
    service
        .wait("the stream flowing", &stock, |s, b| {
            s == 200 && b["on_hand"].as_i64().is_some_and(|n| n >= 20)
        })
        .await;

    let pid = service.child.id().to_string();
    let signalled = std::time::Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut saw_not_serving = false;
    while let Ok(Some(m)) = watch.message().await {
        if m.status() == ServingStatus::NotServing {
            saw_not_serving = true;
        }
    }
    assert!(saw_not_serving, "readiness turned NOT_SERVING on SIGTERM");
    let status = loop {
        if let Some(status) = service.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(20),
            "still running 20 s after SIGTERM (grace 10 s)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");
    // The drain ended by itself (nothing held it open until the grace of
    // 10 s cut it short): not a speed figure, a stop that completed.
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(9), "the drain hung: {took:?}");
    let before = db
        .database()
        .collection::<mongodb::bson::Document>("stock_movements")
        .count_documents(mongodb::bson::doc! {})
        .await
        .unwrap();
    eprintln!("SIGTERM: exited in {took:?} with {before} of {EVENTS} events applied");
    // Restarted: what was left on the queue is applied now.
    let service = Service::start(&args, http, grpc);
    service
        .wait("ready after restart", "/health/ready", |s, _| s == 200)
        .await;
    publisher.await.unwrap();
    service
        .wait("every event applied", &stock, |s, b| {
            s == 200 && b["on_hand"] == EVENTS
        })
        .await;

    // Exactly once, and nothing dead-lettered on the way down.
    common::assert_each_applied_once(&service, &stock, &ids, &bus).await;
    drop(service);
    bus.shutdown();
    db.drop_database().await.unwrap();
}
