use proto::erp::inventory::v1::{
    CheckPurchaseRequest, CountTotalItemsRequest, GetProductRequest, GetStockRequest, PurchaseLine,
    inventory_client::InventoryClient,
};
use tonic::Code;

use crate::helpers::{line, purchase, spawn_app};

#[tokio::test]
async fn get_product_and_stock_answer_from_real_data() {
    let app = spawn_app().await;
    app.product("a").await;
    let mut c = InventoryClient::connect(app.grpc.clone()).await.unwrap();
    let p = c
        .get_product(GetProductRequest {
            product_id: "a".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((p.id.as_str(), p.unit.as_str()), ("a", "pcs"));
    let missing = c
        .get_product(GetProductRequest {
            product_id: "zz".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let bad = c
        .get_product(GetProductRequest {
            product_id: "a b".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);

    app.publish(&purchase("main", vec![line("a", 7)])).await;
    app.wait_on_hand("main", "a", 7).await;
    let s = c
        .get_stock(GetStockRequest {
            store_id: "main".into(),
            product_id: "a".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.on_hand, 7);
}

fn check(store: &str, lines: &[(&str, i64)]) -> CheckPurchaseRequest {
    CheckPurchaseRequest {
        store_id: store.into(),
        lines: lines
            .iter()
            .map(|(p, q)| PurchaseLine {
                product_id: (*p).into(),
                quantity: *q,
            })
            .collect(),
    }
}

#[tokio::test]
async fn count_total_items_and_check_purchase_use_real_stock_and_capacity() {
    let app = spawn_app().await;
    app.product("a").await;
    app.product("b").await;
    app.store("small", Some(10)).await;
    app.publish(&purchase("small", vec![line("a", 6), line("b", 2)]))
        .await;
    app.wait_on_hand("small", "b", 2).await;
    let mut c = InventoryClient::connect(app.grpc.clone()).await.unwrap();
    let t = c
        .count_total_items(CountTotalItemsRequest {
            store_id: "small".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((t.total_units, t.capacity), (8, Some(10)));
    let unknown = c
        .count_total_items(CountTotalItemsRequest {
            store_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let fits = c
        .check_purchase(check("small", &[("a", 2)]))
        .await
        .unwrap()
        .into_inner();
    assert!(fits.store_known && fits.capacity_ok && fits.unknown_products.is_empty());
    let over = c
        .check_purchase(check("small", &[("a", 3)]))
        .await
        .unwrap()
        .into_inner();
    assert!(!over.capacity_ok);
    assert_eq!(over.total_units, 8);
    let ghosts = c
        .check_purchase(check("main", &[("x", 1), ("a", 1), ("y", 1)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ghosts.unknown_products, ["x", "y"]);
    assert!(ghosts.capacity_ok, "main has no capacity limit");
    let nowhere = c
        .check_purchase(check("nowhere", &[("a", 1)]))
        .await
        .unwrap()
        .into_inner();
    assert!(!nowhere.store_known);
    let zero = c
        .check_purchase(check("main", &[("a", 0)]))
        .await
        .unwrap_err();
    assert_eq!(zero.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn check_purchase_takes_the_rest_line_cap() {
    let app = spawn_app().await;
    let mut c = InventoryClient::new(app.grpc_channel().await);
    let ids: Vec<String> = (0..=100).map(|i| format!("p{i}")).collect();
    let lines = |n: usize| {
        ids[..n]
            .iter()
            .map(|id| (id.as_str(), 1))
            .collect::<Vec<_>>()
    };
    for n in [0, 101] {
        let err = c
            .check_purchase(check("main", &lines(n)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{n} lines");
        assert!(err.message().contains("lines"), "{}", err.message());
    }
    let hundred = c
        .check_purchase(check("main", &lines(100)))
        .await
        .expect("100 lines are within the cap")
        .into_inner();
    assert_eq!(hundred.unknown_products.len(), 100);
}

#[tokio::test]
async fn reflection_lists_the_inventory_service_for_tools_like_grpcurl() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let app = spawn_app().await;
    let channel = app.grpc_channel().await;
    let mut c = ServerReflectionClient::new(channel);
    let ask = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = c
        .server_reflection_info(tokio_stream::iter([ask]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("expected a service list, got {answer:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"erp.inventory.v1.Inventory") && names.contains(&"grpc.health.v1.Health"),
        "services: {names:?}"
    );
}

#[tokio::test]
async fn grpc_health_follows_readiness() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let app = spawn_app().await;
    let channel = app.grpc_channel().await;
    let mut health = HealthClient::new(channel);
    let status = |service: &str| {
        let mut health = health.clone();
        let request = HealthCheckRequest {
            service: service.to_owned(),
        };
        async move { health.check(request).await.unwrap().into_inner().status }
    };
    let wait_for = |want: ServingStatus| async move {
        for _ in 0..50 {
            if status("erp.inventory.v1.Inventory").await == want as i32 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("never {want:?}");
    };
    wait_for(ServingStatus::Serving).await;
    assert_eq!(status("").await, ServingStatus::Serving as i32);

    app.bus.disconnect();
    wait_for(ServingStatus::NotServing).await;
    assert_eq!(
        app.get("/health/ready").await.0,
        reqwest::StatusCode::SERVICE_UNAVAILABLE
    );
    app.bus.reconnect();
    wait_for(ServingStatus::Serving).await;

    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}
