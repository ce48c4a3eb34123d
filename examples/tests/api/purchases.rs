use std::sync::Arc;

use erp_bus::memory::MemoryBus;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{codes_of, dead_port, read, spawn, trade};

#[tokio::test]
async fn a_purchase_is_recorded_readable_and_reaches_inventory() {
    let sys = spawn().await;
    sys.product("a").await;
    sys.product("b").await;
    let body = json!({
        "purchased_at": "2026-03-01T10:00:00+01:00",
        "supplier": "ACME",
        "lines": [
            {"product_id": "a", "quantity": 3, "unit_price": 250},
            {"product_id": "b", "quantity": 1, "unit_price": 0}
        ]
    });
    let r = sys
        .client
        .post(format!("{}/purchases", sys.purchase))
        .json(&body)
        .send()
        .await
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let (s, p) = read(r).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(
        location,
        format!("/purchases/{}", p["id"].as_str().unwrap())
    );
    assert_eq!(p["store_id"], "main", "an omitted store means main");
    assert_eq!(
        p["purchased_at"], "2026-03-01T09:00:00.000000Z",
        "the client's date is kept"
    );
    assert_eq!(p["supplier"], "ACME");
    assert_eq!(p["lines"][0]["line_total"], 750);
    assert_eq!(p["lines"][1]["line_total"], 0);
    assert_eq!(p["total"], 750);
    assert_eq!(
        sys.get(&format!("{}{location}", sys.purchase)).await,
        (StatusCode::OK, p)
    );
    sys.wait_on_hand("main", "a", 3).await;
    sys.wait_on_hand("main", "b", 1).await;
}

