//! The scripted scenario of `all-in-one --demo`, over HTTP only: register
//! two products, buy, sell, wait until inventory has applied both events,
//! then read the stock table.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

use crate::Ports;

/// One row of the final table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRow {
    /// The store.
    pub store_id: String,
    /// The product.
    pub product_id: String,
    /// Units on hand.
    pub on_hand: i64,
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> anyhow::Result<Value> {
    let response = client
        .post(&url)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .with_context(|| format!("POST {url}: body"))?;
    ensure!(status.is_success(), "POST {url} answered {status}: {body}");
    Ok(body)
}

async fn get(client: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .with_context(|| format!("GET {url}: body"))?;
    ensure!(status.is_success(), "GET {url} answered {status}: {body}");
    Ok(body)
}

/// Waits until `GET url` is 200, for at most 10 s.
pub async fn wait_ready(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{url} did not become ready")
}

async fn wait_on_hand(
    client: &reqwest::Client,
    base: &str,
    product: &str,
    want: i64,
) -> anyhow::Result<()> {
    let url = format!("{base}/stock/main/{product}");
    for _ in 0..200 {
        if get(client, &url).await?["on_hand"] == json!(want) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{product} never reached {want} units on hand")
}

/// Runs the scenario against services at `ports`, sending `token` as a
/// bearer token when the services require one; returns the stock table.
pub async fn run(ports: Ports, token: Option<&str>) -> anyhow::Result<Vec<StockRow>> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .context("the API token must be printable ASCII")?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .default_headers(headers)
        .build()?;
    let purchase = format!("http://{}", ports.purchase);
    let sales = format!("http://{}", ports.sales);
    let inventory = format!("http://{}", ports.inventory);
    for base in [&purchase, &sales, &inventory] {
        wait_ready(&client, &format!("{base}/health/ready")).await?;
    }

    for (id, name, unit) in [("widget", "Widget", "pcs"), ("gadget", "Gadget", "pcs")] {
        post(
            &client,
            format!("{inventory}/products"),
            json!({"id": id, "name": name, "unit": unit}),
        )
        .await?;
    }
    post(
        &client,
        format!("{purchase}/purchases"),
        json!({"supplier": "ACME", "lines": [
            {"product_id": "widget", "quantity": 10, "unit_price": 250},
            {"product_id": "gadget", "quantity": 5, "unit_price": 1200}
        ]}),
    )
    .await?;
    wait_on_hand(&client, &inventory, "widget", 10).await?;
    post(
        &client,
        format!("{sales}/sales"),
        json!({"customer": "Bob", "lines": [{"product_id": "widget", "quantity": 3, "unit_price": 400}]}),
    )
    .await?;
    wait_on_hand(&client, &inventory, "widget", 7).await?;

    let rows = get(&client, &format!("{inventory}/stock")).await?;
    rows.as_array()
        .context("GET /stock is not an array")?
        .iter()
        .map(|r| {
            Ok(StockRow {
                store_id: r["store_id"].as_str().context("store_id")?.to_owned(),
                product_id: r["product_id"].as_str().context("product_id")?.to_owned(),
                on_hand: r["on_hand"].as_i64().context("on_hand")?,
            })
        })
        .collect()
}

/// The table as text.
pub fn table(rows: &[StockRow]) -> String {
    let mut out = format!("{:<10} {:<10} {:>8}\n", "store", "product", "on_hand");
    for r in rows {
        out.push_str(&format!(
            "{:<10} {:<10} {:>8}\n",
            r.store_id, r.product_id, r.on_hand
        ));
    }
    out
}
