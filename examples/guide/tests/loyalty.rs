//! Step 8 — tests on the in-memory adapters: the whole service in process,
//! driven over HTTP, with the bus and a stand-in inventory in the test.

use std::{sync::Arc, time::Duration};

use erp_service::{
    axum::{Json, Router, http::StatusCode, routing::get},
    config::CommonArgs,
    erp_bus::{EventBus, OutgoingMessage, memory::MemoryBus},
    erp_core::{
        EventEnvelope, EventLine, Money, ProductId, Quantity, SaleCompleted, SaleId, StoreId,
        Timestamp,
    },
};
use loyalty_svc::startup::{Application, Config, QUEUE};
use serde_json::{Value, json};

/// Inventory as far as loyalty-svc asks: product `gift` exists.
async fn fake_inventory() -> String {
    let app = Router::new().route(
        "/products/{id}",
        get(|erp_service::axum::extract::Path(id): erp_service::axum::extract::Path<String>| async move {
            if id == "gift" {
                (StatusCode::OK, Json(json!({"id": id})))
            } else {
                (StatusCode::NOT_FOUND, Json(json!({"error": {"code": "not_found"}})))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { erp_service::axum::serve(listener, app).await });
    format!("http://{addr}")
}

struct Running {
    base: String,
    bus: MemoryBus,
    client: reqwest::Client,
}

async fn start() -> Running {
    let bus = MemoryBus::new();
    let config = Config {
        http_addr: "127.0.0.1:0".parse().unwrap(),
        inventory_url: fake_inventory().await,
        database: "loyalty".into(),
        common: CommonArgs::in_memory(),
    };
    let app = Application::build(&config, Arc::new(bus.clone()))
        .await
        .unwrap();
    let base = format!("http://{}", app.http_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    Running {
        base,
        bus,
        client: reqwest::Client::new(),
    }
}

/// A sale of `total` minor units to `customer`, as sales-svc publishes it.
fn sale(customer: &str, total: i64) -> OutgoingMessage {
    let event = EventEnvelope::new(
        SaleCompleted {
            sale_id: SaleId::new(),
            store_id: StoreId::main(),
            sold_at: Timestamp::now(),
            lines: vec![EventLine {
                product_id: ProductId::parse("p").unwrap(),
                quantity: Quantity::new(1).unwrap(),
                unit_price: Money::from_minor(total).unwrap(),
            }],
            customer: Some(customer.into()),
        },
        "sales-svc",
        "c",
        "c",
    );
    OutgoingMessage::from_envelope(&event.into_raw())
}

impl Running {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or_default())
    }

    async fn redeem(&self, key: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(format!("{}/redemptions", self.base))
            .json(&body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let r = req.send().await.unwrap();
        (r.status(), r.json().await.unwrap_or_default())
    }

    async fn available(&self, customer: &str) -> i64 {
        self.get(&format!("/customers/{customer}/points")).await.1["available"]
            .as_i64()
            .unwrap()
    }
}

#[tokio::test]
async fn a_sale_earns_points_once_however_often_it_is_delivered() {
    let s = start().await;
    let message = sale("ann", 12_345);
    for _ in 0..3 {
        s.bus.publish(message.clone()).await.unwrap();
    }
    assert!(s.bus.settled(QUEUE, Duration::from_secs(5)).await);
    assert_eq!(
        s.available("ann").await,
        123,
        "12,345 minor units earn 123 points, once"
    );
}

#[tokio::test]
async fn redeeming_checks_the_input_the_product_and_the_balance() {
    let s = start().await;
    s.bus.publish(sale("bob", 10_000)).await.unwrap();
    assert!(s.bus.settled(QUEUE, Duration::from_secs(5)).await);

    // Every invalid field in one 422.
    let (status, body) = s
        .redeem(
            None,
            json!({"customer": " ", "product_id": "a b", "points": 0, "extra": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["extra", "customer", "product_id", "points"]);

    // Inventory's answer, through the breaker.
    let (status, body) = s
        .redeem(
            None,
            json!({"customer": "bob", "product_id": "nope", "points": 10}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unknown_product"))
    );

    // The balance.
    let (status, body) = s
        .redeem(
            None,
            json!({"customer": "bob", "product_id": "gift", "points": 101}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("insufficient_points"))
    );

    // A keyed redemption, retried: one redemption, the same answer.
    let body = json!({"customer": "bob", "product_id": "gift", "points": 60});
    let (first, a) = s.redeem(Some("k-1"), body.clone()).await;
    let (again, b) = s.redeem(Some("k-1"), body).await;
    assert_eq!((first, again), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(a["id"], b["id"]);
    assert_eq!(s.available("bob").await, 40);
    let (status, found) = s
        .get(&format!("/redemptions/{}", a["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        (status, found["points"].as_i64()),
        (StatusCode::OK, Some(60))
    );
}
