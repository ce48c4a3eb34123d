use std::sync::Arc;

use erp_bus::memory::MemoryBus;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{codes_of, dead_port, read, spawn, trade};

#[tokio::test]
async fn a_sale_is_recorded_and_lowers_stock() {
    let sys = spawn().await;
    sys.product("a").await;
    sys.buy("main", &[("a", 5, 100)]).await;
    sys.wait_on_hand("main", "a", 5).await;
    let mut body = trade("main", &[("a", 2, 300)]);
    body["customer"] = json!("Bob");
    let r = sys
        .client
        .post(format!("{}/sales", sys.sales))
        .json(&body)
        .send()
        .await
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let (s, sale) = read(r).await;
    assert_eq!(s, StatusCode::CREATED, "{sale}");
    assert_eq!(location, format!("/sales/{}", sale["id"].as_str().unwrap()));
    assert_eq!(
        (sale["customer"].clone(), sale["total"].clone()),
        (json!("Bob"), json!(600))
    );
    assert_eq!(sale["lines"][0]["line_total"], 600);
    assert!(sale["sold_at"].is_string());
    assert_eq!(
        sys.get(&format!("{}{location}", sys.sales)).await,
        (StatusCode::OK, sale)
    );
    sys.wait_on_hand("main", "a", 3).await;
}

#[tokio::test]
async fn short_stock_is_409_with_a_detail_per_short_line() {
    let sys = spawn().await;
    sys.product("a").await;
    sys.product("b").await;
    sys.buy("main", &[("a", 1, 1), ("b", 5, 1)]).await;
    sys.wait_on_hand("main", "b", 5).await;
    let (s, b) = sys
        .post(
            &format!("{}/sales", sys.sales),
            trade("main", &[("b", 5, 1), ("a", 2, 1)]),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        codes_of(&b),
        (
            "insufficient_stock".into(),
            vec!["lines[1].quantity".into()]
        )
    );
    assert_eq!(
        b["error"]["details"][0]["problem"],
        "requested 2, on hand 1"
    );
    assert_eq!(
        sys.get(&format!("{}/sales", sys.sales)).await.1["total_items"],
        0
    );
}

#[tokio::test]
async fn unknown_products_and_stores_are_422() {
    let sys = spawn().await;
    sys.product("a").await;
    let (s, b) = sys
        .post(
            &format!("{}/sales", sys.sales),
            trade("main", &[("ghost", 1, 1)]),
        )
        .await;
    assert_eq!(
        (s, codes_of(&b)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            ("unknown_product".into(), vec!["lines[0].product_id".into()])
        )
    );
    let (s, b) = sys
        .post(
            &format!("{}/sales", sys.sales),
            trade("nowhere", &[("a", 1, 1)]),
        )
        .await;
    assert_eq!(
        (s, codes_of(&b).0.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_store")
    );
}

#[tokio::test]
async fn the_summary_sums_a_product_over_a_date_range() {
    let sys = spawn().await;
    sys.product("a").await;
    sys.product("b").await;
    sys.buy("main", &[("a", 100, 1), ("b", 100, 1)]).await;
    sys.wait_on_hand("main", "b", 100).await;
    let url = format!("{}/sales", sys.sales);
    for (date, lines) in [
        ("2026-01-01T12:00:00Z", vec![("a", 2, 100), ("b", 1, 50)]),
        ("2026-01-02T12:00:00Z", vec![("a", 3, 100)]),
        ("2026-02-01T12:00:00Z", vec![("a", 10, 100)]),
    ] {
        let mut body = trade("main", &lines);
        body["sold_at"] = json!(date);
        assert_eq!(sys.post(&url, body).await.0, StatusCode::CREATED);
    }
    let (s, sum) = sys
        .get(&format!(
            "{url}/summary?product_id=a&from=2026-01-01&to=2026-01-31"
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        sum,
        json!({"product_id": "a", "quantity": 5, "amount": 500, "sales_count": 2})
    );
    let (_, all) = sys.get(&format!("{url}/summary?product_id=a")).await;
    assert_eq!(
        (all["quantity"].clone(), all["sales_count"].clone()),
        (json!(15), json!(3))
    );
    let (_, none) = sys.get(&format!("{url}/summary?product_id=zzz")).await;
    assert_eq!(
        none,
        json!({"product_id": "zzz", "quantity": 0, "amount": 0, "sales_count": 0})
    );
    let (s, b) = sys.get(&format!("{url}/summary")).await;
    assert_eq!(
        (s, codes_of(&b)),
        (
            StatusCode::BAD_REQUEST,
            ("invalid_query".into(), vec!["product_id".into()])
        )
    );
    let (_, listed) = sys.get(&format!("{url}?product_id=b")).await;
    assert_eq!(listed["total_items"], 1);
}

#[tokio::test]
async fn an_unreachable_inventory_gives_503_inventory_unavailable() {
    let config = sales_svc::config::Config::in_memory(
        "127.0.0.1:0".parse().unwrap(),
        format!("http://{}", dead_port()),
    );
    let app = sales_svc::startup::build(&config, Arc::new(MemoryBus::new()))
        .await
        .unwrap();
    let url = format!("http://{}/sales", app.http_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let (s, b) = read(
        reqwest::Client::new()
            .post(&url)
            .json(&trade("main", &[("a", 1, 1)]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, codes_of(&b).0.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "inventory_unavailable")
    );
}

#[tokio::test]
async fn unknown_sale_ids_are_404_and_bad_queries_400() {
    let sys = spawn().await;
    let (s, _) = sys
        .get(&format!(
            "{}/sales/0190f8a0-0000-7000-8000-000000000000",
            sys.sales
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = sys
        .get(&format!(
            "{}/sales?sort=sold_at&order=asc&page=0",
            sys.sales
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
