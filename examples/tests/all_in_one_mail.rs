//! The embedded notification-svc: with `Mail::Directory`, a purchase and a
//! sale made over HTTP each leave one mail in the directory; it shares the
//! system's admin token.

use std::time::{Duration, Instant};

use erp_examples::{Mail, Options, Ports, System};
use serde_json::json;

#[tokio::test]
async fn a_purchase_and_a_sale_each_leave_one_mail_in_the_directory() {
    let dir = std::env::temp_dir().join(format!("aio-mail-{}", erp_core::EventId::new()));
    let options = Options {
        mail: Mail::Directory(dir.clone(), vec!["ops@localhost".parse().unwrap()]),
        admin_token: Some("adm".into()),
        ..Options::default()
    };
    let bus: std::sync::Arc<dyn erp_bus::EventBus> =
        std::sync::Arc::new(erp_bus::memory::MemoryBus::new());
    let system = System::start_with_options(Ports::ephemeral(), || bus.clone(), &options)
        .await
        .unwrap();
    let c = reqwest::Client::new();
    let p = system.ports;
    let r = c
        .post(format!("http://{}/products", p.inventory))
        .json(&json!({"id": "lamp", "name": "Lamp", "unit": "pcs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let purchase: serde_json::Value = c
        .post(format!("http://{}/purchases", p.purchase))
        .json(&json!({"lines": [{"product_id": "lamp", "quantity": 4, "unit_price": 250}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The sale waits for the stock the purchase brings.
    let deadline = Instant::now() + Duration::from_secs(10);
    let sale = loop {
        let r = c
            .post(format!("http://{}/sales", p.sales))
            .json(&json!({"lines": [{"product_id": "lamp", "quantity": 1, "unit_price": 400}]}))
            .send()
            .await
            .unwrap();
        if r.status() == 201 {
            break r.json::<serde_json::Value>().await.unwrap();
        }
        assert!(Instant::now() < deadline, "no stock for the sale");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let subjects = |dir: &std::path::Path| -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
            .filter_map(|m| {
                let m = m.replace("\r\n ", " ");
                m.lines()
                    .find_map(|l| l.strip_prefix("Subject: ").map(str::to_owned))
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while subjects(&dir).len() < 2 {
        assert!(Instant::now() < deadline, "mails: {:?}", subjects(&dir));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut got = subjects(&dir);
    got.sort();
    assert_eq!(
        got,
        [
            format!(
                "Purchase {} completed: 4 units in 1 line into store main",
                purchase["id"].as_str().unwrap()
            ),
            format!(
                "Sale {} completed: 1 unit in 1 line from store main",
                sale["id"].as_str().unwrap()
            ),
        ]
    );
    // notification-svc takes the system's admin token, like the others.
    let r = c
        .post(format!(
            "http://{}/admin/dead-letters/notification.events/redrive",
            p.notification
        ))
        .bearer_auth("adm")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    system.stop().await.unwrap();
}
