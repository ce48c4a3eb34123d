//! The inventory-svc binary as a child process, for tests that must kill it
//! or its dependencies for real, the events they publish to it, and the
//! checks after a stream of them. Shared by the integration tests.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use erp_bus::OutgoingMessage;
use erp_core::{
    EventEnvelope, EventLine, Money, ProductId, PurchaseCompleted, PurchaseId, Quantity, StoreId,
    Timestamp,
};
use serde_json::Value;

/// `purchase.completed` of `quantity` units of `product` into store `main`.
pub fn purchase_message(product: &str, quantity: i64) -> OutgoingMessage {
    let event = EventEnvelope::new(
        PurchaseCompleted {
            purchase_id: PurchaseId::new(),
            store_id: StoreId::main(),
            purchased_at: Timestamp::now(),
            lines: vec![EventLine {
                product_id: ProductId::parse(product).unwrap(),
                quantity: Quantity::new(quantity).unwrap(),
                unit_price: Money::from_minor(1).unwrap(),
            }],
            supplier: None,
        },
        "test",
        "c",
        "c",
    );
    OutgoingMessage::from_envelope(&event.into_raw())
}

/// The flags that run the binary on the test servers (RabbitMQ and the
/// MongoDB-wire server) in `database`, plus `extra`.
pub fn on_test_servers(database: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--store",
        "mongodb",
        "--bus",
        "rabbitmq",
        "--database",
        database,
        "--mongodb-uri",
        &erp_store::mongo::testing::uri(),
        "--amqp-url",
        &erp_bus::rabbitmq::testing::url(),
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

/// The checks after a stream of events `ids` into `stock` (a
/// `/stock/{store}/{product}` path): its ledger holds exactly those events,
/// each once, and none of them sits in `inventory.stock`'s dead letters.
pub async fn assert_each_applied_once(
    service: &Service,
    stock: &str,
    ids: &std::collections::HashSet<String>,
    bus: &dyn erp_bus::EventBus,
) {
    let (_, moves) = service.get(&format!("{stock}/movements")).await.unwrap();
    let moves = moves.as_array().expect("a list of movements");
    let applied: std::collections::HashSet<String> = moves
        .iter()
        .map(|m| m["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(moves.len(), ids.len(), "one movement per event");
    assert_eq!(&applied, ids, "every event, once");
    let dead = bus
        .take_dead_letters("inventory.stock", 10_000)
        .await
        .unwrap();
    let ours = dead
        .iter()
        .filter(|d| {
            d.delivery
                .message_id
                .as_ref()
                .is_some_and(|id| ids.contains(id))
        })
        .count();
    assert_eq!(ours, 0, "events of the stream were dead-lettered");
}

/// `N` distinct ports nothing listens on right now. Every listener is held
/// until all ports are known: a port released before the next bind could
/// be handed out again.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<_> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// A running inventory-svc; killed (SIGKILL) on drop.
pub struct Service {
    pub child: Child,
    pub base: String,
    pub client: reqwest::Client,
}

impl Service {
    /// Starts the binary with `args` plus REST on `http` and gRPC on `grpc`.
    pub fn start(args: &[impl AsRef<std::ffi::OsStr>], http: u16, grpc: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_inventory-svc"))
            .args(args)
            .args([
                "--http-addr",
                &format!("127.0.0.1:{http}"),
                "--grpc-addr",
                &format!("127.0.0.1:{grpc}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("inventory-svc starts");
        Self {
            child,
            base: format!("http://127.0.0.1:{http}"),
            client: reqwest::Client::new(),
        }
    }

    /// Status and JSON body of `GET path`; `None` while nothing answers.
    pub async fn get(&self, path: &str) -> Option<(u16, Value)> {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .ok()?;
        Some((r.status().as_u16(), r.json().await.unwrap_or(Value::Null)))
    }

    /// `POST path` with a JSON body; the status.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Polls `GET path` for up to 30 s until `ok(status, body)`; the body.
    pub async fn wait(&self, what: &str, path: &str, ok: impl Fn(u16, &Value) -> bool) -> Value {
        self.wait_up_to(30, what, path, ok).await
    }

    /// Polls `GET path` for up to `secs` until `ok(status, body)`; the body.
    pub async fn wait_up_to(
        &self,
        secs: u64,
        what: &str,
        path: &str,
        ok: impl Fn(u16, &Value) -> bool,
    ) -> Value {
        let mut last = None;
        for _ in 0..secs * 10 {
            if let Some((s, b)) = self.get(path).await {
                if ok(s, &b) {
                    return b;
                }
                last = Some((s, b));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}; last answer {last:?}");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
