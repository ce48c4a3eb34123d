//! Purchase and sales against an inventory that is hung (accepts, never
//! answers), down, or back: timeouts, retries, the circuit breaker and
//! recovery without a restart.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use erp_bus::memory::MemoryBus;
use reqwest::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::{codes_of, read, trade};

/// A server that accepts connections and never answers; counts them.
async fn hung_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (addr, accepted)
}

async fn purchase_app(inventory_grpc: String, breaker_open_ms: u64) -> String {
    let mut config =
        purchase_svc::config::Config::in_memory("127.0.0.1:0".parse().unwrap(), inventory_grpc);
    config.breaker_open_ms = breaker_open_ms;
    let app = purchase_svc::startup::build(&config, Arc::new(MemoryBus::new()))
        .await
        .unwrap();
    let url = format!("http://{}/purchases", app.http_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    url
}

fn retry_after(r: &reqwest::Response) -> u64 {
    r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchases_against_a_hung_inventory_get_503_and_then_the_breaker_answers_alone() {
    let (hung, _) = hung_server().await;
    let url = purchase_app(format!("http://{hung}"), 15_000).await;
    let c = reqwest::Client::new();
    for i in 0..5 {
        let r = c
            .post(&url)
            .json(&trade("main", &[("a", 1, 1)]))
            .send()
            .await
            .unwrap();
        assert!(retry_after(&r) >= 1);
        let (s, b) = read(r).await;
        assert_eq!(
            (s, codes_of(&b).0.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "inventory_unavailable"),
            "call {i}"
        );
    }
    // Five timeouts in the window: the breaker is open and answers itself,
    // telling the client how long it stays open.
    let r = c
        .post(&url)
        .json(&trade("main", &[("a", 1, 1)]))
        .send()
        .await
        .unwrap();
    let wait = retry_after(&r);
    assert!(
        (10..=15).contains(&wait),
        "Retry-After is the remaining open time, got {wait}"
    );
    let (s, b) = read(r).await;
    assert_eq!(
        (s, codes_of(&b).0.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "inventory_unavailable")
    );
}

async fn start_inventory(http: SocketAddr, grpc: SocketAddr) -> CancellationToken {
    let app = inventory_svc::startup::Application::build(
        &inventory_svc::config::Config::in_memory(http, grpc),
        Arc::new(MemoryBus::new()),
    )
    .await
    .unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(stop.clone().cancelled_owned()));
    stop
}

/// Two distinct addresses nothing listens on right now. Both listeners are
/// held until both ports are known: one released before the second bind
/// could be handed out again, and HTTP and gRPC would then collide.
fn two_free_addrs() -> (SocketAddr, SocketAddr) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (a.local_addr().unwrap(), b.local_addr().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchases_succeed_again_once_inventory_is_back_without_a_restart() {
    let (http, grpc) = two_free_addrs();
    let url = purchase_app(format!("http://{grpc}"), 1_000).await;
    let c = reqwest::Client::new();
    // Inventory is down: refused connections open the breaker.
    for _ in 0..6 {
        let r = c
            .post(&url)
            .json(&trade("main", &[("a", 1, 1)]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let stop = start_inventory(http, grpc).await;
    let r = c
        .post(format!("http://{http}/products"))
        .json(&json!({"id": "a", "name": "A", "unit": "pcs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut last = None;
    for _ in 0..50 {
        let r = c
            .post(&url)
            .json(&trade("main", &[("a", 1, 1)]))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::CREATED {
            stop.cancel();
            return;
        }
        last = Some(r.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("purchases never recovered; last status {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_against_a_hung_inventory_is_retried_then_503_within_the_deadline() {
    let (hung, accepted) = hung_server().await;
    let config = sales_svc::config::Config::in_memory(
        "127.0.0.1:0".parse().unwrap(),
        format!("http://{hung}"),
    );
    let app = sales_svc::startup::build(&config, Arc::new(MemoryBus::new()))
        .await
        .unwrap();
    let url = format!("http://{}/sales", app.http_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let started = Instant::now();
    let r = reqwest::Client::new()
        .post(&url)
        .json(&trade("main", &[("a", 1, 1)]))
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let (s, b) = read(r).await;
    assert_eq!(
        (s, codes_of(&b).0.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "inventory_unavailable")
    );
    assert!(
        accepted.load(Ordering::SeqCst) >= 2,
        "the stock check was retried"
    );
    // The contract's bound (3 s deadline + handling), not a speed figure.
    assert!(
        elapsed < Duration::from_secs(4),
        "answered after {elapsed:?}"
    );
}
