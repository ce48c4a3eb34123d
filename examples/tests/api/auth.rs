use std::sync::Arc;

use erp_bus::{EventBus, memory::MemoryBus};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::trade;

#[tokio::test]
async fn service_to_service_calls_carry_the_token() {
    let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
    let any = "127.0.0.1:0".parse().unwrap();
    let token = Some("shared-T".to_owned());
    let mut inv_config = inventory_svc::config::Config::in_memory(any, any);
    inv_config.common.api_token = token.clone();
    let inventory = inventory_svc::startup::Application::build(&inv_config, bus.clone())
        .await
        .unwrap();
    let (inv_http, inv_grpc) = (inventory.http_addr(), inventory.grpc_addr());
    tokio::spawn(inventory.run_until_stopped(std::future::pending()));
    let mut p_config = purchase_svc::config::Config::in_memory(any, format!("http://{inv_grpc}"));
    p_config.common.api_token = token.clone();
    let purchase = purchase_svc::startup::build(&p_config, bus.clone())
        .await
        .unwrap();
    let p_url = format!("http://{}/purchases", purchase.http_addr());
    tokio::spawn(purchase.run_until_stopped(std::future::pending()));
    let mut s_config = sales_svc::config::Config::in_memory(any, format!("http://{inv_http}"));
    s_config.common.api_token = token;
    let sales = sales_svc::startup::build(&s_config, bus).await.unwrap();
    let s_url = format!("http://{}/sales", sales.http_addr());
    tokio::spawn(sales.run_until_stopped(std::future::pending()));

    let c = reqwest::Client::new();
    let r = c
        .post(format!("http://{inv_http}/products"))
        .bearer_auth("shared-T")
        .json(&json!({"id": "a", "name": "A", "unit": "pcs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let body = trade("main", &[("a", 2, 5)]);
    assert_eq!(
        c.post(&p_url).json(&body).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let r = c
        .post(&p_url)
        .bearer_auth("shared-T")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "purchase's gRPC check carried the token"
    );
    let r = c
        .post(&s_url)
        .bearer_auth("shared-T")
        .json(&trade("main", &[("a", 1, 5)]))
        .send()
        .await
        .unwrap();
    assert!(
        r.status() == StatusCode::CREATED || r.status() == StatusCode::CONFLICT,
        "sales reached inventory: {}",
        r.status()
    );
}

#[tokio::test]
async fn the_embedded_system_takes_one_token_for_all_three_services() {
    let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
    let options = erp_examples::Options {
        mongodb: None,
        api_token: Some("aio-T".into()),
        ..Default::default()
    };
    let system = erp_examples::System::start_with_options(
        erp_examples::Ports::ephemeral(),
        || bus.clone(),
        &options,
    )
    .await
    .unwrap();
    let refused = erp_examples::demo::run(system.ports, None)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused:#}");
    let rows = erp_examples::demo::run(system.ports, Some("aio-T"))
        .await
        .expect("the demo runs with the token");
    assert!(!rows.is_empty());
    system.stop().await.unwrap();
}
