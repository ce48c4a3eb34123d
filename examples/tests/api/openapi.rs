use crate::helpers::spawn;

fn has(doc: &serde_json::Value, path: &str, method: &str) -> bool {
    doc["paths"][path][method].is_object()
}

#[tokio::test]
async fn every_route_of_the_contract_is_in_each_services_openapi_document() {
    let sys = spawn().await;
    let common = [
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/metrics", "get"),
    ];
    let expected: [(&str, Vec<(&str, &str)>); 3] = [
        (
            sys.purchase.as_str(),
            vec![
                ("/purchases", "post"),
                ("/purchases", "get"),
                ("/purchases/{id}", "get"),
            ],
        ),
        (
            sys.sales.as_str(),
            vec![
                ("/sales", "post"),
                ("/sales", "get"),
                ("/sales/{id}", "get"),
                ("/sales/summary", "get"),
            ],
        ),
        (
            sys.inventory.as_str(),
            vec![
                ("/products", "post"),
                ("/products", "get"),
                ("/products/{id}", "get"),
                ("/stores", "post"),
                ("/stores", "get"),
                ("/stores/{id}", "get"),
                ("/stock", "get"),
                ("/stock/{store_id}/{product_id}", "get"),
                ("/stock/{store_id}/{product_id}/movements", "get"),
            ],
        ),
    ];
    for (base, routes) in expected {
        let (status, doc) = sys.get(&format!("{base}/openapi.json")).await;
        assert_eq!(status, reqwest::StatusCode::OK);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for (path, method) in routes.into_iter().chain(common) {
            assert!(
                has(&doc, path, method),
                "{base}: {method} {path} missing from /openapi.json"
            );
        }
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    }
}
