//! notification-svc from outside (issue 16): the binary as a process on a
//! real RabbitMQ and the database server, next to inventory-svc and
//! purchase-svc, mailing to a real SMTP server on localhost (aiosmtpd, from
//! `scripts/smtp-sink.sh install`; it stores each accepted mail as a file).
//!
//! One scenario, in the order a deployment meets it: purchases are mailed
//! once each with their id, lines and total, a redelivered event is not
//! mailed again; notification-svc SIGKILLed three times mid-stream loses no
//! mail and doubles none; the SMTP server down for a minute dead-letters
//! nothing and the mails arrive once it is back.
//!
//! Needs the binaries built (`cargo build --workspace --bins`, which
//! `scripts/test.sh` runs first).

mod support;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

use erp_bus::{EventBus, OutgoingMessage, rabbitmq::testing as rabbit};
use serde_json::{Value, json};
use support::{Proc, free_port, wait_ready};

const SENDER_DOMAIN: &str = "erp.example";

/// The SMTP server: Python's aiosmtpd, one `.eml` file per accepted mail.
struct Sink {
    port: u16,
    dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .into()
}

impl Sink {
    async fn start(dir: &Path, log: PathBuf) -> Self {
        let mut sink = Self {
            port: free_port(),
            dir: dir.join("mail"),
            log,
            child: None,
        };
        sink.spawn().await;
        sink
    }

