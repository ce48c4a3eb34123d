//! The three services on a real MongoDB-compatible server (the test server of
//! `scripts/mongodb.sh`), each in its own database: the demo scenario,
//! list queries, the summary and read-model rebuilds, over HTTP only.

use erp_store::mongo::testing as mongo;
use std::sync::Arc;

use erp_bus::{EventBus, memory::MemoryBus};
use erp_examples::{Ports, System, demo};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_works_end_to_end_on_mongodb() {
    let prefix = format!("sys_{}", erp_core::EventId::new().as_uuid().simple());
    let probe = erp_store::mongo::MongoStore::connect(&mongo::uri(), &format!("{prefix}_purchase"))
        .await
        .unwrap();
    assert!(
        probe.ping().await,
        "no MongoDB-compatible server; run scripts/mongodb.sh"
    );
    let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
    let uri = mongo::uri();
    let options = erp_examples::Options {
        mongodb: Some((&uri, &prefix)),
        admin_token: Some("admin-T".into()),
        ..Default::default()
    };
    let system = System::start_with_options(Ports::ephemeral(), || bus.clone(), &options)
        .await
        .unwrap();
    let p = system.ports;

    let rows = demo::run(p, None).await.expect("the demo runs on MongoDB");
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.product_id.as_str(), r.on_hand))
        .collect();
    assert_eq!(got, [("gadget", 5), ("widget", 7)]);

    let c = reqwest::Client::new();
    let get = |url: String| {
        let c = c.clone();
        async move {
            c.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let purchases = get(format!(
        "http://{}/purchases?sort=total&order=asc&product_id=widget",
        p.purchase
    ))
    .await;
    assert_eq!(purchases["total_items"], 1);
    assert_eq!(purchases["items"][0]["supplier"], "ACME");
    assert_eq!(purchases["items"][0]["lines"][0]["line_total"], 2500);
    let summary = get(format!(
        "http://{}/sales/summary?product_id=widget",
        p.sales
    ))
    .await;
    assert_eq!(
        summary,
        json!({"product_id": "widget", "quantity": 3, "amount": 1200, "sales_count": 1})
    );

    let before = get(format!("http://{}/purchases", p.purchase)).await;
    for base in [p.purchase, p.sales, p.inventory] {
        let r = c
            .post(format!("http://{base}/admin/rebuild-read-models"))
            .bearer_auth("admin-T")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        get(format!("http://{}/purchases", p.purchase)).await,
        before
    );
    assert_eq!(
        get(format!(
            "http://{}/sales/summary?product_id=widget",
            p.sales
        ))
        .await,
        summary
    );

    system.stop().await.unwrap();
    for name in ["purchase", "sales", "inventory"] {
        let db = erp_store::mongo::MongoStore::connect(&mongo::uri(), &format!("{prefix}_{name}"))
            .await
            .unwrap();
        let collections = db.database().list_collection_names().await.unwrap();
        assert!(
            !collections.is_empty(),
            "{name} stored its data in its own database"
        );
        db.drop_database().await.unwrap();
    }
}

async fn json_at(c: &reqwest::Client, url: String) -> Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

/// Waits until inventory at `base` shows `want` units of `bolt` in main.
async fn wait_for_bolts(c: &reqwest::Client, base: std::net::SocketAddr, want: i64) {
    let url = format!("http://{base}/stock/main/bolt");
    for _ in 0..100 {
        if json_at(c, url.clone()).await["on_hand"] == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("bolt never reached {want}: {}", json_at(c, url).await);
}

/// Sets the idempotency record of `key` on `POST /purchases` back to
/// unfinished, `age_ms` old: what a process leaves behind when it dies (or
/// its deadline passes) after its write and before storing its answer.
async fn unfinish_claim(db: &mongodb::Database, key: &str, age_ms: i64) {
    unfinish_claim_on(db, "/purchases", key, age_ms).await;
}

async fn unfinish_claim_on(db: &mongodb::Database, route: &str, key: &str, age_ms: i64) {
    use mongodb::bson::{Document, doc};
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - age_ms;
    let updated = db
        .collection::<Document>("idempotency")
        .update_one(
            doc! {"_id": format!("POST {route}\n{key}")},
            doc! {"$set": {"state": "in_progress", "since": since}, "$unset": {"response": ""}},
        )
        .await
        .unwrap();
    assert_eq!(updated.matched_count, 1, "the claim of {key} exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_retry_after_a_lost_answer_returns_the_first_purchase_and_never_a_second() {
    let prefix = format!("idem_{}", erp_core::EventId::new().as_uuid().simple());
    let uri = mongo::uri();
    let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
    let options = erp_examples::Options {
        mongodb: Some((&uri, &prefix)),
        ..Default::default()
    };
    let system = System::start_with_options(Ports::ephemeral(), || bus.clone(), &options)
        .await
        .unwrap();
    let p = system.ports;
    let c = reqwest::Client::new();
    let r = c
        .post(format!("http://{}/products", p.inventory))
        .json(&json!({"id": "bolt", "name": "Bolt", "unit": "pcs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let purchase = json!({"lines": [{"product_id": "bolt", "quantity": 2, "unit_price": 5}]});
    let post = |key: &'static str| {
        c.post(format!("http://{}/purchases", p.purchase))
            .header("Idempotency-Key", key)
            .json(&purchase)
            .send()
    };
    let purchases_db = erp_store::mongo::MongoStore::connect(&uri, &format!("{prefix}_purchase"))
        .await
        .unwrap();
    let db = purchases_db.database();

    let first = post("k-lost").await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();

    // Lost answer, claim still within its lease: the retry waits.
    unfinish_claim(db, "k-lost", 0).await;
    let r = post("k-lost").await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "request_in_progress");

    // Lost answer, lease lapsed: the retry runs again and finds the first.
    unfinish_claim(db, "k-lost", 10 * 60 * 1000).await;
    let r = post("k-lost").await.unwrap();
    assert_eq!(r.status(), 201);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again, first, "the first purchase, not a second");

    // Concurrent retries after a lapsed lease: still one purchase.
    unfinish_claim(db, "k-lost", 10 * 60 * 1000).await;
    let answers = futures::future::join_all((0..4).map(|_| post("k-lost"))).await;
    for a in answers {
        let a = a.unwrap();
        if a.status() == 201 {
            assert_eq!(a.json::<Value>().await.unwrap()["id"], first["id"]);
        } else {
            assert_eq!(a.status(), 409, "a concurrent retry waits");
        }
    }

    // A claim left before any write (the process died right after
    // claiming): the retry, once the lease lapses, records it afresh.
    {
        use mongodb::bson::{Document, doc};
        let body = serde_json::to_vec(&purchase).unwrap();
        db.collection::<Document>("idempotency")
            .insert_one(doc! {
                "_id": "POST /purchases\nk-fresh",
                "fingerprint": erp_service::idempotency::fingerprint(&body),
                "state": "in_progress",
                "since": 0_i64,
            })
            .await
            .unwrap();
    }
    let r = post("k-fresh").await.unwrap();
    assert_eq!(r.status(), 201);
    let list = json_at(&c, format!("http://{}/purchases", p.purchase)).await;
    assert_eq!(list["total_items"], 2, "one purchase per key: {list}");
    wait_for_bolts(&c, p.inventory, 4).await;

    // A sale that took all the stock, its answer lost and its lease lapsed:
    // the retry answers with that sale, not with `insufficient_stock`.
    let sale = json!({"lines": [{"product_id": "bolt", "quantity": 4, "unit_price": 9}]});
    let sell = || {
        c.post(format!("http://{}/sales", p.sales))
            .header("Idempotency-Key", "s-lost")
            .json(&sale)
            .send()
    };
    let first_sale = sell().await.unwrap();
    assert_eq!(first_sale.status(), 201);
    let first_sale: Value = first_sale.json().await.unwrap();
    let sales_db = erp_store::mongo::MongoStore::connect(&uri, &format!("{prefix}_sales"))
        .await
        .unwrap();
    wait_for_bolts(&c, p.inventory, 0).await;
    unfinish_claim_on(sales_db.database(), "/sales", "s-lost", 10 * 60 * 1000).await;
    let r = sell().await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap(), first_sale);

    system.stop().await.unwrap();
    for service in ["purchase", "sales", "inventory"] {
        erp_store::mongo::MongoStore::connect(&uri, &format!("{prefix}_{service}"))
            .await
            .unwrap()
            .drop_database()
            .await
            .unwrap();
    }
}
