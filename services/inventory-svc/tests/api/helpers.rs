use std::{sync::Arc, time::Duration};

use erp_bus::{EventBus, OutgoingMessage, memory::MemoryBus};
use erp_core::{
    EventEnvelope, EventLine, Money, ProductId, PurchaseCompleted, PurchaseId, Quantity,
    RawEnvelope, SaleCompleted, SaleId, StoreId, Timestamp,
};
use inventory_svc::{config::Config, startup::Application};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub struct TestApp {
    pub base: String,
    pub grpc: String,
    pub bus: MemoryBus,
    pub client: reqwest::Client,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_on(MemoryBus::new()).await
}

/// The `--admin-token` of the test app; [`TestApp::admin`] sends it.
pub const ADMIN_TOKEN: &str = "test-admin-token";

pub async fn spawn_app_on(bus: MemoryBus) -> TestApp {
    let any = "127.0.0.1:0".parse().unwrap();
    let mut config = Config::in_memory(any, any);
    config.common.admin_token = Some(ADMIN_TOKEN.into());
    let app = Application::build(&config, Arc::new(bus.clone()))
        .await
        .expect("inventory builds");
    let base = format!("http://{}", app.http_addr());
    let grpc = format!("http://{}", app.grpc_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        base,
        grpc,
        bus,
        client: reqwest::Client::new(),
    }
}

pub async fn body(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

impl TestApp {
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        body(
            self.client
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn post(&self, path: &str, json: Value) -> (StatusCode, Value) {
        body(
            self.client
                .post(format!("{}{path}", self.base))
                .json(&json)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Waits until inventory's queue has nothing queued or in hand: every
    /// delivery so far, duplicates and redeliveries included, is done.
    pub async fn settled(&self) {
        assert!(
            self.bus
                .settled("inventory.stock", Duration::from_secs(10))
                .await,
            "inventory.stock did not settle"
        );
    }

    /// POSTs to an `/admin/` route with the admin token.
    pub async fn admin(&self, path: &str) -> (StatusCode, Value) {
        body(
            self.client
                .post(format!("{}{path}", self.base))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn post_raw(&self, path: &str, raw: impl Into<reqwest::Body>) -> (StatusCode, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        body(r).await
    }

    /// A connected channel to the gRPC server, for any client on it.
    pub async fn grpc_channel(&self) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(self.grpc.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn product(&self, id: &str) {
        let (s, b) = self
            .post("/products", json!({"id": id, "name": id, "unit": "pcs"}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }

    pub async fn store(&self, id: &str, capacity: Option<i64>) {
        let (s, b) = self
            .post(
                "/stores",
                json!({"id": id, "name": id, "manager": "Ann", "capacity": capacity}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }

    pub async fn publish(&self, envelope: &RawEnvelope) {
        self.bus
            .publish(OutgoingMessage::from_envelope(envelope))
            .await
            .unwrap();
    }

    pub async fn publish_bytes(&self, routing_key: &str, body: &'static [u8]) {
        self.bus
            .publish(OutgoingMessage {
                message_id: "m".into(),
                routing_key: routing_key.into(),
                headers: Default::default(),
                body: body.into(),
            })
            .await
            .unwrap();
    }

    pub async fn on_hand(&self, store: &str, product: &str) -> i64 {
        let (s, b) = self.get(&format!("/stock/{store}/{product}")).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["on_hand"].as_i64().unwrap()
    }

    /// Polls until `on_hand` equals `want` (eventual consistency), for at most 5 s.
    pub async fn wait_on_hand(&self, store: &str, product: &str, want: i64) {
        for _ in 0..100 {
            if self.on_hand(store, product).await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{store}/{product} never reached {want}, is {}",
            self.on_hand(store, product).await
        );
    }

    /// Waits for `n` dead letters of inventory.stock and returns their reasons.
    pub async fn dead_letter_reasons(&self, n: usize) -> Vec<String> {
        let mut reasons = Vec::new();
        for _ in 0..100 {
            reasons.extend(
                self.bus
                    .take_dead_letters("inventory.stock", n)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|d| d.reason),
            );
            if reasons.len() >= n {
                return reasons;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} dead letters, got {reasons:?}");
    }
}

pub fn line(product: &str, quantity: i64) -> EventLine {
    EventLine {
        product_id: ProductId::parse(product).unwrap(),
        quantity: Quantity::new(quantity).unwrap(),
        unit_price: Money::from_minor(100).unwrap(),
    }
}

pub fn purchase(store: &str, lines: Vec<EventLine>) -> RawEnvelope {
    EventEnvelope::new(
        PurchaseCompleted {
            purchase_id: PurchaseId::new(),
            store_id: StoreId::parse(store).unwrap(),
            purchased_at: Timestamp::now(),
            lines,
            supplier: None,
        },
        "test",
        "corr",
        "cause",
    )
    .into_raw()
}

pub fn sale(store: &str, lines: Vec<EventLine>) -> RawEnvelope {
    EventEnvelope::new(
        SaleCompleted {
            sale_id: SaleId::new(),
            store_id: StoreId::parse(store).unwrap(),
            sold_at: Timestamp::now(),
            lines,
            customer: None,
        },
        "test",
        "corr",
        "cause",
    )
    .into_raw()
}

pub fn fields(body: &Value) -> Vec<String> {
    body["error"]["details"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_owned())
        .collect()
}
