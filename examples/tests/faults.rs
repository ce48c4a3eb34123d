//! The fault suite: the three service binaries as separate processes on a
//! real RabbitMQ and a private database server, a stream of purchases and
//! sales with Idempotency-Keys from clients that retry (same key) until they
//! get a definitive answer, and one fault at a time, each followed by the
//! checks of design §7: every request answered definitively, one document
//! per key, stock conserved per product, the ledger equal to stock with no
//! event twice, nothing of ours dead-lettered, every service ready again
//! without a hand restart.
//!
//! Its own test binary, alone on the broker and on `inventory.stock` (it
//! stops the broker's application). Needs the binaries built
//! (`cargo build --workspace --bins`, which `scripts/test.sh` runs first).

mod support;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use erp_bus::{EventBus, rabbitmq::testing as rabbit};
use erp_store::mongo::testing::PrivateServer;
use serde_json::{Value, json};
use support::{Proc, free_port};
use tokio::task::JoinHandle;

const PRODUCTS: [&str; 3] = ["f-bolt", "f-nut", "f-gear"];
/// Units bought before the stream, so that sales rarely fall short.
const SEED: i64 = 1_000;

/// The three services on the real servers.
struct Stack {
    dir: PathBuf,
    database_file: PathBuf,
    database_port: u16,
    database: Option<PrivateServer>,
    inventory: Proc,
    purchase: Proc,
    sales: Proc,
    inventory_url: String,
    purchase_url: String,
    sales_url: String,
    common: Vec<String>,
    prefix: String,
}

fn addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

impl Stack {
    async fn start() -> Self {
        let prefix = format!("faults_{}", erp_core::EventId::new().as_uuid().simple());
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).unwrap();
        let database_file = dir.join("db.mv");
        let database_port = free_port();
        let database = PrivateServer::start(&database_file, database_port).await;
        let common: Vec<String> = [
            "--bus",
            "rabbitmq",
            "--amqp-url",
            &rabbit::url(),
            "--store",
            "mongodb",
            "--mongodb-uri",
            &database.uri(),
            "--shutdown-grace-secs",
            "10",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let (inv_http, inv_grpc, p_http, s_http) =
            (free_port(), free_port(), free_port(), free_port());
        let with = |extra: &[String]| {
            let mut a = common.clone();
            a.extend(extra.iter().cloned());
            a
        };
        let inventory = Proc::start(
            "inventory-svc",
            with(&[
                "--database".into(),
                format!("{prefix}_inventory"),
                "--http-addr".into(),
                addr(inv_http),
                "--grpc-addr".into(),
                addr(inv_grpc),
            ]),
            dir.join("inventory.log"),
        );
        let purchase = Proc::start(
            "purchase-svc",
            with(&[
                "--database".into(),
                format!("{prefix}_purchase"),
                "--http-addr".into(),
                addr(p_http),
                "--inventory-grpc".into(),
                format!("http://{}", addr(inv_grpc)),
            ]),
            dir.join("purchase.log"),
        );
        let sales = Proc::start(
            "sales-svc",
            with(&[
                "--database".into(),
                format!("{prefix}_sales"),
                "--http-addr".into(),
                addr(s_http),
                "--inventory-url".into(),
                format!("http://{}", addr(inv_http)),
            ]),
            dir.join("sales.log"),
        );
        let stack = Self {
            dir,
            database_file,
            database_port,
            database: Some(database),
            inventory,
            purchase,
            sales,
            inventory_url: format!("http://{}", addr(inv_http)),
            purchase_url: format!("http://{}", addr(p_http)),
            sales_url: format!("http://{}", addr(s_http)),
            common,
            prefix,
        };
        stack.all_ready("start").await;
        stack
    }

    fn urls(&self) -> Urls {
        Urls {
            purchase: self.purchase_url.clone(),
            sales: self.sales_url.clone(),
        }
    }

    /// Every service answers readiness 200 (within 60 s), by itself.
    async fn all_ready(&self, after: &str) {
        let c = reqwest::Client::new();
        for base in [&self.inventory_url, &self.purchase_url, &self.sales_url] {
            support::wait_ready(&c, base, &format!("after {after}"), &self.dir).await;
        }
    }

