//! Products and stores.

use std::collections::HashMap;

use axum::{
    extract::{Path, Query, State},
    http::HeaderMap,
    response::Response,
};
use erp_core::{Problems, ProductId, StoreId};
use erp_service::{
    ApiError, JsonBody,
    fields::{get, integer, parsed, required, text},
    http::{correlation_id, created, ok},
    list::ListQuery,
};

use crate::{
    app::Inventory,
    catalog::{Product, Store},
};

const NAME_MAX: usize = 200;
const UNIT_MAX: usize = 32;
/// Largest accepted store capacity; keeps capacity arithmetic far from overflow.
const CAPACITY_MAX: i64 = 1_000_000_000_000;

fn parse_product(body: &JsonBody) -> Result<Product, ApiError> {
    let o = &body.0;
    let mut p = Problems::default();
    let id = required(&mut p, "id", get(o, "id"))
        .and_then(|v| parsed(&mut p, "id", v, ProductId::parse));
    let name =
        required(&mut p, "name", get(o, "name")).and_then(|v| text(&mut p, "name", v, NAME_MAX));
    let unit =
        required(&mut p, "unit", get(o, "unit")).and_then(|v| text(&mut p, "unit", v, UNIT_MAX));
    let product = id
        .zip(name)
        .zip(unit)
        .map(|((id, name), unit)| Product { id, name, unit });
    Ok(p.finish(product)?)
}

fn parse_store(body: &JsonBody) -> Result<Store, ApiError> {
    let o = &body.0;
    let mut p = Problems::default();
    let id =
        required(&mut p, "id", get(o, "id")).and_then(|v| parsed(&mut p, "id", v, StoreId::parse));
    let name =
        required(&mut p, "name", get(o, "name")).and_then(|v| text(&mut p, "name", v, NAME_MAX));
    let manager = required(&mut p, "manager", get(o, "manager"))
        .and_then(|v| text(&mut p, "manager", v, NAME_MAX));
    let capacity = match get(o, "capacity") {
        None => Some(None),
        Some(v) => integer(&mut p, "capacity", v, |n| {
            if (1..=CAPACITY_MAX).contains(&n) {
                Ok(Some(n))
            } else {
                Err(format!("must be an integer from 1 to {CAPACITY_MAX}"))
            }
        }),
    };
    let store = id
        .zip(name)
        .zip(manager)
        .zip(capacity)
        .map(|(((id, name), manager), capacity)| Store {
            id,
            name,
            manager,
            capacity,
        });
    Ok(p.finish(store)?)
}

pub(super) async fn create_product(
    State(inv): State<Inventory>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let product = inv
        .register_product(parse_product(&body)?, &correlation_id(&headers))
        .await?;
    Ok(created(&format!("/products/{}", product.id), &product))
}

pub(super) async fn list_products(
    State(inv): State<Inventory>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut q = ListQuery::new(params);
    let paging = q.paging();
    q.finish()?;
    Ok(ok(&paging.slice(inv.products().await?)))
}

pub(super) async fn get_product(
    State(inv): State<Inventory>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("id", format!("no product {id}"));
    let pid = ProductId::parse(id.as_str()).map_err(|_| not_found())?;
    let product = inv.product(&pid).await?.ok_or_else(not_found)?;
    Ok(ok(&product))
}

pub(super) async fn create_store(
    State(inv): State<Inventory>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let store = inv
        .open_store(parse_store(&body)?, &correlation_id(&headers))
        .await?;
    Ok(created(&format!("/stores/{}", store.id), &store))
}

pub(super) async fn list_stores(
    State(inv): State<Inventory>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut q = ListQuery::new(params);
    let paging = q.paging();
    q.finish()?;
    Ok(ok(&paging.slice(inv.stores().await?)))
}

pub(super) async fn get_store(
    State(inv): State<Inventory>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("id", format!("no store {id}"));
    let sid = StoreId::parse(id.as_str()).map_err(|_| not_found())?;
    let store = inv.store(&sid).await?.ok_or_else(not_found)?;
    Ok(ok(&store))
}

pub(super) async fn rebuild(State(inv): State<Inventory>) -> Result<Response, ApiError> {
    let (products, stores) = inv.rebuild_read_models().await?;
    Ok(ok(
        &serde_json::json!({"rebuilt": {"products": products, "stores": stores}}),
    ))
}
