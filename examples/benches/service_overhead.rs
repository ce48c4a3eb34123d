//! Load benchmark (not a test): what the SDK's service stack costs against
//! raw axum and raw tonic serving the same data, in the same process and
//! the same run, alternating rounds, because these machines drift 10–20 %
//! between runs.
//!
//! ```sh
//! cargo bench -p erp-examples --bench service_overhead
//! ```
//!
//! Three paths, each raw then SDK, `BENCH_ROUNDS` rounds (default 3) of
//! `BENCH_SECS` seconds (default 3) with `BENCH_CONCURRENCY` requests in
//! flight (default 64); `BENCH_PATHS` picks some of `get,post,grpc`:
//! - `GET /products/{id}`: raw axum reading a `HashMap` vs inventory-svc
//!   (read model, metrics, request ids, deadline, panic guard, fallbacks);
//! - `POST /products`: raw axum parsing JSON into a `Mutex<HashMap>` vs
//!   inventory-svc (validation, aggregate, write store with outbox, relay
//!   feeding the read model);
//! - gRPC `GetProduct` over one HTTP/2 connection: raw tonic vs inventory-svc.
//!
//! The load generator runs on the same cores as the servers. Telemetry is
//! the binaries' default (`BENCH_TELEMETRY=default`: the log subscriber at
//! `info`, the Prometheus recorder, no trace export), which the raw side
//! shares but never uses; `BENCH_TELEMETRY=off` installs no subscriber, for
//! the second row of docs/benchmarks.md.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use bytes::Bytes;
use erp_bus::memory::MemoryBus;
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use proto::erp::inventory::v1::{
    self as pb,
    inventory_client::InventoryClient,
    inventory_server::{Inventory, InventoryServer},
};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tonic::{Request, Status, transport::Channel};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Serialize, Deserialize)]
struct Product {
    id: String,
    name: String,
    unit: String,
}

fn widget() -> Product {
    Product {
        id: "p1".into(),
        name: "Widget".into(),
        unit: "pcs".into(),
    }
}

type Catalog = Arc<Mutex<HashMap<String, Product>>>;

