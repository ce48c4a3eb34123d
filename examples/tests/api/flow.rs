use erp_examples::demo;

use crate::helpers::spawn;

#[tokio::test]
async fn the_demo_scenario_converges_to_the_expected_stock_table() {
    let sys = spawn().await;
    let rows = demo::run(sys.ports).await.expect("demo runs");
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.store_id.as_str(), r.product_id.as_str(), r.on_hand))
        .collect();
    assert_eq!(got, [("main", "gadget", 5), ("main", "widget", 7)]);
    let table = demo::table(&rows);
    assert!(
        table.contains("widget") && table.lines().count() == 3,
        "{table}"
    );
}

#[tokio::test]
async fn rebuilt_read_models_equal_the_live_ones() {
    use reqwest::StatusCode;
    use serde_json::json;
    let sys = spawn().await;
    sys.product("a").await;
    sys.product("b").await;
    sys.store("north", Some(50)).await;
    sys.buy("main", &[("a", 5, 100), ("b", 2, 30)]).await;
    sys.buy("north", &[("a", 1, 100)]).await;
    sys.wait_on_hand("main", "b", 2).await;
    let (s, _) = sys
        .post(
            &format!("{}/sales", sys.sales),
            crate::helpers::trade("main", &[("a", 2, 150)]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let reads = [
        format!("{}/purchases?sort=total&order=asc", sys.purchase),
        format!("{}/sales", sys.sales),
        format!("{}/sales/summary?product_id=a", sys.sales),
        format!("{}/products", sys.inventory),
        format!("{}/stores", sys.inventory),
    ];
    let mut live = Vec::new();
    for url in &reads {
        live.push(sys.get(url).await);
    }
    let rebuilds = [
        (
            format!("{}/admin/rebuild-read-models", sys.purchase),
            json!({"purchases": 2}),
        ),
        (
            format!("{}/admin/rebuild-read-models", sys.sales),
            json!({"sales": 1}),
        ),
        (
            format!("{}/admin/rebuild-read-models", sys.inventory),
            json!({"products": 2, "stores": 2}),
        ),
    ];
    for (url, counts) in rebuilds {
        let (s, b) = sys.post(&url, json!({})).await;
        assert_eq!((s, &b["rebuilt"]), (StatusCode::OK, &counts), "{url}");
    }
    for (url, before) in reads.iter().zip(live) {
        assert_eq!(sys.get(url).await, before, "{url} differs after a rebuild");
    }
}
