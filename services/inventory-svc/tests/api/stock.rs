use reqwest::StatusCode;
use serde_json::json;

use erp_bus::memory::{Faults, MemoryBus};

use crate::helpers::{line, purchase, sale, spawn_app, spawn_app_on};

#[tokio::test]
async fn purchases_add_and_sales_remove_stock_with_a_ledger() {
    let app = spawn_app().await;
    app.product("a").await;
    assert_eq!(
        app.on_hand("main", "a").await,
        0,
        "known product, no movement → 0"
    );
    let bought = purchase("main", vec![line("a", 10)]);
    app.publish(&bought).await;
    app.wait_on_hand("main", "a", 10).await;
    let sold = sale("main", vec![line("a", 4)]);
    app.publish(&sold).await;
    app.wait_on_hand("main", "a", 6).await;

    let (s, newest_first) = app.get("/stock/main/a/movements").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(newest_first[0]["event_id"], json!(sold.id), "newest first");
    let (_, moves) = app.get("/stock/main/a/movements?order=asc").await;
    let moves = moves.as_array().unwrap();
    assert_eq!(moves.len(), 2);
    assert_eq!(moves[0]["event_id"], json!(bought.id));
    assert_eq!(moves[0]["kind"], "purchase");
    assert_eq!(moves[0]["delta"], 10);
    assert_eq!(moves[0]["source_id"], bought.data["purchase_id"]);
    assert_eq!(moves[1]["kind"], "sale");
    assert_eq!(moves[1]["delta"], -4);
    let sum: i64 = moves.iter().map(|m| m["delta"].as_i64().unwrap()).sum();
    assert_eq!(sum, 6, "on_hand = Σ ledger deltas");

    let (_, rows) = app.get("/stock").await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["store_id"], "main");
    assert_eq!(rows[0]["product_id"], "a");
    assert_eq!(rows[0]["on_hand"], 6);
    assert!(rows[0]["updated_at"].is_string());

    // Nobody listens to stock.changed here: counted, not an error.
    app.settled().await;
    let (_, metrics) = app.get("/metrics").await;
    let metrics = metrics.as_str().unwrap_or_default();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("erp_events_unroutable_total{routing_key=\"stock.changed\"}")),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_redelivered_event_moves_stock_once() {
    let app = spawn_app().await;
    app.product("a").await;
    let bought = purchase("main", vec![line("a", 3)]);
    app.publish(&bought).await;
    app.publish(&bought).await;
    app.publish(&purchase("main", vec![line("a", 1)])).await;
    app.wait_on_hand("main", "a", 4).await;
    app.settled().await;
    assert_eq!(app.on_hand("main", "a").await, 4);
    assert_eq!(
        app.get("/stock/main/a/movements")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_sale_beyond_stock_is_applied_and_the_row_goes_negative() {
    let app = spawn_app().await;
    app.product("a").await;
    app.publish(&sale("main", vec![line("a", 2)])).await;
    app.wait_on_hand("main", "a", -2).await;
    let (_, rows) = app.get("/stock?product_id=a").await;
    assert_eq!(rows[0]["oversold"], true);
}

#[tokio::test]
async fn undeliverable_events_are_dead_lettered_and_change_nothing() {
    let app = spawn_app().await;
    app.product("a").await;
    // One known and one unknown product: all lines or none.
    app.publish(&purchase("main", vec![line("a", 5), line("ghost", 1)]))
        .await;
    app.publish(&purchase("nowhere", vec![line("a", 5)])).await;
    let mut v2 = purchase("main", vec![line("a", 5)]);
    v2.version = 2;
    app.publish(&v2).await;
    app.publish_bytes("purchase.completed", b"{not json").await;
    let mut reasons = app.dead_letter_reasons(4).await;
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "malformed_message",
            "unknown_product",
            "unknown_store",
            "unsupported_version"
        ]
    );
    assert_eq!(app.on_hand("main", "a").await, 0);
    assert_eq!(
        app.get("/health/ready").await.0,
        StatusCode::OK,
        "still ready"
    );
    // And the consumer still works.
    app.publish(&purchase("main", vec![line("a", 1)])).await;
    app.wait_on_hand("main", "a", 1).await;
}

