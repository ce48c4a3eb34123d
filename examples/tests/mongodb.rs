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
