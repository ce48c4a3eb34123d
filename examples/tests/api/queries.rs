//! Query strings on every route: parameters a route does not take are
//! refused by name, and `order` turns every list around.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Sys, codes_of, spawn, trade};

/// The values of `field` in a JSON array, or in a page's `items`.
fn column(v: &Value, field: &str) -> Vec<String> {
    v.get("items")
        .unwrap_or(v)
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| match &x[field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// A system with two products, two stores, two purchases and a sale.
async fn populated() -> (Sys, Vec<String>, Vec<String>) {
    let sys = spawn().await;
    for p in ["a", "b"] {
        sys.product(p).await;
    }
    sys.store("north", None).await;
    let mut purchases = Vec::new();
    for (i, store) in ["main", "north"].iter().enumerate() {
        let mut body = trade(store, &[("a", 5, 100), ("b", 1, 10)]);
        body["purchased_at"] = format!("2026-01-0{}T00:00:00Z", i + 1).into();
        let (s, b) = sys.post(&format!("{}/purchases", sys.purchase), body).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        purchases.push(b["id"].as_str().unwrap().to_owned());
    }
    sys.wait_on_hand("north", "b", 1).await;
    let mut sales = Vec::new();
    for day in [3, 4] {
        let mut body = trade("main", &[("a", 1, 100)]);
        body["sold_at"] = format!("2026-01-0{day}T00:00:00Z").into();
        let (s, b) = sys.post(&format!("{}/sales", sys.sales), body).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        sales.push(b["id"].as_str().unwrap().to_owned());
    }
    sys.wait_on_hand("main", "a", 3).await;
    (sys, purchases, sales)
}

#[tokio::test]
async fn every_route_names_the_query_parameters_it_does_not_take() {
    let (sys, purchases, sales) = populated().await;
    let routes = [
        format!("{}/purchases", sys.purchase),
        format!("{}/purchases/{}", sys.purchase, purchases[0]),
        format!("{}/sales", sys.sales),
        format!("{}/sales/{}", sys.sales, sales[0]),
        format!("{}/sales/summary?product_id=a", sys.sales),
        format!("{}/products", sys.inventory),
        format!("{}/products/a", sys.inventory),
        format!("{}/stores", sys.inventory),
        format!("{}/stores/main", sys.inventory),
        format!("{}/stock", sys.inventory),
        format!("{}/stock/main/a", sys.inventory),
        format!("{}/stock/main/a/movements", sys.inventory),
    ];
    for route in &routes {
        let (s, b) = sys.get(route).await;
        assert_eq!(s, StatusCode::OK, "{route} without extras: {b}");
        let sep = if route.contains('?') { '&' } else { '?' };
        let (s, b) = sys.get(&format!("{route}{sep}bogus=1&storeid=x")).await;
        assert_eq!(
            (s, codes_of(&b)),
            (
                StatusCode::BAD_REQUEST,
                (
                    "invalid_query".to_owned(),
                    vec!["bogus".to_owned(), "storeid".to_owned()]
                )
            ),
            "{route}"
        );
    }
}

#[tokio::test]
async fn order_turns_every_list_around() {
    let (sys, purchases, sales) = populated().await;
    let reversed = |v: &[String]| v.iter().rev().cloned().collect::<Vec<_>>();
    // (list, field that identifies an item, the ascending order, default order)
    let lists = [
        (
            format!("{}/purchases", sys.purchase),
            "id",
            purchases.clone(),
            "desc",
        ),
        (format!("{}/sales", sys.sales), "id", sales.clone(), "desc"),
        (
            format!("{}/products", sys.inventory),
            "id",
            vec!["a".into(), "b".into()],
            "asc",
        ),
        (
            format!("{}/stores", sys.inventory),
            "id",
            vec!["main".into(), "north".into()],
            "asc",
        ),
        (
            format!("{}/stock?product_id=b", sys.inventory),
            "store_id",
            vec!["main".into(), "north".into()],
            "asc",
        ),
        (
            format!("{}/stock/main/a/movements", sys.inventory),
            "kind",
            vec!["purchase".into(), "sale".into(), "sale".into()],
            "desc",
        ),
    ];
    for (url, field, ascending, default) in lists {
        let sep = if url.contains('?') { '&' } else { '?' };
        let get = |q: &str| {
            let url = format!("{url}{sep}{q}");
            let sys = &sys;
            async move {
                let (s, b) = sys.get(&url).await;
                assert_eq!(s, StatusCode::OK, "{url}: {b}");
                column(&b, field)
            }
        };
        assert_eq!(get("order=asc").await, ascending, "{url} asc");
        assert_eq!(get("order=desc").await, reversed(&ascending), "{url} desc");
        let want = if default == "asc" {
            ascending.clone()
        } else {
            reversed(&ascending)
        };
        let (_, b) = sys.get(&url).await;
        assert_eq!(column(&b, field), want, "{url} default order");
        assert_eq!(
            get("order=desc&page=1&page_size=1").await,
            reversed(&ascending)[..1].to_vec(),
            "{url}: one page, newest or last first"
        );
    }
}
