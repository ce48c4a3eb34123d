//! Scale-out (design §3): two instances of each service on one RabbitMQ and
//! one database server, sharing each service's database; inventory's two
//! instances compete for `inventory.stock`. Concurrent purchases and sales
//! go to either instance, some with one Idempotency-Key sent to both at
//! once, as a client retrying through a load balancer would. Afterwards
//! every key created once, and both inventories show exactly Σ purchased −
//! Σ sold per product, with one movement per purchase or sale.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use erp_bus::{
    EventBus,
    rabbitmq::{RabbitBus, RabbitConfig, testing as rabbit},
};
use erp_examples::{Options, Ports, System};
use erp_store::mongo::testing as mongo;
use serde_json::{Value, json};

const PRODUCTS: [&str; 3] = ["a", "b", "c"];

async fn start_instance(prefix: &str) -> System {
    let uri = mongo::uri();
    System::start_with_options(
        Ports::ephemeral(),
        || Arc::new(RabbitBus::start(RabbitConfig::new(rabbit::url()))) as Arc<dyn EventBus>,
        &Options {
            mongodb: Some((&uri, prefix)),
            ..Options::default()
        },
    )
    .await
    .expect("an instance starts")
}

/// POSTs until the answer is final (a concurrent duplicate of the key
/// answers 409 `request_in_progress` while the first is in flight).
async fn post_final(c: &reqwest::Client, url: &str, key: &str, body: &Value) -> (u16, Value) {
    for _ in 0..50 {
        let r = c
            .post(url)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if status == 409 && body["error"]["code"] == "request_in_progress" {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        return (status, body);
    }
    panic!("{url}: key {key} stayed in use");
}

fn lines(product: &str, quantity: i64) -> Value {
    json!({"lines": [{"product_id": product, "quantity": quantity, "unit_price": 10}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_of_each_service_create_once_and_conserve_stock() {
    let prefix = format!("scale_{}", erp_core::EventId::new().as_uuid().simple());
    let one = start_instance(&prefix).await;
    let two = start_instance(&prefix).await;
    let c = reqwest::Client::new();
    for p in PRODUCTS {
        let r = c
            .post(format!("http://{}/products", one.ports.inventory))
            .json(&json!({"id": p, "name": p, "unit": "pcs"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }

    // 30 purchases: each key goes to one instance, every third to both at once.
    let purchases = (0..30).map(|i| {
        let c = c.clone();
        let product = PRODUCTS[i % 3];
        let quantity = 10 + i as i64;
        let key = format!("{prefix}-buy-{i}");
        let (a, b) = (one.ports.purchase, two.ports.purchase);
        async move {
            let body = lines(product, quantity);
            let first = format!("http://{}/purchases", if i % 2 == 0 { a } else { b });
            if i % 3 == 0 {
                let second = format!("http://{}/purchases", if i % 2 == 0 { b } else { a });
                let (x, y) = tokio::join!(
                    post_final(&c, &first, &key, &body),
                    post_final(&c, &second, &key, &body)
                );
                assert_eq!((x.0, y.0), (201, 201), "{x:?} {y:?}");
                assert_eq!(x.1["id"], y.1["id"], "one key, one purchase");
                (product, quantity, x.1["id"].clone())
            } else {
                let (s, created) = post_final(&c, &first, &key, &body).await;
                assert_eq!(s, 201, "{created}");
                (product, quantity, created["id"].clone())
            }
        }
    });
    let bought = futures::future::join_all(purchases).await;
    let mut expected: BTreeMap<&str, i64> = BTreeMap::new();
    let mut ids = std::collections::HashSet::new();
    for (product, quantity, id) in &bought {
        *expected.entry(product).or_default() += quantity;
        assert!(ids.insert(id.to_string()), "purchase {id} answered twice");
    }

    // Each product's whole purchase must be visible to both inventories
    // before sales check stock (either instance may answer the check).
    for system in [&one, &two] {
        for (product, want) in &expected {
            wait_on_hand(&c, system.ports.inventory, product, *want).await;
        }
    }

    // 12 sales of 1–3 units through either instance, same-key pairs too.
    let sales = (0..12).map(|i| {
        let c = c.clone();
        let product = PRODUCTS[i % 3];
        let quantity = 1 + (i % 3) as i64;
        let key = format!("{prefix}-sell-{i}");
        let (a, b) = (one.ports.sales, two.ports.sales);
        async move {
            let body = lines(product, quantity);
            let (first, second) = (format!("http://{a}/sales"), format!("http://{b}/sales"));
            let (x, y) = tokio::join!(post_final(&c, &first, &key, &body), async {
                if i % 2 == 0 {
                    Some(post_final(&c, &second, &key, &body).await)
                } else {
                    None
                }
            });
            assert_eq!(x.0, 201, "{x:?}");
            if let Some(y) = y {
                assert_eq!(y.0, 201, "{y:?}");
                assert_eq!(x.1["id"], y.1["id"], "one key, one sale");
            }
            (product, quantity)
        }
    });
    let mut movements: BTreeMap<&str, usize> = BTreeMap::new();
    for (product, _, _) in &bought {
        *movements.entry(product).or_default() += 1;
    }
    for (product, quantity) in futures::future::join_all(sales).await {
        *expected.entry(product).or_default() -= quantity;
        *movements.entry(product).or_default() += 1;
    }

    for system in [&one, &two] {
        for (product, want) in &expected {
            wait_on_hand(&c, system.ports.inventory, product, *want).await;
        }
    }
    for (product, count) in &movements {
        let url = format!(
            "http://{}/stock/main/{product}/movements",
            two.ports.inventory
        );
        let moves: Value = c.get(url).send().await.unwrap().json().await.unwrap();
        assert_eq!(
            moves.as_array().map(Vec::len),
            Some(*count),
            "one movement per purchase or sale of {product}"
        );
        let sum: i64 = moves
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["delta"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, expected[product], "conservation for {product}");
    }
    let listed: Value = c
        .get(format!(
            "http://{}/purchases?page_size=500",
            two.ports.purchase
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total_items"], 30, "one purchase per key");
    one.stop().await.unwrap();
    two.stop().await.unwrap();
    for service in ["inventory", "purchase", "sales"] {
        let db =
            erp_store::mongo::MongoStore::connect(&mongo::uri(), &format!("{prefix}_{service}"))
                .await
                .unwrap();
        db.drop_database().await.unwrap();
    }
}

async fn wait_on_hand(
    c: &reqwest::Client,
    inventory: std::net::SocketAddr,
    product: &str,
    want: i64,
) {
    let url = format!("http://{inventory}/stock/main/{product}");
    let mut last = Value::Null;
    for _ in 0..300 {
        last = c.get(&url).send().await.unwrap().json().await.unwrap();
        if last["on_hand"] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{product} on {inventory}: want {want}, last {last}");
}