#[tokio::test]
async fn stock_urls_with_unknown_ids_are_404_and_bad_filters_400() {
    let app = spawn_app().await;
    app.product("a").await;
    for path in [
        "/stock/main/nope",
        "/stock/nope/a",
        "/stock/main/nope/movements",
        "/stock/nope/a/movements",
    ] {
        let (s, b) = app.get(path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(b["error"]["code"], "not_found");
    }
    let (_, b) = app.get("/stock/nope/a").await;
    assert_eq!(b["error"]["details"][0]["field"], "store_id");
    let (s, b) = app.get("/stock?store_id=bad%20id").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["error"]["details"][0]["field"], "store_id");
}

#[tokio::test]
async fn stock_lists_filter_by_store_and_product() {
    let app = spawn_app().await;
    app.product("a").await;
    app.product("b").await;
    app.store("north", None).await;
    app.publish(&purchase("main", vec![line("a", 1), line("b", 2)]))
        .await;
    app.publish(&purchase("north", vec![line("a", 3)])).await;
    app.wait_on_hand("north", "a", 3).await;
    app.wait_on_hand("main", "b", 2).await;
    assert_eq!(app.get("/stock").await.1.as_array().unwrap().len(), 3);
    assert_eq!(
        app.get("/stock?store_id=main")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (_, rows) = app.get("/stock?store_id=north&product_id=a").await;
    assert_eq!(
        rows,
        json!([{"store_id": "north", "product_id": "a", "on_hand": 3, "oversold": false, "updated_at": rows[0]["updated_at"]}])
    );
}

#[tokio::test]
async fn duplicates_redeliveries_and_reordering_still_move_stock_exactly_once() {
    let bus = MemoryBus::with_faults(Faults {
        seed: 7,
        duplicate: 0.3,
        redeliver: 0.3,
        reorder: 0.3,
        nack: 0.0,
    });
    let app = spawn_app_on(bus).await;
    app.product("a").await;
    let mut expected = 0;
    for i in 1..=30 {
        let event = if i % 3 == 0 {
            expected -= 1;
            sale("main", vec![line("a", 1)])
        } else {
            expected += i;
            purchase("main", vec![line("a", i)])
        };
        app.publish(&event).await;
    }
    app.wait_on_hand("main", "a", expected).await;
    app.settled().await;
    assert_eq!(app.on_hand("main", "a").await, expected);
    let moves = app.get("/stock/main/a/movements").await.1;
    assert_eq!(
        moves.as_array().unwrap().len(),
        30,
        "one ledger row per event"
    );
}

type Deliveries = tokio::sync::mpsc::UnboundedReceiver<erp_bus::Delivery>;

async fn listen_for_stock_changes(bus: &MemoryBus) -> Deliveries {
    use erp_bus::EventBus;
    let (recorder, deliveries) = erp_bus::Recorder::acking();
    let subscription = erp_bus::Subscription::new("test.stock-changed", &["stock.changed"]);
    let handle = bus.subscribe(subscription, recorder).await.unwrap();
    std::mem::forget(handle); // listens for the rest of the test
    deliveries
}

async fn next(deliveries: &mut Deliveries) -> erp_core::RawEnvelope {
    let delivery = tokio::time::timeout(std::time::Duration::from_secs(5), deliveries.recv())
        .await
        .expect("a stock.changed within 5 s")
        .unwrap();
    erp_core::RawEnvelope::decode(&delivery.body).unwrap()
}

#[tokio::test]
async fn each_applied_line_is_announced_as_stock_changed_with_the_level_after_it() {
    let bus = MemoryBus::new();
    let mut changes = listen_for_stock_changes(&bus).await;
    let app = spawn_app_on(bus).await;
    app.product("a").await;
    app.product("b").await;
    let bought = purchase("main", vec![line("a", 5), line("b", 2)]);
    app.publish(&bought).await;
    let mut got = [next(&mut changes).await, next(&mut changes).await];
    got.sort_by_key(|e| e.data["product_id"].as_str().unwrap().to_owned());
    for (event, (product, delta)) in got.iter().zip([("a", 5), ("b", 2)]) {
        assert_eq!(event.event_type, "stock.changed");
        assert_eq!(event.source, "inventory-svc");
        assert_eq!(event.correlation_id, bought.correlation_id);
        assert_eq!(event.causation_id, bought.id.to_string());
        assert_eq!(event.data["store_id"], "main");
        assert_eq!(event.data["product_id"], product);
        assert_eq!(event.data["delta"], delta);
        assert_eq!(event.data["on_hand"], delta);
        assert_eq!(event.data["cause_event_id"], json!(bought.id));
    }
    assert_ne!(got[0].id, got[1].id);

    app.publish(&sale("main", vec![line("a", 7)])).await;
    let sold = next(&mut changes).await;
    assert_eq!(
        (sold.data["delta"].as_i64(), sold.data["on_hand"].as_i64()),
        (Some(-7), Some(-2))
    );
}

#[tokio::test]
async fn a_redelivered_event_announces_again_under_the_same_ids() {
    let bus = MemoryBus::new();
    let mut changes = listen_for_stock_changes(&bus).await;
    let app = spawn_app_on(bus).await;
    app.product("a").await;
    let bought = purchase("main", vec![line("a", 3)]);
    app.publish(&bought).await;
    let first = next(&mut changes).await;
    app.publish(&bought).await;
    let again = next(&mut changes).await;
    assert_eq!(
        first.id, again.id,
        "consumers of stock.changed can deduplicate"
    );
    assert_eq!(app.on_hand("main", "a").await, 3);
}

#[tokio::test]
async fn a_refused_stock_changed_publish_retries_the_event_and_loses_nothing() {
    use erp_bus::{EventBus, OutgoingMessage};
    let bus = MemoryBus::with_faults(Faults {
        seed: 11,
        duplicate: 0.0,
        redeliver: 0.0,
        reorder: 0.0,
        nack: 0.3,
    });
    let mut changes = listen_for_stock_changes(&bus).await;
    let app = spawn_app_on(bus.clone()).await;
    app.product("a").await;
    let mut expected = std::collections::HashSet::new();
    for _ in 0..10 {
        let event = purchase("main", vec![line("a", 1)]);
        expected.insert(event.id);
        // The test's own publish meets the same nacks: retry it.
        while bus
            .publish(OutgoingMessage::from_envelope(&event))
            .await
            .is_err()
        {}
    }
    let mut announced = std::collections::HashSet::new();
    while announced.len() < expected.len() {
        let change = next(&mut changes).await;
        announced.insert(erp_core::EventId::parse(change.causation_id.as_str()).unwrap());
    }
    assert_eq!(announced, expected, "every event announced");
    app.wait_on_hand("main", "a", 10).await;
}

#[tokio::test]
async fn a_dead_lettered_sale_applies_once_its_product_exists_and_it_is_redriven() {
    let app = spawn_app().await;
    let redrive = "/admin/dead-letters/inventory.stock/redrive";
    let sold = sale("main", vec![line("late", 2)]);
    app.publish(&sold).await;
    // Proof it sits in the dead-letter queue: a redrive moves it (and, the
    // product still unknown, it is dead-lettered again).
    let mut seen_dead = false;
    for _ in 0..100 {
        let (s, b) = app.admin(redrive).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["queue"], "inventory.stock");
        if b["redriven"] == 1 {
            seen_dead = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        seen_dead,
        "the sale of an unknown product was dead-lettered"
    );
    let moves = app.get("/stock").await.1;
    assert!(
        moves
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["product_id"] != "late"),
        "nothing moved yet: {moves}"
    );

    app.product("late").await;
    for _ in 0..100 {
        if app.on_hand("main", "late").await == -2 {
            break;
        }
        app.admin(redrive).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.on_hand("main", "late").await, -2, "the sale applied");
    let moves = app.get("/stock/main/late/movements").await.1;
    assert_eq!(moves.as_array().unwrap().len(), 1, "once");
    assert_eq!(moves[0]["event_id"], json!(sold.id));
    let (_, b) = app.admin(redrive).await;
    assert_eq!(b["redriven"], 0, "nothing left dead");
}

#[tokio::test]
async fn redrive_knows_only_its_own_queues_and_checks_max() {
    let app = spawn_app().await;
    let (s, b) = app.admin("/admin/dead-letters/sales.other/redrive").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    for bad in ["0", "x", "10001"] {
        let (s, b) = app
            .admin(&format!(
                "/admin/dead-letters/inventory.stock/redrive?max={bad}"
            ))
            .await;
        assert_eq!(
            (s, b["error"]["details"][0]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("max")),
            "max={bad}"
        );
    }
    let (s, b) = app
        .admin("/admin/dead-letters/inventory.stock/redrive?max=5")
        .await;
    assert_eq!((s, b["redriven"].as_u64()), (StatusCode::OK, Some(0)));
}
