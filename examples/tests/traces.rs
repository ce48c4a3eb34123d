//! One purchase is one OpenTelemetry trace, read back from a real backend:
//! purchase-svc and inventory-svc as separate processes on RabbitMQ and the
//! database server, exporting over OTLP to Jaeger (`scripts/jaeger.sh`,
//! started by `scripts/test.sh`); purchase-svc over HTTP/protobuf,
//! inventory-svc over gRPC, so both exporters are exercised.
//!
//! Its own test binary (it consumes `inventory.stock`). Needs the binaries
//! built (`cargo build --workspace --bins --all-features`).

mod support;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use support::{Proc, free_port};

const JAEGER: &str = "http://127.0.0.1:16686";

/// One span as Jaeger returns it.
#[derive(Debug, Clone)]
struct Span {
    id: String,
    parent: Option<String>,
    service: String,
    name: String,
    tags: HashMap<String, String>,
}

impl Span {
    fn kind(&self) -> &str {
        self.tags.get("span.kind").map_or("", String::as_str)
    }
}

/// The spans of trace `id` in Jaeger (empty while it has none).
async fn trace(c: &reqwest::Client, id: &str) -> Vec<Span> {
    let Ok(r) = c.get(format!("{JAEGER}/api/traces/{id}")).send().await else {
        return Vec::new();
    };
    let Ok(body) = r.json::<Value>().await else {
        return Vec::new();
    };
    let Some(trace) = body["data"].get(0) else {
        return Vec::new();
    };
    let service_of = |pid: &Value| {
        trace["processes"][pid.as_str().unwrap_or("")]["serviceName"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    trace["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| Span {
            id: s["spanID"].as_str().unwrap_or("").to_owned(),
            parent: s["references"].as_array().and_then(|refs| {
                refs.iter()
                    .find(|r| r["refType"] == "CHILD_OF")
                    .and_then(|r| r["spanID"].as_str())
                    .map(str::to_owned)
            }),
            service: service_of(&s["processID"]),
            name: s["operationName"].as_str().unwrap_or("").to_owned(),
            tags: s["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    let v = match &t["value"] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (t["key"].as_str().unwrap_or("").to_owned(), v)
                })
                .collect(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_is_one_trace_across_http_grpc_and_amqp_in_jaeger() {
    let c = reqwest::Client::new();
    assert!(
        c.get(format!("{JAEGER}/api/services"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success()),
        "Jaeger is not answering on {JAEGER}: run scripts/jaeger.sh (scripts/test.sh does)"
    );
    let run = erp_core::EventId::new().as_uuid().simple().to_string();
    let prefix = format!("traces_{run}");
    // Service names of this run only: Jaeger keeps earlier runs' spans.
    let purchase_svc = format!("purchase-svc-{}", &run[20..]);
    let inventory_svc = format!("inventory-svc-{}", &run[20..]);
    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let (inv_http, inv_grpc, p_http) = (free_port(), free_port(), free_port());
    let common = |database: &str| support::on_real_servers(&prefix, database);
    let otel = |service: &str, protocol: &str, endpoint: &str| {
        [
            ("OTEL_SERVICE_NAME", service),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
            // Hand spans on quickly, so the test waits less.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect::<Vec<_>>()
    };
    let mut inventory_args = common("inventory");
    inventory_args.extend([
        "--http-addr".into(),
        format!("127.0.0.1:{inv_http}"),
        "--grpc-addr".into(),
        format!("127.0.0.1:{inv_grpc}"),
    ]);
    let _inventory = Proc::start_with_env(
        "inventory-svc",
        inventory_args,
        otel(&inventory_svc, "grpc", "http://127.0.0.1:4317"),
        dir.join("inventory.log"),
    );
    let mut purchase_args = common("purchase");
    purchase_args.extend([
        "--http-addr".into(),
        format!("127.0.0.1:{p_http}"),
        "--inventory-grpc".into(),
        format!("http://127.0.0.1:{inv_grpc}"),
    ]);
    let _purchase = Proc::start_with_env(
        "purchase-svc",
        purchase_args,
        otel(&purchase_svc, "http/protobuf", "http://127.0.0.1:4318"),
        dir.join("purchase.log"),
    );
    let (inventory, purchase) = (
        format!("http://127.0.0.1:{inv_http}"),
        format!("http://127.0.0.1:{p_http}"),
    );
    support::wait_ready(&c, &inventory, "after start", &dir).await;
    support::wait_ready(&c, &purchase, "after start", &dir).await;

    // A separate binary labels every series with its service, the
    // libraries' too; the breaker's state is there before any call.
    let page = c
        .get(format!("{purchase}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("erp_breaker_state{service=\"purchase-svc\",breaker=\"inventory-grpc\"} 0"),
        "{page}"
    );
    let r = c
        .post(format!("{inventory}/products"))
        .json(&json!({"id": "t-nut", "name": "Nut", "unit": "pcs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // No traceparent: purchase-svc's server span is the root, and the
    // request id it answers with is the trace id.
    let r = c
        .post(format!("{purchase}/purchases"))
        .json(&json!({"lines": [{"product_id": "t-nut", "quantity": 3, "unit_price": 2}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let trace_id = erp_core::trace::trace_id(&request_id)
        .unwrap_or_else(|| panic!("the request id {request_id} is no trace id"));

    // Wait for the consumer's span: the last of the flow to end.
    let deadline = Instant::now() + Duration::from_secs(30);
    let spans = loop {
        let spans = trace(&c, &trace_id).await;
        if spans.iter().any(|s| s.kind() == "consumer") && spans.len() >= 5 {
            break spans;
        }
        assert!(
            Instant::now() < deadline,
            "trace {trace_id} incomplete in Jaeger after 30 s: {spans:#?}; logs in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let ids: Vec<&str> = spans.iter().map(|s| s.id.as_str()).collect();
    let roots: Vec<&Span> = spans
        .iter()
        .filter(|s| s.parent.as_deref().is_none_or(|p| !ids.contains(&p)))
        .collect();
    assert_eq!(roots.len(), 1, "one root: {spans:#?}");
    let find = |service: &str, kind: &str, name: &str| -> &Span {
        spans
            .iter()
            .find(|s| s.service == service && s.kind() == kind && s.name == name)
            .unwrap_or_else(|| panic!("no {kind} span {name:?} of {service} in {spans:#?}"))
    };
    let server = find(&purchase_svc, "server", "POST /purchases");
    assert_eq!(roots[0].id, server.id, "the HTTP server span is the root");
    assert_eq!(server.tags["http.route"], "/purchases");
    assert_eq!(server.tags["http.response.status_code"], "201");

    let client = find(
        &purchase_svc,
        "client",
        "erp.inventory.v1.Inventory/CheckPurchase",
    );
    assert_eq!(client.parent.as_deref(), Some(server.id.as_str()));
    assert_eq!(client.tags["rpc.system"], "grpc");
    let grpc_server = find(
        &inventory_svc,
        "server",
        "erp.inventory.v1.Inventory/CheckPurchase",
    );
    assert_eq!(grpc_server.parent.as_deref(), Some(client.id.as_str()));
    assert_eq!(grpc_server.tags["rpc.method"], "CheckPurchase");

    let publish = find(&purchase_svc, "producer", "publish purchase.completed");
    assert_eq!(
        publish.parent.as_deref(),
        Some(server.id.as_str()),
        "the relay's publish continues the request that wrote the outbox"
    );
    assert_eq!(publish.tags["messaging.system"], "rabbitmq");
    let process = find(&inventory_svc, "consumer", "process inventory.stock");
    // What went out is counted: purchase-svc's three spans at least.
    let page = c
        .get(format!("{purchase}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |series: &str| -> f64 {
        page.lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in {page}"))
    };
    assert!(count("erp_trace_spans_ended_total{service=\"purchase-svc\"}") >= 3.0);
    assert!(count("erp_trace_spans_total{service=\"purchase-svc\",outcome=\"exported\"}") >= 3.0);
    assert_eq!(
        count("erp_trace_spans_total{service=\"purchase-svc\",outcome=\"export_failed\"}"),
        0.0
    );
    // The readiness polls above made no traces.
    let operations: Value = c
        .get(format!("{JAEGER}/api/services/{purchase_svc}/operations"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !operations.to_string().contains("/health"),
        "probes are not traced: {operations}"
    );
    assert_eq!(process.parent.as_deref(), Some(publish.id.as_str()));
    assert_eq!(process.tags["messaging.system"], "rabbitmq");
    assert_eq!(
        process.tags["messaging.rabbitmq.destination.routing_key"],
        "purchase.completed"
    );
}