    async fn spawn(&mut self) {
        let python = repository().join(".data/smtp-sink/venv/bin/python");
        assert!(
            python.exists(),
            "{} missing: run scripts/smtp-sink.sh install",
            python.display()
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(python)
            .arg(repository().join("ops/smtp-sink/sink.py"))
            .args(["--port", &self.port.to_string(), "--dir"])
            .arg(&self.dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "SMTP sink not listening");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, and wait until it no longer listens.
    async fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        child.wait().unwrap();
        assert!(
            tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_err()
        );
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every mail received so far.
    fn mails(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| Mail::parse(&std::fs::read(p).unwrap()))
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One received mail: unfolded headers, decoded body, the raw bytes.
#[derive(Debug, Clone)]
struct Mail {
    headers: BTreeMap<String, String>,
    body: String,
    raw: Vec<u8>,
}

impl Mail {
    fn parse(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
        let (head, body) = text.split_once("\n\n").expect("headers and body");
        let mut headers = BTreeMap::new();
        for field in head.replace("\n ", " ").replace("\n\t", " ").lines() {
            let (name, value) = field.split_once(':').expect("a header field");
            headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
        }
        let body = match headers.get("content-transfer-encoding").map(String::as_str) {
            Some("quoted-printable") => String::from_utf8(
                quoted_printable::decode(body, quoted_printable::ParseMode::Robust).unwrap(),
            )
            .unwrap(),
            _ => body.to_owned(),
        };
        Self {
            headers,
            body,
            raw: raw.to_vec(),
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// The event id in `Message-ID: <event-id@domain>`.
    fn event_id(&self) -> String {
        let id = self.header("message-id");
        let inner = id.trim_start_matches('<').trim_end_matches('>');
        let (event, domain) = inner.split_once('@').expect("id@domain");
        assert_eq!(domain, SENDER_DOMAIN, "{id}");
        event.to_owned()
    }
}

/// inventory-svc, purchase-svc and notification-svc on RabbitMQ and the
/// database server, notification-svc on its own queue.
struct Trio {
    dir: PathBuf,
    queue: String,
    inventory: Proc,
    purchase: Proc,
    notification: Proc,
    inventory_url: String,
    purchase_url: String,
    notification_url: String,
}

impl Trio {
    async fn start(sink: &Sink, dir: &Path, prefix: &str) -> Self {
        let common = |database: &str| support::on_real_servers(prefix, database);
        let with = |mut a: Vec<String>, extra: &[&str]| {
            a.extend(extra.iter().map(|s| (*s).to_owned()));
            a
        };
        let (inv_http, inv_grpc, p_http, n_http) =
            (free_port(), free_port(), free_port(), free_port());
        let inventory = Proc::start(
            "inventory-svc",
            with(
                common("inventory"),
                &[
                    "--http-addr",
                    &format!("127.0.0.1:{inv_http}"),
                    "--grpc-addr",
                    &format!("127.0.0.1:{inv_grpc}"),
                ],
            ),
            dir.join("inventory.log"),
        );
        let purchase = Proc::start(
            "purchase-svc",
            with(
                common("purchase"),
                &[
                    "--http-addr",
                    &format!("127.0.0.1:{p_http}"),
                    "--inventory-grpc",
                    &format!("http://127.0.0.1:{inv_grpc}"),
                ],
            ),
            dir.join("purchase.log"),
        );
        let queue = format!("{prefix}.mail");
        let notification = Proc::start(
            "notification-svc",
            with(
                common("notification"),
                &[
                    "--http-addr",
                    &format!("127.0.0.1:{n_http}"),
                    "--smtp-url",
                    &sink.url(),
                    "--mail-from",
                    &format!("ERP <erp@{SENDER_DOMAIN}>"),
                    "--mail-to",
                    "buyers@example.test,audit@example.test",
                    "--queue",
                    &queue,
                ],
            ),
            dir.join("notification.log"),
        );
        let trio = Self {
            dir: dir.to_owned(),
            queue,
            inventory,
            purchase,
            notification,
            inventory_url: format!("http://127.0.0.1:{inv_http}"),
            purchase_url: format!("http://127.0.0.1:{p_http}"),
            notification_url: format!("http://127.0.0.1:{n_http}"),
        };
        let c = reqwest::Client::new();
        for url in [
            &trio.inventory_url,
            &trio.purchase_url,
            &trio.notification_url,
        ] {
            wait_ready(&c, url, "after start", &trio.dir).await;
        }
        trio
    }

    /// `erp_mails_total{outcome}` as notification-svc reports it now.
    async fn mails_total(&self, c: &reqwest::Client, outcome: &str) -> u64 {
        let text = c
            .get(format!("{}/metrics", self.notification_url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let label = format!("outcome=\"{outcome}\"");
        text.lines()
            .filter(|l| l.starts_with("erp_mails_total{") && l.contains(&label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|v| v as u64)
            .sum()
    }
}

/// Posts a purchase of `lines` (product, quantity, unit price); its answer.
async fn purchase(c: &reqwest::Client, trio: &Trio, lines: &[(&str, i64, i64)]) -> Value {
    let body = json!({
        "supplier": "Acme",
        "lines": lines.iter().map(|(p, q, u)| json!({"product_id": p, "quantity": q, "unit_price": u})).collect::<Vec<_>>(),
    });
    let r = c
        .post(format!("{}/purchases", trio.purchase_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

/// The mails about `purchase` (by the id in their subject).
fn mails_of<'a>(mails: &'a [Mail], purchase: &Value) -> Vec<&'a Mail> {
    let id = purchase["id"].as_str().unwrap();
    mails
        .iter()
        .filter(|m| m.header("subject").starts_with(&format!("Purchase {id} ")))
        .collect()
}

/// Waits until every purchase in `purchases` has a mail, at most `within`.
async fn wait_mailed(sink: &Sink, purchases: &[Value], within: Duration, trio: &Trio) {
    let deadline = Instant::now() + within;
    loop {
        let mails = sink.mails();
        let missing = purchases
            .iter()
            .filter(|p| mails_of(&mails, p).is_empty())
            .count();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} purchases not mailed within {within:?}; logs in {}",
            purchases.len(),
            trio.dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The mail of `purchase` says its id, every line and the total, and goes
/// from the sender to both recipients.
fn assert_describes(mail: &Mail, purchase: &Value) {
    let id = purchase["id"].as_str().unwrap();
    assert!(mail.body.contains(&format!("Purchase {id} was completed")));
    assert!(mail.body.contains("Supplier: Acme"));
    for line in purchase["lines"].as_array().unwrap() {
        let row = [
            line["product_id"].as_str().unwrap().to_owned(),
            line["quantity"].to_string(),
            line["unit_price"].to_string(),
            line["line_total"].to_string(),
        ];
        assert!(
            mail.body
                .lines()
                .any(|l| l.split_whitespace().eq(row.iter().map(String::as_str))),
            "no row {row:?} in\n{}",
            mail.body
        );
    }
    assert!(
        mail.body
            .contains(&format!("Total: {} (minor units)", purchase["total"])),
        "{}",
        mail.body
    );
    assert_eq!(mail.header("from"), format!("ERP <erp@{SENDER_DOMAIN}>"));
    assert_eq!(mail.header("to"), "buyers@example.test, audit@example.test");
}

/// Each purchase has exactly one mail (one Message-ID), and every copy of
/// it the server holds is the same message byte for byte. Returns how many
/// copies beyond the first the server received in all.
fn assert_one_mail_each(mails: &[Mail], purchases: &[Value]) -> usize {
    let mut copies = 0;
    for p in purchases {
        let of = mails_of(mails, p);
        assert!(!of.is_empty(), "no mail for {}", p["id"]);
        let ids: std::collections::BTreeSet<&str> =
            of.iter().map(|m| m.header("message-id")).collect();
        assert_eq!(ids.len(), 1, "two different mails for {}: {ids:?}", p["id"]);
        assert!(
            of.iter().all(|m| m.raw == of[0].raw),
            "copies of one mail differ"
        );
        assert_describes(of[0], p);
        copies += of.len() - 1;
    }
    copies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_mail_per_purchase_across_redelivery_sigkill_and_a_minute_of_smtp_down() {
    let prefix = format!("notify_{}", erp_core::EventId::new().as_uuid().simple());
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let mut sink = Sink::start(&dir, dir.join("sink.log")).await;
    let mut trio = Trio::start(&sink, &dir, &prefix).await;
    let bus = rabbit::connect().await;
    let c = reqwest::Client::new();
    let (bolt, nut) = (format!("{prefix}-bolt"), format!("{prefix}-nut"));
    for p in [&bolt, &nut] {
        let r = c
            .post(format!("{}/products", trio.inventory_url))
            .json(&json!({"id": p, "name": p, "unit": "pcs"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }

    // 1. Each purchase mailed once, with its id, lines and total.
    let mut purchases = Vec::new();
    for n in 1..=3 {
        purchases.push(purchase(&c, &trio, &[(&bolt, n, 125), (&nut, 10 * n, 40)]).await);
    }
    wait_mailed(&sink, &purchases, Duration::from_secs(30), &trio).await;
    let mails = sink.mails();
    assert_eq!(assert_one_mail_each(&mails, &purchases), 0);
    assert_eq!(
        mails.len(),
        purchases.len(),
        "a mail for nothing: {mails:#?}"
    );

    // A redelivery of the first purchase's event (same event id): not
    // mailed again.
    let first = mails_of(&mails, &purchases[0])[0].event_id();
    let envelope = erp_core::EventEnvelope {
        id: erp_core::EventId::parse(&first).unwrap(),
        event_type: "purchase.completed".into(),
        version: 1,
        occurred_at: erp_core::Timestamp::now(),
        source: "purchase-svc".into(),
        correlation_id: "redelivery".into(),
        causation_id: "redelivery".into(),
        data: json!({
            "purchase_id": purchases[0]["id"],
            "store_id": "main",
            "purchased_at": purchases[0]["purchased_at"],
            "lines": [{"product_id": bolt, "quantity": 1, "unit_price": 1}],
        }),
    };
    bus.publish(OutgoingMessage::from_envelope(&envelope))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while trio.mails_total(&c, "already_sent").await < 1 {
        assert!(Instant::now() < deadline, "the redelivery was not consumed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sink.mails().len(), purchases.len(), "mailed twice");

    // 2. SIGKILL of notification-svc, three times, while purchases flow.
    let stream = {
        let (c, url, bolt) = (c.clone(), trio.purchase_url.clone(), bolt.clone());
        tokio::spawn(async move {
            let mut made = Vec::new();
            for n in 0..24 {
                let r = c
                    .post(format!("{url}/purchases"))
                    .json(&json!({"supplier": "Acme", "lines": [{"product_id": bolt, "quantity": n + 1, "unit_price": 7}]}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                made.push(r.json::<Value>().await.unwrap());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            made
        })
    };
    for round in 1..=3 {
        let before = sink.mails().len();
        let deadline = Instant::now() + Duration::from_secs(30);
        while sink.mails().len() < before + 2 {
            assert!(
                Instant::now() < deadline,
                "no mails flowing before kill {round}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        trio.notification.kill();
        trio.notification.spawn();
        wait_ready(&c, &trio.notification_url, "after SIGKILL", &dir).await;
    }
    let streamed = stream.await.unwrap();
    wait_mailed(&sink, &streamed, Duration::from_secs(60), &trio).await;
    purchases.extend(streamed);
    let copies = assert_one_mail_each(&sink.mails(), &purchases);
    println!(
        "SIGKILL ×3: {} purchases, one mail each; {copies} extra identical copies received",
        purchases.len()
    );

    // 3. The SMTP server down for a minute: retried with backoff, nothing
    // dead-lettered, mailed once it is back.
    sink.stop().await;
    let retried_before = trio.mails_total(&c, "retried").await;
    let mut while_down = Vec::new();
    for n in 1..=3 {
        while_down.push(purchase(&c, &trio, &[(&nut, n, 9)]).await);
    }
    let down_since = Instant::now();
    while down_since.elapsed() < Duration::from_secs(60) {
        let ready = c
            .get(format!("{}/health/ready", trio.notification_url))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200, "not ready while the server is down");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let retried = trio.mails_total(&c, "retried").await - retried_before;
    // Backoff (1 s doubling to 15 s) gives about eight attempts per mail in
    // a minute; without it (the bus's default 100 ms) it would be hundreds.
    assert!(
        (3..=3 * 12).contains(&retried),
        "{retried} retries in a minute for 3 mails"
    );
    assert!(
        bus.take_dead_letters(&trio.queue, 100)
            .await
            .unwrap()
            .is_empty(),
        "dead-lettered while the mail server was down"
    );
    sink.spawn().await;
    wait_mailed(&sink, &while_down, Duration::from_secs(60), &trio).await;
    purchases.extend(while_down);
    assert_one_mail_each(&sink.mails(), &purchases);

    // Nothing left over: no dead letter, every mail about a purchase made.
    assert!(
        bus.take_dead_letters(&trio.queue, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let mailed: std::collections::BTreeSet<String> =
        sink.mails().iter().map(Mail::event_id).collect();
    assert_eq!(mailed.len(), purchases.len(), "a mail for nothing");
    for p in [
        &mut trio.notification,
        &mut trio.purchase,
        &mut trio.inventory,
    ] {
        assert!(p.terminate().await.success());
    }
    rabbit::delete_subscription_queues(&trio.queue).await;
}
