use std::{
    io::Read,
    process::{Command, Stdio},
    sync::Arc,
    time::Duration,
};

use erp_bus::memory::MemoryBus;
use inventory_svc::{config::Config, startup::Application};
use proto::erp::inventory::v1::{GetProductRequest, inventory_client::InventoryClient};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::body;

async fn spawn_with_token(token: &str) -> (String, String) {
    spawn_with_tokens(token, None).await
}

async fn spawn_with_tokens(token: &str, admin: Option<&str>) -> (String, String) {
    let any = "127.0.0.1:0".parse().unwrap();
    let mut config = Config::in_memory(any, any);
    config.common.api_token = Some(token.into());
    config.common.admin_token = admin.map(Into::into);
    let app = Application::build(&config, Arc::new(MemoryBus::new()))
        .await
        .unwrap();
    let urls = (
        format!("http://{}", app.http_addr()),
        format!("http://{}", app.grpc_addr()),
    );
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    urls
}

#[tokio::test]
async fn writes_need_the_bearer_token_and_reads_stay_open() {
    let (base, _) = spawn_with_token("T0k3n").await;
    let c = reqwest::Client::new();
    let product = json!({"id": "p", "name": "P", "unit": "pcs"});
    let post = |auth: Option<&'static str>| {
        let mut r = c.post(format!("{base}/products")).json(&product);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("T0k3n"),
        Some("Basic T0k3n"),
    ] {
        let r = post(auth).await.unwrap();
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let (s, b) = body(r).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized")),
            "{auth:?}"
        );
        assert!(!b.to_string().contains("T0k3n"));
    }
    assert_eq!(
        post(Some("Bearer T0k3n")).await.unwrap().status(),
        StatusCode::CREATED
    );
    // Operator routes stay closed without an admin token, even to the API token.
    for admin in [
        "/admin/rebuild-read-models",
        "/admin/dead-letters/inventory.stock/redrive",
    ] {
        let r = c
            .post(format!("{base}{admin}"))
            .bearer_auth("T0k3n")
            .send()
            .await
            .unwrap();
        let (s, b) = body(r).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("admin_disabled")),
            "{admin}"
        );
    }
    assert_eq!(
        c.get(format!("{base}/products/p"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        c.get(format!("{base}/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn admin_routes_answer_only_to_the_admin_token() {
    let (base, _) = spawn_with_tokens("T0k3n", Some("Adm1n")).await;
    let c = reqwest::Client::new();
    let rebuild = format!("{base}/admin/rebuild-read-models");
    for presented in [None, Some("T0k3n"), Some("Adm1")] {
        let mut r = c.post(&rebuild);
        if let Some(t) = presented {
            r = r.bearer_auth(t);
        }
        let (s, b) = body(r.send().await.unwrap()).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized")),
            "{presented:?}"
        );
    }
    let r = c.post(&rebuild).bearer_auth("Adm1n").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn grpc_calls_need_the_token_in_metadata() {
    let (_, grpc) = spawn_with_token("T0k3n").await;
    let mut client = InventoryClient::connect(grpc).await.unwrap();
    let err = client
        .get_product(GetProductRequest {
            product_id: "main".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let mut req = tonic::Request::new(GetProductRequest {
        product_id: "nope".into(),
    });
    req.metadata_mut()
        .insert("authorization", "Bearer T0k3n".parse().unwrap());
    let err = client.get_product(req).await.unwrap_err();
    assert_eq!(
        err.code(),
        tonic::Code::NotFound,
        "authenticated, then a normal answer"
    );
}

#[tokio::test]
async fn the_token_never_appears_in_the_log() {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    };
    let (http, grpc) = (free(), free());
    let mut child = Command::new(env!("CARGO_BIN_EXE_inventory-svc"))
        .args([
            "--bus",
            "memory",
            "--store",
            "memory",
            "--log-format",
            "json",
        ])
        .args(["--api-token", "SeCrEt-T0KEN-42"])
        .args([
            "--http-addr",
            &http.to_string(),
            "--grpc-addr",
            &grpc.to_string(),
        ])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let c = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if c.get(format!("http://{http}/health/live"))
            .send()
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "inventory-svc did not start");
    for auth in ["Bearer SeCrEt-T0KEN-42", "Bearer nope"] {
        c.post(format!("http://{http}/products"))
            .header("authorization", auth)
            .json(&json!({"id": "x", "name": "X", "unit": "pcs"}))
            .send()
            .await
            .unwrap();
    }
    child.kill().unwrap();
    let mut log = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    child.wait().unwrap();
    assert!(
        log.contains("inventory-svc started"),
        "the log was captured: {log}"
    );
    assert!(
        !log.contains("SeCrEt-T0KEN-42"),
        "the token leaked into the log"
    );
}