    /// A second inventory instance on the same queue and database.
    fn second_inventory(&self) -> Proc {
        let mut args = self.common.clone();
        args.extend([
            "--database".into(),
            format!("{}_inventory", self.prefix),
            "--http-addr".into(),
            addr(free_port()),
            "--grpc-addr".into(),
            addr(free_port()),
        ]);
        Proc::start("inventory-svc", args, self.dir.join("inventory-2.log"))
    }

    async fn restart_database(&mut self) {
        self.database = Some(PrivateServer::start(&self.database_file, self.database_port).await);
    }
}

#[derive(Clone)]
struct Urls {
    purchase: String,
    sales: String,
}

/// A command's definitive answer.
#[derive(Debug, Clone)]
struct Answer {
    kind: &'static str,
    key: String,
    status: u16,
    body: Value,
}

/// Sends one command until it gets a definitive answer (2xx or 4xx), with
/// the same Idempotency-Key each time, as a well-behaved client does;
/// panics if none comes within 90 s.
async fn command(
    c: &reqwest::Client,
    url: &str,
    kind: &'static str,
    key: String,
    lines: Vec<(String, i64)>,
) -> Answer {
    let body = json!({
        "lines": lines.iter().map(|(p, q)| json!({"product_id": p, "quantity": q, "unit_price": 5})).collect::<Vec<_>>(),
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let sent = c
            .post(url)
            .header("Idempotency-Key", &key)
            .timeout(Duration::from_secs(15))
            .json(&body)
            .send()
            .await;
        if let Ok(r) = sent {
            let status = r.status().as_u16();
            if status < 500 && status != 409
                || status == 409 && !r.headers().contains_key("retry-after")
            {
                let body: Value = r.json().await.unwrap_or(Value::Null);
                return Answer {
                    kind,
                    key,
                    status,
                    body,
                };
            }
        }
        assert!(
            Instant::now() < deadline,
            "no definitive answer for {kind} {key} in 90 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A stream running in the background: how many answers came so far.
struct Stream {
    done: Arc<Mutex<Vec<Answer>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Stream {
    /// `clients` clients each sending `per_client` commands (60 % purchases).
    fn start(urls: &Urls, clients: usize, per_client: usize) -> Self {
        let done = Arc::new(Mutex::new(Vec::new()));
        let tasks = (0..clients)
            .map(|client| {
                let urls = urls.clone();
                let done = done.clone();
                tokio::spawn(async move {
                    let c = reqwest::Client::new();
                    let mut rng = fastrand::Rng::with_seed(client as u64 ^ fastrand::u64(..));
                    for _ in 0..per_client {
                        let product = PRODUCTS[rng.usize(..PRODUCTS.len())].to_owned();
                        let key = erp_core::EventId::new().to_string();
                        let answer = if rng.u8(..100) < 60 {
                            let url = format!("{}/purchases", urls.purchase);
                            command(&c, &url, "purchase", key, vec![(product, rng.i64(1..=3))])
                                .await
                        } else {
                            let url = format!("{}/sales", urls.sales);
                            command(&c, &url, "sale", key, vec![(product, 1)]).await
                        };
                        done.lock().unwrap().push(answer);
                    }
                })
            })
            .collect();
        Self { done, tasks }
    }

    /// Waits until `n` answers came: the stream is flowing.
    async fn flowing(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.done.lock().unwrap().len() < n {
            assert!(
                Instant::now() < deadline,
                "the stream never reached {n} answers"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every answer, once every client is done.
    async fn finish(self) -> Vec<Answer> {
        for t in self.tasks {
            t.await.expect("a client failed");
        }
        Arc::try_unwrap(self.done).unwrap().into_inner().unwrap()
    }
}

async fn get(c: &reqwest::Client, url: String) -> Value {
    c.get(&url).send().await.unwrap().json().await.unwrap()
}

/// Every document of a purchase or sale list.
async fn all_documents(c: &reqwest::Client, base: &str, route: &str) -> Vec<Value> {
    let mut items = Vec::new();
    for page in 1.. {
        let v = get(c, format!("{base}/{route}?page={page}&page_size=500")).await;
        let got = v["items"].as_array().unwrap().clone();
        let n = got.len();
        items.extend(got);
        if n < 500 {
            break;
        }
    }
    items
}

/// How `product`'s ledger differs from the stored purchases and sales, by
/// source id: what the message of a failed ledger check shows.
fn ledger_diff(product: &str, moves: &[Value], purchases: &[Value], sales: &[Value]) -> String {
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    for (docs, sign) in [(purchases, 1), (sales, -1)] {
        for d in docs {
            for l in d["lines"].as_array().unwrap() {
                if l["product_id"] == product {
                    let id = d["id"].as_str().unwrap().to_owned();
                    *want.entry(id).or_default() += sign * l["quantity"].as_i64().unwrap();
                }
            }
        }
    }
    let mut got: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for m in moves {
        got.entry(m["source_id"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                m["delta"].as_i64().unwrap(),
                m["event_id"].as_str().unwrap().to_owned(),
            ));
    }
    let missing: Vec<_> = want
        .iter()
        .filter(|(id, _)| !got.contains_key(*id))
        .collect();
    let extra: Vec<_> = got
        .iter()
        .filter(|(id, _)| !want.contains_key(*id))
        .collect();
    let twice: Vec<_> = got.iter().filter(|(_, m)| m.len() > 1).collect();
    let wrong: Vec<_> = got
        .iter()
        .filter(|(id, m)| {
            want.get(*id)
                .is_some_and(|w| m.iter().map(|x| x.0).sum::<i64>() != *w)
        })
        .collect();
    format!(
        "{} movements; missing sources {missing:?}; unknown sources {extra:?}; sources moved twice {twice:?}; wrong deltas {wrong:?}",
        moves.len()
    )
}

/// Design §7 after a fault: see the module docs.
async fn check(stack: &Stack, bus: &erp_bus::rabbitmq::RabbitBus, answers: &[Answer], after: &str) {
    stack.all_ready(after).await;
    let c = reqwest::Client::new();
    // Every answer definitive; each key one document, the one answered.
    let purchases = all_documents(&c, &stack.purchase_url, "purchases").await;
    let sales = all_documents(&c, &stack.sales_url, "sales").await;
    let ids = |docs: &[Value]| -> HashMap<String, Value> {
        docs.iter()
            .map(|d| (d["id"].as_str().unwrap().to_owned(), d.clone()))
            .collect()
    };
    let (by_purchase, by_sale) = (ids(&purchases), ids(&sales));
    assert_eq!(
        by_purchase.len(),
        purchases.len(),
        "{after}: a purchase listed twice"
    );
    for a in answers {
        assert!(
            a.status < 500,
            "{after}: {} {} ended with {}",
            a.kind,
            a.key,
            a.status
        );
        if a.status == 201 {
            let id = a.body["id"].as_str().unwrap();
            let listed = if a.kind == "purchase" {
                &by_purchase
            } else {
                &by_sale
            };
            assert!(
                listed.contains_key(id),
                "{after}: {} {id} answered 201 but not stored",
                a.kind
            );
        }
    }
    // One document per key: what is stored is exactly what was answered
    // 201 (`answers` holds every answer since the start), no more.
    for (kind, listed) in [("purchase", &by_purchase), ("sale", &by_sale)] {
        let answered: HashSet<&str> = answers
            .iter()
            .filter(|a| a.kind == kind && a.status == 201)
            .map(|a| a.body["id"].as_str().unwrap())
            .collect();
        let stored: HashSet<&str> = listed.keys().map(String::as_str).collect();
        assert_eq!(
            stored, answered,
            "{after}: the stored {kind}s are not exactly those answered 201"
        );
    }

    // Stock conserved: on_hand = bought − sold, for every product, once
    // inventory has caught up (it is eventually consistent).
    let mut expected: BTreeMap<&str, i64> = PRODUCTS.iter().map(|p| (*p, 0)).collect();
    for (docs, sign) in [(&purchases, 1), (&sales, -1)] {
        for d in docs.iter() {
            for l in d["lines"].as_array().unwrap() {
                let p = l["product_id"].as_str().unwrap();
                if let Some(e) = expected.get_mut(p) {
                    *e += sign * l["quantity"].as_i64().unwrap();
                }
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    for (product, want) in &expected {
        loop {
            let level = get(&c, format!("{}/stock/main/{product}", stack.inventory_url)).await;
            if level["on_hand"] == *want {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{after}: {product} on_hand {} != bought − sold {want}; logs in {}",
                level["on_hand"],
                stack.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The ledger sums to it, with each event once.
        let moves = get(
            &c,
            format!("{}/stock/main/{product}/movements", stack.inventory_url),
        )
        .await;
        let moves = moves.as_array().unwrap();
        let sum: i64 = moves.iter().map(|m| m["delta"].as_i64().unwrap()).sum();
        assert_eq!(
            sum,
            *want,
            "{after}: the ledger of {product} does not sum to on_hand; {}; logs in {}",
            ledger_diff(product, moves, &purchases, &sales),
            stack.dir.display()
        );
        let events: HashSet<&str> = moves
            .iter()
            .map(|m| m["event_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            events.len(),
            moves.len(),
            "{after}: an event applied twice to {product}"
        );
        let sources: HashSet<&str> = moves
            .iter()
            .map(|m| m["source_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            sources.len(),
            moves.len(),
            "{after}: a purchase or sale applied twice to {product}"
        );
    }

    // Nothing of ours dead-lettered.
    let ours: HashSet<String> = purchases
        .iter()
        .chain(&sales)
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    let dead = bus
        .take_dead_letters("inventory.stock", 10_000)
        .await
        .unwrap();
    for d in dead {
        let raw = erp_core::RawEnvelope::decode(&d.delivery.body);
        let source = raw.ok().and_then(|r| {
            r.data
                .get("purchase_id")
                .or_else(|| r.data.get("sale_id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        assert!(
            !source.is_some_and(|s| ours.contains(&s)),
            "{after}: an event of ours was dead-lettered: {}",
            d.reason
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_stays_exact_through_every_fault() {
    let mut stack = Stack::start().await;
    let bus = rabbit::connect().await;
    let c = reqwest::Client::new();
    // Every answer since the start: what the services must hold.
    let mut answered: Vec<Answer> = Vec::new();
    for p in PRODUCTS {
        let r = c
            .post(format!("{}/products", stack.inventory_url))
            .json(&json!({"id": p, "name": p, "unit": "pcs"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let url = format!("{}/purchases", stack.purchase_url);
        let seed = command(
            &c,
            &url,
            "purchase",
            format!("seed-{p}"),
            vec![(p.to_owned(), SEED)],
        )
        .await;
        assert_eq!(seed.status, 201, "{:?}", seed.body);
        answered.push(seed);
    }

    // 1. inventory SIGKILLed mid-stream, restarted.
    let load = Stream::start(&stack.urls(), 4, 25);
    load.flowing(10).await;
    stack.inventory.kill();
    stack.inventory.spawn();
    answered.extend(load.finish().await);
    check(&stack, &bus, &answered, "SIGKILL of inventory").await;

    // 2. RabbitMQ's application stopped and started mid-stream.
    let load = Stream::start(&stack.urls(), 4, 25);
    load.flowing(10).await;
    rabbit::rabbitmqctl(&["stop_app"]);
    tokio::time::sleep(Duration::from_secs(2)).await; // the outage
    rabbit::rabbitmqctl(&["start_app"]);
    answered.extend(load.finish().await);
    check(&stack, &bus, &answered, "rabbitmqctl stop_app/start_app").await;

    // 3. The database stopped and restarted mid-stream. (Stopped, not
    // SIGKILLed: the test server, unlike MongoDB's journal, may lose its
    // last second of acknowledged writes to a SIGKILL.)
    let load = Stream::start(&stack.urls(), 4, 25);
    load.flowing(10).await;
    drop(stack.database.take());
    tokio::time::sleep(Duration::from_secs(2)).await; // the outage
    stack.restart_database().await;
    answered.extend(load.finish().await);
    check(&stack, &bus, &answered, "database stopped and restarted").await;

    // 4. purchase SIGKILLed mid-stream: writes whose relay or answer it
    // never finished are relayed after the restart and found by their key.
    let load = Stream::start(&stack.urls(), 4, 25);
    load.flowing(10).await;
    stack.purchase.kill();
    stack.purchase.spawn();
    answered.extend(load.finish().await);
    check(&stack, &bus, &answered, "SIGKILL of purchase").await;

    // 5. Concurrent replays of one Idempotency-Key: one purchase.
    let url = format!("{}/purchases", stack.purchase_url);
    let replays = futures::future::join_all((0..8).map(|_| {
        command(
            &c,
            &url,
            "purchase",
            "one-key".into(),
            vec![(PRODUCTS[0].to_owned(), 2)],
        )
    }))
    .await;
    let first = &replays[0].body["id"];
    assert!(
        replays
            .iter()
            .all(|a| a.status == 201 && &a.body["id"] == first),
        "{replays:?}"
    );
    answered.extend(replays.into_iter().take(1));
    check(&stack, &bus, &answered, "concurrent replays of one key").await;

    // 6. Two inventory instances on the queue.
    let mut second = stack.second_inventory();
    let answers = Stream::start(&stack.urls(), 4, 25).finish().await;
    let status = second.terminate().await;
    assert!(status.success(), "the second inventory's exit: {status}");
    answered.extend(answers);
    check(&stack, &bus, &answered, "two inventory instances").await;

    // 7. SIGTERM of each service mid-stream: exit 0, restart.
    for which in ["inventory", "purchase", "sales"] {
        let load = Stream::start(&stack.urls(), 4, 15);
        load.flowing(10).await;
        let service = match which {
            "inventory" => &mut stack.inventory,
            "purchase" => &mut stack.purchase,
            _ => &mut stack.sales,
        };
        let status = service.terminate().await;
        assert!(status.success(), "{which} after SIGTERM: {status}");
        service.spawn();
        answered.extend(load.finish().await);
        check(&stack, &bus, &answered, &format!("SIGTERM of {which}")).await;
    }

    // 8. Inventory down: purchases refused at once by the open breaker,
    // sales after their retries, each with the contract's error; back up,
    // purchases go through again.
    stack.inventory.kill();
    let purchase = |key: String| {
        c.post(format!("{}/purchases", stack.purchase_url))
            .header("Idempotency-Key", key)
            .json(&json!({"lines": [{"product_id": PRODUCTS[0], "quantity": 1, "unit_price": 5}]}))
            .send()
    };
    let breaker_open = || async {
        c.get(format!("{}/metrics", stack.purchase_url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .lines()
            .any(|l| l.starts_with("erp_breaker_state") && l.ends_with(" 2"))
    };
    let refused = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 503);
        assert!(r.headers().contains_key("retry-after"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "inventory_unavailable");
    };
    // Failures open the breaker once they are half of the last 10 s of
    // calls (the stream's successes count too).
    let mut calls = 0;
    while !breaker_open().await {
        calls += 1;
        assert!(calls <= 500, "the breaker never opened");
        refused(
            purchase(erp_core::EventId::new().to_string())
                .await
                .unwrap(),
        )
        .await;
    }
    let mut open = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let r = purchase(erp_core::EventId::new().to_string())
            .await
            .unwrap();
        open.push(started.elapsed().as_millis());
        refused(r).await;
    }
    eprintln!(
        "inventory down: the breaker opened after {calls} refusals; with it open, refusals took {open:?} ms"
    );
    let started = Instant::now();
    let r = c
        .post(format!("{}/sales", stack.sales_url))
        .json(&json!({"lines": [{"product_id": PRODUCTS[0], "quantity": 1, "unit_price": 5}]}))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "inventory_unavailable");
    // The contract's bound (a 3 s deadline for the retries), not a speed figure.
    assert!(
        took < Duration::from_secs(4),
        "a sale refused after {took:?}"
    );
    stack.inventory.spawn();
    stack.all_ready("inventory back").await;
    let back = command(
        &c,
        &format!("{}/purchases", stack.purchase_url),
        "purchase",
        "after-the-outage".into(),
        vec![(PRODUCTS[0].to_owned(), 1)],
    )
    .await;
    assert_eq!(
        back.status, 201,
        "purchases go through again: {:?}",
        back.body
    );
    answered.push(back);
    check(&stack, &bus, &answered, "inventory down and back").await;
    bus.shutdown();
    let _ = std::fs::remove_dir_all(&stack.dir);
}
