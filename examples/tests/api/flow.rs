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
