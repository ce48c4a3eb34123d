use erp_examples::demo;

use crate::helpers::spawn;

#[tokio::test]
async fn the_demo_scenario_converges_to_the_expected_stock_table() {
    let sys = spawn().await;
    let rows = demo::run(sys.ports, None).await.expect("demo runs");
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
        let (s, b) = sys.admin(&url).await;
        assert_eq!((s, &b["rebuilt"]), (StatusCode::OK, &counts), "{url}");
    }
    for (url, before) in reads.iter().zip(live) {
        assert_eq!(sys.get(url).await, before, "{url} differs after a rebuild");
    }
}

#[tokio::test]
async fn stock_is_conserved_purchased_minus_sold_equals_the_ledger() {
    let sys = spawn().await;
    let products = ["p1", "p2", "p3"];
    for p in products {
        sys.product(p).await;
    }
    // A fixed pseudo-random mix of purchases and sales (some refused for
    // short stock), each touching one to three products.
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..40 {
        let picked: Vec<_> = products.iter().filter(|_| rng.bool()).copied().collect();
        if picked.is_empty() {
            continue;
        }
        let lines: Vec<_> = picked.iter().map(|p| (*p, rng.i64(1..=9), 100)).collect();
        let url = if rng.u8(0..3) == 0 {
            &sys.sales
        } else {
            &sys.purchase
        };
        let path = if url == &sys.sales {
            "sales"
        } else {
            "purchases"
        };
        let _ = sys
            .post(
                &format!("{url}/{path}"),
                crate::helpers::trade("main", &lines),
            )
            .await;
    }
    for p in products {
        let (_, purchases) = sys
            .get(&format!(
                "{}/purchases?product_id={p}&page_size=500",
                sys.purchase
            ))
            .await;
        let bought: i64 = purchases["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|doc| doc["lines"].as_array().unwrap().iter())
            .filter(|l| l["product_id"] == p)
            .map(|l| l["quantity"].as_i64().unwrap())
            .sum();
        let (_, summary) = sys
            .get(&format!("{}/sales/summary?product_id={p}", sys.sales))
            .await;
        let sold = summary["quantity"].as_i64().unwrap();
        sys.wait_on_hand("main", p, bought - sold).await;
        let (_, moves) = sys
            .get(&format!("{}/stock/main/{p}/movements", sys.inventory))
            .await;
        let ledger: i64 = moves
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["delta"].as_i64().unwrap())
            .sum();
        assert_eq!(
            ledger,
            bought - sold,
            "{p}: Σ ledger deltas = purchased − sold"
        );
    }
}
