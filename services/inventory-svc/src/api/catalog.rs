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
    list::{ListQuery, NoQuery, Paging},
};
use erp_store::{Order, ViewQuery};

use erp_service::openapi::ErrorBody;

use crate::{
    app::Inventory,
    catalog::{Product, Store},
};

/// A list ordered by id, paged in the store when the client asked for a page.
fn by_id(paging: &Paging) -> ViewQuery {
    let everything = ViewQuery::everything();
    ViewQuery {
        sort: vec![("id".into(), paging.order)],
        page: if paging.explicit {
            paging.page
        } else {
            everything.page
        },
        page_size: paging.limit().unwrap_or(everything.page_size),
        ..everything
    }
}

/// `POST /products` body.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documents the JSON `parse_product` reads
pub(super) struct NewProduct {
    /// `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`
    id: String,
    /// 1–200 characters.
    name: String,
    /// 1–32 characters.
    unit: String,
}

/// `POST /stores` body.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documents the JSON `parse_store` reads
pub(super) struct NewStore {
    /// `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`
    id: String,
    /// 1–200 characters.
    name: String,
    /// 1–200 characters.
    manager: String,
    /// Total units the store may hold, ≥ 1; absent = unlimited.
    #[schema(minimum = 1)]
    capacity: Option<i64>,
}

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

#[utoipa::path(post, path = "/products", tag = "products", request_body = NewProduct,
    params(("Idempotency-Key" = Option<String>, Header, description = "replays the first answer for the same body")),
    responses(
        (status = 201, body = Product, description = "registered; `Location` names it"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody, description = "`product_already_exists`"),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
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

#[utoipa::path(get, path = "/products", tag = "products",
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query, description = "1–500; without page or page_size, every product"),
        ("order" = Option<String>, Query, description = "asc|desc by id (default asc)")),
    responses((status = 200, body = Vec<Product>, description = "every product by id, or one page when asked"), (status = 400, body = ErrorBody)))]
pub(super) async fn list_products(
    State(inv): State<Inventory>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut q = ListQuery::new(params);
    let paging = q.paging_or(Order::Asc);
    q.finish()?;
    Ok(ok(&inv.products(by_id(&paging)).await?))
}

#[utoipa::path(get, path = "/products/{id}", tag = "products", params(("id" = String, Path)),
    responses((status = 200, body = Product), (status = 404, body = ErrorBody)))]
pub(super) async fn get_product(
    State(inv): State<Inventory>,
    Path(id): Path<String>,
    _: NoQuery,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("id", format!("no product {id}"));
    let pid = ProductId::parse(id.as_str()).map_err(|_| not_found())?;
    let product = inv.product(&pid).await?.ok_or_else(not_found)?;
    Ok(ok(&product))
}

#[utoipa::path(post, path = "/stores", tag = "stores", request_body = NewStore,
    params(("Idempotency-Key" = Option<String>, Header, description = "replays the first answer for the same body")),
    responses(
        (status = 201, body = Store), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`store_already_exists`"), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
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

#[utoipa::path(get, path = "/stores", tag = "stores",
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query, description = "1–500; without page or page_size, every store"),
        ("order" = Option<String>, Query, description = "asc|desc by id (default asc)")),
    responses((status = 200, body = Vec<Store>), (status = 400, body = ErrorBody)))]
pub(super) async fn list_stores(
    State(inv): State<Inventory>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut q = ListQuery::new(params);
    let paging = q.paging_or(Order::Asc);
    q.finish()?;
    Ok(ok(&inv.stores(by_id(&paging)).await?))
}

#[utoipa::path(get, path = "/stores/{id}", tag = "stores", params(("id" = String, Path)),
    responses((status = 200, body = Store), (status = 404, body = ErrorBody)))]
pub(super) async fn get_store(
    State(inv): State<Inventory>,
    Path(id): Path<String>,
    _: NoQuery,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("id", format!("no store {id}"));
    let sid = StoreId::parse(id.as_str()).map_err(|_| not_found())?;
    let store = inv.store(&sid).await?.ok_or_else(not_found)?;
    Ok(ok(&store))
}

#[utoipa::path(post, path = "/admin/rebuild-read-models", tag = "admin",
    responses((status = 200, description = "`{\"rebuilt\": {\"products\": n, \"stores\": n}}`"), (status = 401, body = ErrorBody)))]
pub(super) async fn rebuild(State(inv): State<Inventory>) -> Result<Response, ApiError> {
    let (products, stores) = inv.rebuild_read_models().await?;
    Ok(ok(
        &serde_json::json!({"rebuilt": {"products": products, "stores": stores}}),
    ))
}
