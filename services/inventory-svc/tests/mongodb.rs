//! inventory-svc on a real MongoDB-compatible server (the test server of
//! `scripts/mongodb.sh`): crash points of the ledger, and the binary keeping
//! its data across SIGKILL in its own database. Fails, never skips, when the
//! servers cannot be reached.
#![cfg(all(feature = "mongodb", feature = "rabbitmq"))]

use erp_bus::rabbitmq::testing as rabbit;
use erp_store::mongo::testing as mongo;
mod common;

use std::time::Duration;

use common::{Service, free_ports, on_test_servers, purchase_message};

use erp_bus::EventBus;
use erp_core::{EventId, ProductId, StoreId, Timestamp};
use erp_store::Order;
use inventory_svc::{
    stock::{Applied, Movement, MovementKind, StockLedger, Window},
    stock_mongo::MongoStockLedger,
};
use serde_json::{Value, json};

/// Tests that run inventory consumers on the shared `inventory.stock` queue
/// take turns: a consumer of one test would take (and dead-letter, not
/// knowing its products) the other test's events.
static SHARED_QUEUE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn movement(lines: &[(&str, i64)]) -> Movement {
    Movement {
        event_id: EventId::new(),
        kind: MovementKind::Purchase,
        source_id: "p-1".into(),
        store_id: StoreId::main(),
        at: Timestamp::now(),
        deltas: lines
            .iter()
            .map(|(p, d)| (ProductId::parse(p).unwrap(), *d))
            .collect(),
    }
}

async fn get_json(c: &reqwest::Client, url: &str) -> Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

async fn on_hand(ledger: &MongoStockLedger, product: &str) -> i64 {
    ledger
        .level(&StoreId::main(), &ProductId::parse(product).unwrap())
        .await
        .unwrap()
        .map_or(0, |l| l.on_hand)
}

#[tokio::test]
async fn a_crash_after_any_write_then_a_replay_moves_stock_exactly_once() {
    let m = movement(&[("a", 5), ("b", 2), ("c", 1)]);
    // Crash in place of each write of the apply in turn.
    for crash_at in 1..=MongoStockLedger::writes_to_apply(&m) {
        let db = mongo::fresh_database("inv_test").await;
        let ledger = MongoStockLedger::new(db.database()).await.unwrap();
        let crashing = ledger.clone().crashing_at_write(crash_at);
        assert!(
            crashing.apply(&m).await.is_err(),
            "crash at write {crash_at}"
        );
        // The broker redelivers: a fresh process applies the same event. It
        // moved stock unless the crash came after the movement was settled.
        let replay = ledger.apply(&m).await.unwrap();
        let settled_before = crash_at == MongoStockLedger::writes_to_apply(&m);
        assert_eq!(
            replay,
            if settled_before {
                Applied::AlreadyApplied
            } else {
                Applied::Moved
            },
            "crash at {crash_at}"
        );
        assert_eq!(ledger.apply(&m).await.unwrap(), Applied::AlreadyApplied);
        for (p, want) in [("a", 5), ("b", 2), ("c", 1)] {
            assert_eq!(
                on_hand(&ledger, p).await,
                want,
                "{p} after a crash at write {crash_at}"
            );
            let moves = ledger
                .movements(
                    &StoreId::main(),
                    &ProductId::parse(p).unwrap(),
                    Window::all(Order::Asc),
                )
                .await
                .unwrap();
            assert_eq!(moves.len(), 1, "one ledger row for {p}");
            assert_eq!(moves[0].delta, want);
        }
        assert_eq!(ledger.total_units(&StoreId::main()).await.unwrap(), 8);
        db.drop_database().await.unwrap();
    }
}

