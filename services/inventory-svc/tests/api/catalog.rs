use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{body, fields, spawn_app};

#[tokio::test]
async fn creating_a_product_returns_201_with_location_and_it_is_listed() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(format!("{}/products", app.base))
        .json(&json!({"id": "p-1", "name": "Pen", "unit": "pcs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/products/p-1");
    let (status, created) = body(r).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created, json!({"id": "p-1", "name": "Pen", "unit": "pcs"}));
    assert_eq!(
        app.get("/products/p-1").await,
        (StatusCode::OK, created.clone())
    );
    assert_eq!(
        app.get("/products").await,
        (StatusCode::OK, json!([created]))
    );
}

#[tokio::test]
async fn a_duplicate_product_id_is_409() {
    let app = spawn_app().await;
    app.product("p").await;
    let (s, b) = app
        .post(
            "/products",
            json!({"id": "p", "name": "Other", "unit": "kg"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["error"]["code"], "product_already_exists");
    assert_eq!(
        app.get("/products/p").await.1["name"],
        "p",
        "the original is unchanged"
    );
}

#[tokio::test]
async fn invalid_product_fields_are_all_listed_in_a_422() {
    let app = spawn_app().await;
    let (s, b) = app
        .post("/products", json!({"id": "bad id", "unit": 5}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "validation_failed");
    assert_eq!(fields(&b), ["id", "name", "unit"]);
    assert_eq!(
        app.get("/products").await.1,
        json!([]),
        "nothing was created"
    );
}

#[tokio::test]
async fn malformed_json_is_400_and_oversized_bodies_are_413() {
    let app = spawn_app().await;
    let (s, b) = app.post_raw("/products", "{\"id\": ").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"]["code"], "malformed_json");
    let big = format!(
        r#"{{"id":"p","name":"{}","unit":"pcs"}}"#,
        "x".repeat(70 * 1024)
    );
    let (s, b) = app.post_raw("/products", big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(b["error"]["code"], "payload_too_large");
    let (s, _) = app.post_raw("/stores", "[1,2]").await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "JSON that is not an object has no valid fields"
    );
}

#[tokio::test]
async fn unknown_ids_and_routes_are_404_and_wrong_methods_405_all_in_json() {
    let app = spawn_app().await;
    for path in [
        "/products/nope",
        "/products/bad%20id",
        "/stores/nope",
        "/nothing/here",
    ] {
        let (s, b) = app.get(path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(b["error"]["code"], "not_found", "{path}");
    }
    let r = app
        .client
        .delete(format!("{}/products", app.base))
        .send()
        .await
        .unwrap();
    let (s, b) = body(r).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(b["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn store_main_exists_at_start_and_stores_have_optional_capacity() {
    let app = spawn_app().await;
    let (s, stores) = app.get("/stores").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(stores[0]["id"], "main");
    assert_eq!(stores[0]["capacity"], json!(null));
    let (s, b) = app
        .post(
            "/stores",
            json!({"id": "north", "name": "North", "manager": "Ann", "capacity": 100}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(
        b,
        json!({"id": "north", "name": "North", "manager": "Ann", "capacity": 100})
    );
    assert_eq!(app.get("/stores/north").await, (StatusCode::OK, b));
    assert_eq!(app.get("/stores").await.1.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn store_validation_and_duplicates() {
    let app = spawn_app().await;
    let (s, b) = app
        .post(
            "/stores",
            json!({"id": "s", "name": "", "manager": "Ann", "capacity": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&b), ["name", "capacity"]);
    let (s, b) = app
        .post(
            "/stores",
            json!({"id": "main", "name": "M", "manager": "Ann"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["error"]["code"], "store_already_exists");
}

#[tokio::test]
async fn lists_page_when_asked_and_reject_bad_paging() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.product(&format!("p{i}")).await;
    }
    let (_, page) = app.get("/products?page=2&page_size=2").await;
    let ids: Vec<_> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p2", "p3"]);
    for q in ["page=0", "page_size=501", "page_size=x", "order=sideways"] {
        let (s, b) = app.get(&format!("/products?{q}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(b["error"]["code"], "invalid_query", "{q}");
    }
}

async fn post_keyed(
    app: &crate::helpers::TestApp,
    path: &str,
    key: &str,
    json: serde_json::Value,
) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.base))
        .header("Idempotency-Key", key)
        .json(&json)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_creates_once() {
    let app = spawn_app().await;
    let p = json!({"id": "k", "name": "K", "unit": "pcs"});
    let first = post_keyed(&app, "/products", "key-1", p.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_body = first.text().await.unwrap();
    // Same JSON, different key order and spacing: the same request.
    let again = post_keyed(
        &app,
        "/products",
        "key-1",
        json!({"unit": "pcs", "name": "K", "id": "k"}),
    )
    .await;
    assert_eq!(
        again.status(),
        StatusCode::CREATED,
        "replayed, not a 409 duplicate"
    );
    assert_eq!(again.headers()["location"], "/products/k");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.text().await.unwrap(), first_body);
    assert_eq!(app.get("/products").await.1.as_array().unwrap().len(), 1);

    let other = post_keyed(
        &app,
        "/products",
        "key-1",
        json!({"id": "k2", "name": "K", "unit": "pcs"}),
    )
    .await;
    let (s, b) = body(other).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["code"], "idempotency_key_reused");
    assert_eq!(app.get("/products/k2").await.0, StatusCode::NOT_FOUND);

    let scoped = post_keyed(
        &app,
        "/stores",
        "key-1",
        json!({"id": "s", "name": "S", "manager": "M"}),
    )
    .await;
    assert_eq!(
        scoped.status(),
        StatusCode::CREATED,
        "keys are scoped by route"
    );
}

#[tokio::test]
async fn final_client_errors_are_remembered_too() {
    let app = spawn_app().await;
    let bad = json!({"id": "x y", "name": "K", "unit": "pcs"});
    let (s1, b1) = body(post_keyed(&app, "/products", "k-bad", bad.clone()).await).await;
    let r2 = post_keyed(&app, "/products", "k-bad", bad).await;
    assert_eq!(r2.headers()["idempotent-replayed"], "true");
    let (s2, b2) = body(r2).await;
    assert_eq!(s1, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!((s1, &b1), (s2, &b2));
    let r = app
        .client
        .post(format!("{}/products", app.base))
        .header("Idempotency-Key", "")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(body(r).await.1["error"]["code"], "invalid_idempotency_key");
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_once() {
    let app = spawn_app().await;
    let p = json!({"id": "race", "name": "R", "unit": "pcs"});
    let attempts = futures::future::join_all(
        (0..12).map(|_| post_keyed(&app, "/products", "race-key", p.clone())),
    )
    .await;
    let statuses: Vec<_> = attempts.iter().map(|r| r.status()).collect();
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    for r in attempts {
        if r.status() == StatusCode::CONFLICT {
            assert_eq!(r.headers()["retry-after"], "1");
            assert_eq!(body(r).await.1["error"]["code"], "request_in_progress");
        }
    }
    assert_eq!(app.get("/products").await.1.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn health_routes_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/health/live").await.0, StatusCode::OK);
    let (s, b) = app.get("/health/ready").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["checks"]["consumer"]["status"], "up");
    assert_eq!(b["checks"]["bus"]["status"], "up");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_events_by_queue() {
    let app = spawn_app().await;
    app.product("metric-p1").await;
    assert_eq!(app.get("/products/metric-p1").await.0, StatusCode::OK);
    assert_eq!(
        app.get("/products/metric-nope").await.0,
        StatusCode::NOT_FOUND
    );
    app.publish(&crate::helpers::purchase(
        "main",
        vec![crate::helpers::line("metric-p1", 1)],
    ))
    .await;
    app.wait_on_hand("main", "metric-p1", 1).await;
    let r = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("http_request_duration_seconds_bucket")
                && l.contains(r#"route="/products/{id}""#)
                && l.contains(r#"status="404""#)),
        "latency histogram by route template:\n{text}"
    );
    assert!(!text.contains("metric-p1"), "raw paths never become labels");
    assert!(
        text.contains(r#"erp_events_consumed_total{queue="inventory.stock"}"#),
        "{text}"
    );
    // The test's own publish went through the bus: counted by event type.
    assert!(
        text.contains(r#"erp_events_published_total{event_type="purchase.completed"}"#),
        "{text}"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_taken_from_traceparent_or_minted() {
    let app = spawn_app().await;
    let url = format!("{}/stores", app.base);
    let r = app
        .client
        .get(&url)
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-123");
    let r = app
        .client
        .get(&url)
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["x-request-id"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    let r = app.client.get(&url).send().await.unwrap();
    let minted = r.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(minted.len(), 36, "a UUID: {minted}");
}
