//! One request is one trace: a `traceparent` sent with a purchase (or a
//! sale) reaches inventory on the gRPC (REST) call the service makes and on
//! the event it raises, and every span on the way records that trace id.
//! Its own test binary: it installs a global subscriber that records spans.

use std::sync::{Arc, Mutex};

use erp_examples::{Ports, System};
use serde_json::json;
use tracing::{
    Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id},
};
use tracing_subscriber::{Layer, filter::Targets, layer::Context, prelude::*};

/// A span as recorded: its name and its text fields.
#[derive(Debug, Clone, Default)]
struct Seen {
    name: &'static str,
    fields: Vec<(String, String)>,
}

impl Seen {
    fn get(&self, field: &str) -> &str {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == field)
            .map_or("", |(_, v)| v.as_str())
    }
}

impl Visit for Seen {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.fields
            .push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.fields
            .push((field.name().to_owned(), format!("{value:?}")));
    }
}

/// Every span, by its id, with the fields given at creation and recorded
/// later (a request's ids are recorded once the request id is settled).
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(u64, Seen)>>>);

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut seen = Seen {
            name: attrs.metadata().name(),
            ..Seen::default()
        };
        attrs.record(&mut seen);
        self.0.lock().unwrap().push((id.into_u64(), seen));
    }

    fn on_record(&self, id: &Id, values: &tracing::span::Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        // Ids are reused once a span closes: the latest holder is this one.
        if let Some((_, seen)) = spans.iter_mut().rev().find(|(i, _)| *i == id.into_u64()) {
            values.record(seen);
        }
    }
}

impl Recorder {
    fn with_trace(&self, trace: &str) -> Vec<Seen> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, seen)| seen)
            .filter(|s| s.get("trace_id") == trace)
            .cloned()
            .collect()
    }
}

async fn wait_on_hand(c: &reqwest::Client, inventory: &str, want: i64) {
    for _ in 0..100 {
        let v: serde_json::Value = c
            .get(format!("{inventory}/stock/main/nut"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["on_hand"] == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("stock never reached {want}");
}

/// The (protocol or name, path or queue) of each span of one trace.
fn hops(spans: &[Seen]) -> Vec<(String, String)> {
    let mut hops: Vec<_> = spans
        .iter()
        .map(|s| match s.name {
            "message" => ("message".to_owned(), s.get("queue").to_owned()),
            _ => (s.get("protocol").to_owned(), s.get("path").to_owned()),
        })
        .collect();
    hops.sort();
    hops.dedup();
    hops
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_and_a_sale_are_each_one_trace_across_services_and_the_event() {
    let recorder = Recorder::default();
    tracing_subscriber::registry()
        .with(
            recorder.clone().with_filter(
                Targets::new()
                    .with_target("erp_service", tracing::Level::DEBUG)
                    .with_target("erp_bus", tracing::Level::INFO),
            ),
        )
        .init();
    let system = System::start(Ports::ephemeral()).await.unwrap();
    let p = system.ports;
    let (purchase, sales, inventory) = (
        format!("http://{}", p.purchase),
        format!("http://{}", p.sales),
        format!("http://{}", p.inventory),
    );
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{inventory}/products"))
        .json(&json!({"id": "nut", "name": "Nut", "unit": "pcs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let bought = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = c
        .post(format!("{purchase}/purchases"))
        .header("traceparent", format!("00-{bought}-00f067aa0ba902b7-01"))
        .json(&json!({"lines": [{"product_id": "nut", "quantity": 5, "unit_price": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    wait_on_hand(&c, &inventory, 5).await;

    let sold = "0af7651916cd43dd8448eb211c80319c";
    let r = c
        .post(format!("{sales}/sales"))
        .header("traceparent", format!("00-{sold}-b7ad6b7169203331-01"))
        .json(&json!({"lines": [{"product_id": "nut", "quantity": 2, "unit_price": 3}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    wait_on_hand(&c, &inventory, 3).await;

    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        hops(&recorder.with_trace(bought)),
        [
            pair("grpc", "/erp.inventory.v1.Inventory/CheckPurchase"),
            pair("http", "/purchases"),
            pair("message", "inventory.stock"),
        ],
        "purchase → inventory gRPC → the event, one trace"
    );
    assert_eq!(
        hops(&recorder.with_trace(sold)),
        [
            pair("http", "/sales"),
            pair("http", "/stock/main/nut"),
            pair("message", "inventory.stock"),
        ],
        "sale → inventory REST → the event, one trace"
    );
    system.stop().await.unwrap();
}