#[tokio::test]
async fn concurrent_events_on_one_pair_all_count() {
    let db = mongo::fresh_database("inv_test").await;
    // Two "instances" racing on the same level.
    let one = MongoStockLedger::new(db.database()).await.unwrap();
    let two = MongoStockLedger::new(db.database()).await.unwrap();
    let events: Vec<_> = (1..=20).map(|q| movement(&[("hot", q)])).collect();
    let results = futures::future::join_all(events.iter().enumerate().map(|(i, m)| {
        let ledger = if i % 2 == 0 { &one } else { &two };
        ledger.apply(m)
    }))
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(on_hand(&one, "hot").await, 210);
    assert_eq!(on_hand(&two, "hot").await, 210);
    let levels = one
        .levels(Some(&StoreId::main()), None, Window::all(Order::Asc))
        .await
        .unwrap();
    assert_eq!(levels.len(), 1);
    assert_eq!(levels[0].on_hand, 210);
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn levels_and_movements_are_ordered_and_paged_by_the_database() {
    let db = mongo::fresh_database("inv_test").await;
    let ledger = MongoStockLedger::new(db.database()).await.unwrap();
    let mut events = Vec::new();
    for q in 1..=4 {
        let mut m = movement(&[("a", q), (["b", "c", "d", "e"][q as usize - 1], 1)]);
        m.at = Timestamp::parse(&format!("2026-01-0{q}T00:00:00Z")).unwrap();
        ledger.apply(&m).await.unwrap();
        events.push(m.event_id);
    }
    let main = StoreId::main();
    let a = ProductId::parse("a").unwrap();
    let window = |order, skip, limit| Window { order, skip, limit };
    let moved = |w| {
        let ledger = &ledger;
        let (main, a) = (&main, &a);
        async move {
            let ids: Vec<EventId> = ledger
                .movements(main, a, w)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.event_id)
                .collect();
            ids
        }
    };
    assert_eq!(moved(Window::all(Order::Asc)).await, events);
    let newest_first: Vec<_> = events.iter().rev().copied().collect();
    assert_eq!(moved(Window::all(Order::Desc)).await, newest_first);
    assert_eq!(
        moved(window(Order::Desc, 1, Some(2))).await,
        newest_first[1..3]
    );
    let products = |levels: Vec<inventory_svc::stock::StockLevel>| {
        levels
            .into_iter()
            .map(|l| l.product_id.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        products(
            ledger
                .levels(Some(&main), None, window(Order::Desc, 0, Some(3)))
                .await
                .unwrap()
        ),
        ["e", "d", "c"]
    );
    assert_eq!(
        products(
            ledger
                .levels(None, None, window(Order::Asc, 3, Some(3)))
                .await
                .unwrap()
        ),
        ["d", "e"]
    );
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn levels_of_reads_only_the_named_products_that_moved() {
    let db = mongo::fresh_database("inv_test").await;
    let ledger = MongoStockLedger::new(db.database()).await.unwrap();
    ledger
        .apply(&movement(&[("a", 5), ("b", 2), ("c", 1)]))
        .await
        .unwrap();
    ledger.apply(&movement(&[("a", -1)])).await.unwrap();
    let ids = ["a", "c", "never"].map(|p| ProductId::parse(p).unwrap());
    let got: Vec<_> = ledger
        .levels_of(&StoreId::main(), &ids)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.product_id.to_string(), l.on_hand))
        .collect();
    assert_eq!(got, [("a".to_owned(), 4), ("c".to_owned(), 1)]);
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_count_once_and_leave_no_pending_guard() {
    let db = mongo::fresh_database("inv_test").await;
    let ledger = MongoStockLedger::new(db.database()).await.unwrap();
    // Rounds of one event applied by 12 racing appliers at once: whoever
    // joins late must not count a line the others have settled.
    for round in 1..=15 {
        let m = movement(&[("a", 3), ("b", 1), ("c", 2)]);
        let results = futures::future::join_all((0..12).map(|_| {
            let ledger = ledger.clone();
            let m = m.clone();
            tokio::spawn(async move { ledger.apply(&m).await })
        }))
        .await;
        assert!(
            results.iter().all(|r| matches!(r, Ok(Ok(_)))),
            "{results:?}"
        );
        for (p, per_round) in [("a", 3), ("b", 1), ("c", 2)] {
            assert_eq!(
                on_hand(&ledger, p).await,
                per_round * round,
                "{p}, round {round}"
            );
        }
    }
    let levels = db
        .database()
        .collection::<mongodb::bson::Document>("stock_levels");
    let mut cursor = levels.find(mongodb::bson::doc! {}).await.unwrap();
    while let Some(level) = futures::TryStreamExt::try_next(&mut cursor).await.unwrap() {
        assert!(
            level.get_array("pending").unwrap().is_empty(),
            "settled events stay in a pending guard: {level}"
        );
    }
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_keeps_products_stock_and_ledger_across_sigkill_in_its_own_database() {
    let _turn = SHARED_QUEUE.lock().await;
    let db = mongo::fresh_database("inv_test").await;
    let name = db.name().to_owned();
    let [http, grpc] = free_ports();
    let bus = rabbit::connect().await;

    let args = on_test_servers(&name, &[]);
    let mut service = Service::start(&args, http, grpc);
    service
        .wait("ready", "/health/ready", |s, _| s == 200)
        .await;
    let product = format!("kill-{}", EventId::new().as_uuid().simple());
    let r = service
        .post(
            "/products",
            &json!({"id": product, "name": "K", "unit": "pcs"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    bus.publish(purchase_message(&product, 6)).await.unwrap();
    let stock = format!("/stock/main/{product}");
    service
        .wait("stock 6", &stock, |s, b| s == 200 && b["on_hand"] == 6)
        .await;

    service.child.kill().unwrap(); // SIGKILL: no graceful shutdown
    service.child.wait().unwrap();
    drop(service);
    let service = Service::start(&args, http, grpc);
    service
        .wait("ready after restart", "/health/ready", |s, _| s == 200)
        .await;
    let (s, p) = service.get(&format!("/products/{product}")).await.unwrap();
    assert_eq!((s, p["name"].as_str()), (200, Some("K")));
    service
        .wait("stock kept", &stock, |s, b| s == 200 && b["on_hand"] == 6)
        .await;
    let (_, moves) = service.get(&format!("{stock}/movements")).await.unwrap();
    assert_eq!(moves.as_array().unwrap().len(), 1);

    let mut collections = db.database().list_collection_names().await.unwrap();
    collections.sort();
    for expected in [
        "product_views",
        "products",
        "stock_movements",
        "store_views",
        "stores",
    ] {
        assert!(
            collections.iter().any(|c| c == expected),
            "{expected} not in {name}: {collections:?}"
        );
    }
    drop(service);
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_queue_and_one_database_apply_each_event_once() {
    let _turn = SHARED_QUEUE.lock().await;
    use std::sync::Arc;

    use inventory_svc::{config::Config, startup::Application};

    let db = mongo::fresh_database("inv_test").await;
    let bus = rabbit::connect().await;
    let mut bases = Vec::new();
    for _ in 0..2 {
        let any = "127.0.0.1:0".parse().unwrap();
        let mut config = Config::in_memory(any, any);
        config.common.store = erp_service::config::StoreKind::Mongodb;
        config.common.mongodb_uri = mongo::uri();
        config.database = db.name().to_owned();
        let instance_bus = rabbit::connect().await;
        let app = Application::build(&config, Arc::new(instance_bus))
            .await
            .unwrap();
        bases.push(format!("http://{}", app.http_addr()));
        tokio::spawn(app.run_until_stopped(std::future::pending()));
    }
    let c = reqwest::Client::new();
    let product = format!("twin-{}", EventId::new().as_uuid().simple());
    let r = c
        .post(format!("{}/products", bases[0]))
        .json(&json!({"id": product, "name": "T", "unit": "pcs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut expected = 0;
    for q in 1..=30 {
        expected += q;
        let message = purchase_message(&product, q);
        // Every event twice: a duplicate the two competing instances may
        // both receive at the same time.
        bus.publish_batch(vec![message.clone(), message])
            .await
            .into_iter()
            .for_each(|r| r.unwrap());
    }
    let stock = format!("/stock/main/{product}");
    let mut last = Value::Null;
    for _ in 0..300 {
        last = get_json(&c, &format!("{}{stock}", bases[1])).await;
        if last["on_hand"] == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if last["on_hand"] != expected {
        let moves = get_json(&c, &format!("{}{stock}/movements", bases[1])).await;
        let dead = bus
            .take_dead_letters("inventory.stock", 1000)
            .await
            .unwrap();
        let reasons: Vec<_> = dead.iter().map(|d| d.reason.clone()).collect();
        panic!(
            "on_hand {} != {expected}; {} movements; dead letters {reasons:?}",
            last["on_hand"],
            moves.as_array().map_or(0, Vec::len)
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for base in &bases {
        let b = get_json(&c, &format!("{base}{stock}")).await;
        assert_eq!(
            b["on_hand"], expected,
            "both instances read the one database"
        );
        let moves = get_json(&c, &format!("{base}{stock}/movements")).await;
        assert_eq!(
            moves.as_array().unwrap().len(),
            30,
            "one ledger row per event"
        );
    }
    db.drop_database().await.unwrap();
}
