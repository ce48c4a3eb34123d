use std::time::Duration;

use erp_examples::{Ports, System};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

pub struct Sys {
    pub purchase: String,
    pub sales: String,
    pub inventory: String,
    pub client: reqwest::Client,
    pub ports: Ports,
    _system: System,
}

/// The `--admin-token` of the spawned system; [`Sys::admin`] sends it.
pub const ADMIN_TOKEN: &str = "test-admin-token";

pub async fn spawn() -> Sys {
    let bus: std::sync::Arc<dyn erp_bus::EventBus> =
        std::sync::Arc::new(erp_bus::memory::MemoryBus::new());
    let options = erp_examples::Options {
        admin_token: Some(ADMIN_TOKEN.into()),
        ..Default::default()
    };
    let system = System::start_with_options(Ports::ephemeral(), || bus.clone(), &options)
        .await
        .expect("system starts");
    let p = system.ports;
    Sys {
        purchase: format!("http://{}", p.purchase),
        sales: format!("http://{}", p.sales),
        inventory: format!("http://{}", p.inventory),
        client: reqwest::Client::new(),
        ports: p,
        _system: system,
    }
}

pub async fn read(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn codes_of(body: &Value) -> (String, Vec<String>) {
    let fields = body["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|d| d["field"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    (
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
        fields,
    )
}

impl Sys {
    pub async fn get(&self, url: &str) -> (StatusCode, Value) {
        read(self.client.get(url).send().await.unwrap()).await
    }

    pub async fn post(&self, url: &str, body: Value) -> (StatusCode, Value) {
        read(self.client.post(url).json(&body).send().await.unwrap()).await
    }

    /// POSTs to an `/admin/` route with the admin token.
    pub async fn admin(&self, url: &str) -> (StatusCode, Value) {
        read(
            self.client
                .post(url)
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn post_keyed(&self, url: &str, key: &str, body: Value) -> Response {
        self.client
            .post(url)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn product(&self, id: &str) {
        let (s, b) = self
            .post(
                &format!("{}/products", self.inventory),
                json!({"id": id, "name": id, "unit": "pcs"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }

    pub async fn store(&self, id: &str, capacity: Option<i64>) {
        let (s, b) = self
            .post(
                &format!("{}/stores", self.inventory),
                json!({"id": id, "name": id, "manager": "Ann", "capacity": capacity}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }

    pub async fn buy(&self, store: &str, lines: &[(&str, i64, i64)]) -> Value {
        let (s, b) = self
            .post(&format!("{}/purchases", self.purchase), trade(store, lines))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b
    }

    pub async fn on_hand(&self, store: &str, product: &str) -> i64 {
        let (s, b) = self
            .get(&format!("{}/stock/{store}/{product}", self.inventory))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["on_hand"].as_i64().unwrap()
    }

    /// Polls until inventory shows `want` units (eventual consistency).
    pub async fn wait_on_hand(&self, store: &str, product: &str, want: i64) {
        for _ in 0..100 {
            if self.on_hand(store, product).await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{store}/{product} never reached {want}");
    }
}

/// A purchase or sale body; lines are (product, quantity, unit_price).
pub fn trade(store: &str, lines: &[(&str, i64, i64)]) -> Value {
    json!({
        "store_id": store,
        "lines": lines
            .iter()
            .map(|(p, q, price)| json!({"product_id": p, "quantity": q, "unit_price": price}))
            .collect::<Vec<_>>()
    })
}

/// A port nothing listens on.
pub fn dead_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}
