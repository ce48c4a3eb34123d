//! The three services on a real RabbitMQ, each with its own connection as
//! separate processes would have. Invariants 1 and 6 of the design: a
//! purchase answered 201 while the broker is down still reaches inventory
//! once the broker is back; purchase stays ready (showing the broker down)
//! while inventory is not ready. One test: it stops the broker.

use erp_bus::rabbitmq::testing as rabbit;
use std::{sync::Arc, time::Duration};

use erp_bus::{
    EventBus,
    rabbitmq::{RabbitBus, RabbitConfig},
};
use erp_examples::{Ports, System};
use serde_json::{Value, json};

async fn get(c: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = c.get(url).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn wait_for(
    c: &reqwest::Client,
    what: &str,
    url: &str,
    secs: u64,
    ok: impl Fn(u16, &Value) -> bool,
) {
    for _ in 0..secs * 10 {
        let (s, b) = get(c, url).await;
        if ok(s, &b) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}: {:?}", get(c, url).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_accepted_while_the_broker_is_down_reaches_inventory_later() {
    let probe = rabbit::connect().await;
    probe.shutdown();
    let system = System::start_on(Ports::ephemeral(), || {
        Arc::new(RabbitBus::start(RabbitConfig::new(rabbit::url()))) as Arc<dyn EventBus>
    })
    .await
    .unwrap();
    let p = system.ports;
    let (purchase, inventory) = (
        format!("http://{}", p.purchase),
        format!("http://{}", p.inventory),
    );
    let c = reqwest::Client::new();
    wait_for(
        &c,
        "inventory ready",
        &format!("{inventory}/health/ready"),
        30,
        |s, _| s == 200,
    )
    .await;
    let product = format!("outbox-{}", erp_core::EventId::new().as_uuid().simple());
    let r = c
        .post(format!("{inventory}/products"))
        .json(&json!({"id": product, "name": "P", "unit": "pcs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    rabbit::rabbitmqctl(&["stop_app"]);
    wait_for(
        &c,
        "inventory not ready",
        &format!("{inventory}/health/ready"),
        20,
        |s, _| s == 503,
    )
    .await;
    wait_for(
        &c,
        "purchase to see the broker down",
        &format!("{purchase}/health/ready"),
        20,
        |s, b| s == 200 && b["checks"]["bus"]["status"] == "down",
    )
    .await;
    let r = c
        .post(format!("{purchase}/purchases"))
        .json(&json!({"lines": [{"product_id": product, "quantity": 4, "unit_price": 10}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        201,
        "purchases are accepted while the broker is down"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        get(&c, &format!("{inventory}/stock/main/{product}"))
            .await
            .1["on_hand"],
        0
    );

    rabbit::rabbitmqctl(&["start_app"]);
    wait_for(
        &c,
        "inventory ready again",
        &format!("{inventory}/health/ready"),
        60,
        |s, _| s == 200,
    )
    .await;
    wait_for(
        &c,
        "the purchase to reach inventory",
        &format!("{inventory}/stock/main/{product}"),
        30,
        |s, b| s == 200 && b["on_hand"] == 4,
    )
    .await;
    system.stop().await.unwrap();
}