#[tokio::test]
async fn unknown_products_and_stores_are_422_and_nothing_is_recorded() {
    let sys = spawn().await;
    sys.product("a").await;
    let (s, b) = sys
        .post(
            &format!("{}/purchases", sys.purchase),
            trade("main", &[("a", 1, 1), ("ghost", 1, 1)]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        codes_of(&b),
        ("unknown_product".into(), vec!["lines[1].product_id".into()])
    );
    let (s, b) = sys
        .post(
            &format!("{}/purchases", sys.purchase),
            trade("nowhere", &[("a", 1, 1)]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(codes_of(&b).0, "unknown_store");
    let (_, list) = sys.get(&format!("{}/purchases", sys.purchase)).await;
    assert_eq!(list["total_items"], 0);
}

#[tokio::test]
async fn a_purchase_beyond_store_capacity_is_409() {
    let sys = spawn().await;
    sys.product("a").await;
    sys.store("small", Some(10)).await;
    sys.buy("small", &[("a", 8, 1)]).await;
    sys.wait_on_hand("small", "a", 8).await;
    let (s, b) = sys
        .post(
            &format!("{}/purchases", sys.purchase),
            trade("small", &[("a", 3, 1)]),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(codes_of(&b).0, "store_capacity_exceeded");
    sys.buy("small", &[("a", 2, 1)]).await;
}

#[tokio::test]
async fn invalid_purchases_list_every_problem() {
    let sys = spawn().await;
    let url = format!("{}/purchases", sys.purchase);
    let (s, b) = sys
        .post(
            &url,
            json!({"store_id": "", "purchased_at": "soon", "lines": [
                {"product_id": "a", "quantity": 0, "unit_price": 1.5},
                {"product_id": "a", "quantity": 1, "unit_price": 1},
                {"quantity": 1, "unit_price": -1}
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (code, fields) = codes_of(&b);
    assert_eq!(code, "validation_failed");
    assert_eq!(
        fields,
        [
            "store_id",
            "purchased_at",
            "lines[0].quantity",
            "lines[0].unit_price",
            "lines[1].product_id",
            "lines[2].product_id",
            "lines[2].unit_price"
        ]
    );
    let (s, b) = sys.post(&url, json!({})).await;
    assert_eq!(
        (s, codes_of(&b).1),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["lines".to_owned()])
    );
    let r = sys
        .client
        .post(&url)
        .body("{\"lines\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = sys
        .client
        .post(&url)
        .body(vec![b' '; 65 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn purchases_list_filters_sorts_and_pages() {
    let sys = spawn().await;
    sys.product("a").await;
    sys.product("b").await;
    sys.store("north", None).await;
    let url = format!("{}/purchases", sys.purchase);
    let mut made = Vec::new();
    for (store, date, product, price) in [
        ("main", "2026-01-01T00:00:00Z", "a", 100),
        ("north", "2026-01-02T00:00:00Z", "b", 300),
        ("main", "2026-01-03T00:00:00Z", "b", 200),
    ] {
        let mut body = trade(store, &[(product, 1, price)]);
        body["purchased_at"] = json!(date);
        let (s, p) = sys.post(&url, body).await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        made.push(p["id"].as_str().unwrap().to_owned());
    }
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, all) = sys.get(&url).await;
    assert_eq!(
        ids(&all),
        [made[2].clone(), made[1].clone(), made[0].clone()],
        "default: newest first"
    );
    assert_eq!(
        (
            all["page"].clone(),
            all["page_size"].clone(),
            all["total_items"].clone()
        ),
        (json!(1), json!(50), json!(3))
    );
    let (_, by_total) = sys.get(&format!("{url}?sort=total&order=asc")).await;
    assert_eq!(
        ids(&by_total),
        [made[0].clone(), made[2].clone(), made[1].clone()]
    );
    let (_, page2) = sys.get(&format!("{url}?page=2&page_size=2")).await;
    assert_eq!(
        (ids(&page2), page2["total_items"].clone()),
        (vec![made[0].clone()], json!(3))
    );
    let (_, main_b) = sys.get(&format!("{url}?store_id=main&product_id=b")).await;
    assert_eq!(ids(&main_b), [made[2].clone()]);
    let (_, range) = sys
        .get(&format!("{url}?from=2026-01-02&to=2026-01-02"))
        .await;
    assert_eq!(ids(&range), [made[1].clone()]);
    for q in [
        "from=2026-02-01&to=2026-01-01",
        "page_size=501",
        "sort=name",
        "order=up",
        "from=yesterday",
    ] {
        let (s, b) = sys.get(&format!("{url}?{q}")).await;
        assert_eq!(
            (s, codes_of(&b).0.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_query"),
            "{q}"
        );
    }
}

#[tokio::test]
async fn unknown_purchase_ids_are_404() {
    let sys = spawn().await;
    for id in ["0190f8a0-0000-7000-8000-000000000000", "not-a-uuid"] {
        let (s, b) = sys.get(&format!("{}/purchases/{id}", sys.purchase)).await;
        assert_eq!(
            (s, codes_of(&b).0.as_str()),
            (StatusCode::NOT_FOUND, "not_found")
        );
    }
}

#[tokio::test]
async fn a_retried_purchase_with_one_key_is_recorded_once() {
    let sys = spawn().await;
    sys.product("a").await;
    let url = format!("{}/purchases", sys.purchase);
    let body = trade("main", &[("a", 2, 10)]);
    let (s1, first) = read(sys.post_keyed(&url, "buy-1", body.clone()).await).await;
    let (s2, again) = read(sys.post_keyed(&url, "buy-1", body.clone()).await).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(first, again);
    let (s, b) = read(
        sys.post_keyed(&url, "buy-1", trade("main", &[("a", 3, 10)]))
            .await,
    )
    .await;
    assert_eq!(
        (s, codes_of(&b).0.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
    );
    assert_eq!(sys.get(&url).await.1["total_items"], 1);
    sys.wait_on_hand("main", "a", 2).await;
}

#[tokio::test]
async fn an_unreachable_inventory_gives_503_with_retry_after() {
    let config = purchase_svc::config::Config::in_memory(
        "127.0.0.1:0".parse().unwrap(),
        format!("http://{}", dead_port()),
    );
    let app = purchase_svc::startup::build(&config, Arc::new(MemoryBus::new()))
        .await
        .unwrap();
    let url = format!("http://{}/purchases", app.http_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let r = reqwest::Client::new()
        .post(&url)
        .json(&trade("main", &[("a", 1, 1)]))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let (s, b) = read(r).await;
    assert_eq!(
        (s, codes_of(&b).0.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "inventory_unavailable")
    );
    assert!(
        !b.to_string().contains("127.0.0.1"),
        "no internals in the body: {b}"
    );
}

#[tokio::test]
async fn the_request_id_becomes_the_events_correlation_id() {
    use async_trait::async_trait;
    use erp_bus::{Delivery, Disposition, EventBus, MessageHandler, Subscription};

    struct Tap(tokio::sync::mpsc::UnboundedSender<Delivery>);
    #[async_trait]
    impl MessageHandler for Tap {
        async fn handle(&self, d: &Delivery) -> Disposition {
            let _ = self.0.send(d.clone());
            Disposition::Ack
        }
    }
    let bus = MemoryBus::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _tap = bus
        .subscribe(
            Subscription::new("test.tap", &["purchase.completed"]),
            Arc::new(Tap(tx)),
        )
        .await
        .unwrap();
    let shared: Arc<dyn EventBus> = Arc::new(bus);
    let system =
        erp_examples::System::start_on(erp_examples::Ports::ephemeral(), || shared.clone())
            .await
            .unwrap();
    let c = reqwest::Client::new();
    let r = c
        .post(format!("http://{}/products", system.ports.inventory))
        .json(&json!({"id": "a", "name": "A", "unit": "pcs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = c
        .post(format!("http://{}/purchases", system.ports.purchase))
        .header("x-request-id", "corr-777")
        .json(&trade("main", &[("a", 1, 1)]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["x-request-id"], "corr-777");
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.headers["x-correlation-id"], "corr-777");
    let envelope: serde_json::Value = serde_json::from_slice(&event.body).unwrap();
    assert_eq!(envelope["correlation_id"], "corr-777");
    assert!(event.headers["traceparent"].starts_with("00-"));
}