async fn raw_get(State(c): State<Catalog>, Path(id): Path<String>) -> Response {
    let found = c.lock().unwrap().get(&id).cloned();
    match found {
        Some(p) => Json(p).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn raw_post(State(c): State<Catalog>, Json(p): Json<Product>) -> Response {
    let mut catalog = c.lock().unwrap();
    if catalog.contains_key(&p.id) {
        return StatusCode::CONFLICT.into_response();
    }
    catalog.insert(p.id.clone(), p.clone());
    (StatusCode::CREATED, Json(p)).into_response()
}

/// The baseline REST server: plain axum, no middleware.
async fn raw_http() -> SocketAddr {
    let mut map = HashMap::with_capacity(1 << 20);
    map.insert("p1".to_owned(), widget());
    let app = Router::new()
        .route("/products", axum::routing::post(raw_post))
        .route("/products/{id}", get(raw_get))
        .with_state(Arc::new(Mutex::new(map)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The baseline gRPC server: the generated tonic service over a `HashMap`.
struct RawInventory(HashMap<String, Product>);

#[tonic::async_trait]
impl Inventory for RawInventory {
    async fn get_product(
        &self,
        req: Request<pb::GetProductRequest>,
    ) -> Result<tonic::Response<pb::Product>, Status> {
        let p = self
            .0
            .get(&req.get_ref().product_id)
            .ok_or_else(|| Status::not_found("no such product"))?;
        Ok(tonic::Response::new(pb::Product {
            id: p.id.clone(),
            name: p.name.clone(),
            unit: p.unit.clone(),
        }))
    }

    async fn get_stock(
        &self,
        _: Request<pb::GetStockRequest>,
    ) -> Result<tonic::Response<pb::StockLevel>, Status> {
        Err(Status::unimplemented("baseline"))
    }

    async fn count_total_items(
        &self,
        _: Request<pb::CountTotalItemsRequest>,
    ) -> Result<tonic::Response<pb::CountTotalItemsResponse>, Status> {
        Err(Status::unimplemented("baseline"))
    }

    async fn check_purchase(
        &self,
        _: Request<pb::CheckPurchaseRequest>,
    ) -> Result<tonic::Response<pb::CheckPurchaseResponse>, Status> {
        Err(Status::unimplemented("baseline"))
    }
}

async fn raw_grpc() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = InventoryServer::new(RawInventory(HashMap::from([("p1".into(), widget())])));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}

/// inventory-svc on the in-memory adapters, with product `p1`.
async fn sdk_inventory() -> (SocketAddr, SocketAddr) {
    let any = "127.0.0.1:0".parse().unwrap();
    let app = inventory_svc::startup::Application::build(
        &inventory_svc::config::Config::in_memory(any, any),
        Arc::new(MemoryBus::new()),
    )
    .await
    .expect("inventory builds");
    let addrs = (app.http_addr(), app.grpc_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let http = http_client();
    let created = send(&http, post(addrs.0, &widget())).await;
    assert_eq!(created, 201);
    for _ in 0..100 {
        if send(&http, get_product(addrs.0)).await == 200 {
            return addrs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("p1 never reached inventory's read model");
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

fn get_product(addr: SocketAddr) -> http::Request<Full<Bytes>> {
    http::Request::get(format!("http://{addr}/products/p1"))
        .body(Full::default())
        .unwrap()
}

fn post(addr: SocketAddr, p: &Product) -> http::Request<Full<Bytes>> {
    http::Request::post(format!("http://{addr}/products"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(p).unwrap())))
        .unwrap()
}

/// Sends one request, reads the whole body, returns the status.
async fn send(client: &HttpClient, req: http::Request<Full<Bytes>>) -> u16 {
    let res = client.request(req).await.expect("the server answers");
    let status = res.status().as_u16();
    res.into_body().collect().await.expect("a whole body");
    status
}

/// What one round measured.
struct Round {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

/// Runs `call` from `concurrency` tasks for `secs`; every call must succeed.
async fn load<F, Fut>(secs: u64, concurrency: u64, call: F) -> Round
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let sequence = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = call.clone();
            let sequence = Arc::clone(&sequence);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(1 << 16);
                while Instant::now() < deadline {
                    let n = sequence.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    assert!(call(n).await, "a call failed during the benchmark");
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Round {
        per_sec: all.len() as f64 / elapsed,
        p50: at(0.50),
        p99: at(0.99),
    }
}

async fn http_get(secs: u64, c: u64, addr: SocketAddr) -> Round {
    let client = http_client();
    load(secs, c, move |_| {
        let client = client.clone();
        async move { send(&client, get_product(addr)).await == 200 }
    })
    .await
}

/// Fresh product ids per round (`tag`), so every POST creates.
async fn http_post(secs: u64, c: u64, addr: SocketAddr, tag: String) -> Round {
    let client = http_client();
    let tag: Arc<str> = tag.into();
    load(secs, c, move |n| {
        let client = client.clone();
        let product = Product {
            id: format!("{tag}-{n}"),
            name: "Bench".into(),
            unit: "pcs".into(),
        };
        async move { send(&client, post(addr, &product)).await == 201 }
    })
    .await
}

async fn grpc_get(secs: u64, c: u64, addr: SocketAddr) -> Round {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = InventoryClient::new(channel);
    load(secs, c, move |_| {
        let mut client = client.clone();
        async move {
            client
                .get_product(pb::GetProductRequest {
                    product_id: "p1".into(),
                })
                .await
                .is_ok()
        }
    })
    .await
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn report(path: &str, raw: &[Round], sdk: &[Round]) {
    let best = |rs: &[Round]| rs.iter().map(|r| r.per_sec).fold(0.0, f64::max);
    let mut ratios: Vec<f64> = raw
        .iter()
        .zip(sdk)
        .map(|(r, s)| s.per_sec / r.per_sec)
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!("\n{path}");
    for (i, (r, s)) in raw.iter().zip(sdk).enumerate() {
        println!(
            "  round {}: raw {:>8.0}/s p50 {} p99 {} | SDK {:>8.0}/s p50 {} p99 {}",
            i + 1,
            r.per_sec,
            ms(r.p50),
            ms(r.p99),
            s.per_sec,
            ms(s.p50),
            ms(s.p99)
        );
    }
    println!(
        "  best: raw {:.0}/s, SDK {:.0}/s; ratio SDK/raw best {:.2}, median of rounds {:.2}",
        best(raw),
        best(sdk),
        best(sdk) / best(raw),
        ratios[ratios.len() / 2]
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let secs = env_or("BENCH_SECS", 3);
    let rounds = env_or("BENCH_ROUNDS", 3);
    let c = env_or("BENCH_CONCURRENCY", 64);
    let paths = std::env::var("BENCH_PATHS").unwrap_or_else(|_| "get,post,grpc".into());
    let wanted = |path: &str| paths.split(',').any(|p| p.trim() == path);
    let telemetry = std::env::var("BENCH_TELEMETRY").unwrap_or_else(|_| "default".into());
    if telemetry != "off" {
        erp_service::telemetry::init(erp_service::config::LogFormat::Pretty);
    }
    println!(
        "service overhead: {rounds} rounds × {secs} s, {c} in flight, 2 worker threads, telemetry {telemetry}"
    );
    let raw_rest = raw_http().await;
    let raw_rpc = raw_grpc().await;
    let (sdk_rest, sdk_rpc) = sdk_inventory().await;
    // Warm both sides (connections, allocators) before measuring.
    http_get(1, c, raw_rest).await;
    http_get(1, c, sdk_rest).await;

    if wanted("get") {
        let (mut raw, mut sdk) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            raw.push(http_get(secs, c, raw_rest).await);
            sdk.push(http_get(secs, c, sdk_rest).await);
        }
        report("GET /products/{id}", &raw, &sdk);
    }
    if wanted("post") {
        let (mut raw, mut sdk) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            raw.push(http_post(secs, c, raw_rest, format!("r{round}")).await);
            sdk.push(http_post(secs, c, sdk_rest, format!("r{round}")).await);
        }
        report("POST /products", &raw, &sdk);
    }
    if wanted("grpc") {
        let (mut raw, mut sdk) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            raw.push(grpc_get(secs, c, raw_rpc).await);
            sdk.push(grpc_get(secs, c, sdk_rpc).await);
        }
        report("gRPC GetProduct (one HTTP/2 connection)", &raw, &sdk);
    }
}
