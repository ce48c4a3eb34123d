//! The services' HTTP API as the driver uses it.

use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

use crate::Args;

/// One answer: status and, for retries, `Retry-After` in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answer {
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
}

impl Answer {
    /// An answer the client can act on: 2xx, or 4xx but 408 and 429.
    pub fn is_definite(self) -> bool {
        matches!(self.status, Some(s) if (200..300).contains(&s)
            || ((400..500).contains(&s) && s != 408 && s != 429))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    purchase: String,
    sales: String,
    inventory: String,
    token: Option<String>,
}

impl Api {
    pub fn new(args: &Args) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(64)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            purchase: args.purchase_url.trim_end_matches('/').to_owned(),
            sales: args.sales_url.trim_end_matches('/').to_owned(),
            inventory: args.inventory_url.trim_end_matches('/').to_owned(),
            token: args.api_token.clone(),
        })
    }

    async fn post(&self, url: String, body: &Value, key: Option<&str>) -> Answer {
        let mut request = self.http.post(url).json(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        match request.send().await {
            Ok(r) => Answer {
                status: Some(r.status().as_u16()),
                retry_after: r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok()),
            },
            Err(_) => Answer {
                status: None,
                retry_after: None,
            },
        }
    }

    pub async fn create_product(&self, id: &str) -> Answer {
        let body = json!({"id": id, "name": id, "unit": "pcs"});
        self.post(format!("{}/products", self.inventory), &body, None)
            .await
    }

    /// `lines`: (product, quantity), at unit price 100.
    pub async fn purchase(&self, lines: &[(&str, i64)], key: &str) -> Answer {
        let body = json!({"supplier": "erp-load", "lines": lines_json(lines)});
        self.post(format!("{}/purchases", self.purchase), &body, Some(key))
            .await
    }

    pub async fn sale(&self, lines: &[(&str, i64)], key: &str) -> Answer {
        let body = json!({"customer": "erp-load", "lines": lines_json(lines)});
        self.post(format!("{}/sales", self.sales), &body, Some(key))
            .await
    }

    /// on_hand of `product` in store `main`; `None` when not answered.
    pub async fn on_hand(&self, product: &str) -> Option<i64> {
        let r = self
            .http
            .get(format!("{}/stock/main/{product}", self.inventory))
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json::<Value>().await.ok()?["on_hand"].as_i64()
    }
}

fn lines_json(lines: &[(&str, i64)]) -> Value {
    lines
        .iter()
        .map(|(p, q)| json!({"product_id": p, "quantity": q, "unit_price": 100}))
        .collect()
}
