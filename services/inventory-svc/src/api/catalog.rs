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
    fields::{get, integer, only, parsed, required},
    http::{correlation_id, created, ok},
    idempotency::IdempotencyKeyHeader,
    list::{ListQuery, NoQuery, PageParamsAsc, Paging},
    rules::{Text, Whole, text_id_schema},
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

/// `POST /products` body. Unknown fields are refused.
#[derive(Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the JSON `parse_product` reads
pub(super) struct NewProduct {
    #[schema(schema_with = text_id_schema)]
    id: String,
    #[schema(schema_with = name_schema)]
    name: String,
    #[schema(schema_with = unit_schema)]
    unit: String,
}

/// `POST /stores` body. Unknown fields are refused; `null` means absent.
#[derive(Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the JSON `parse_store` reads
pub(super) struct NewStore {
    #[schema(schema_with = text_id_schema)]
    id: String,
    #[schema(schema_with = name_schema)]
    name: String,
    #[schema(schema_with = name_schema)]
    manager: String,
    /// Total units the store may hold; absent = unlimited.
    #[schema(schema_with = capacity_schema, required = false)]
    capacity: Option<i64>,
}

/// A product's or store's name, and a store's manager.
const NAME: Text = Text::max(200);
/// A product's unit of measure.
const UNIT: Text = Text::max(32);
/// A store's capacity; the top keeps capacity arithmetic far from overflow.
const CAPACITY: Whole = Whole::range(1, 1_000_000_000_000);

fn name_schema() -> utoipa::openapi::schema::Object {
    NAME.schema()
}

fn unit_schema() -> utoipa::openapi::schema::Object {
    UNIT.schema()
}

fn capacity_schema() -> utoipa::openapi::schema::Object {
    erp_service::rules::or_null(CAPACITY.schema(None))
}

/// `{id}` of `GET /products/{id}` and `GET /stores/{id}`.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // documents the path the handlers read
pub(super) struct IdParam {
    #[param(schema_with = text_id_schema)]
    id: String,
}

fn parse_product(body: &JsonBody) -> Result<Product, ApiError> {
    let o = &body.0;
    let mut p = Problems::default();
    only(&mut p, "", o, &["id", "name", "unit"]);
    let id = required(&mut p, "id", get(o, "id"))
        .and_then(|v| parsed(&mut p, "id", v, ProductId::parse));
    let name = required(&mut p, "name", get(o, "name")).and_then(|v| NAME.read(&mut p, "name", v));
    let unit = required(&mut p, "unit", get(o, "unit")).and_then(|v| UNIT.read(&mut p, "unit", v));
    let product = id
        .zip(name)
        .zip(unit)
        .map(|((id, name), unit)| Product { id, name, unit });
    Ok(p.finish(product)?)
}

fn parse_store(body: &JsonBody) -> Result<Store, ApiError> {
    let o = &body.0;
    let mut p = Problems::default();
    only(&mut p, "", o, &["id", "name", "manager", "capacity"]);
    let id =
        required(&mut p, "id", get(o, "id")).and_then(|v| parsed(&mut p, "id", v, StoreId::parse));
    let name = required(&mut p, "name", get(o, "name")).and_then(|v| NAME.read(&mut p, "name", v));
    let manager = required(&mut p, "manager", get(o, "manager"))
        .and_then(|v| NAME.read(&mut p, "manager", v));
    let capacity = match get(o, "capacity") {
        None => Some(None),
        Some(v) => integer(&mut p, "capacity", v, |n| CAPACITY.check(n).map(Some)),
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
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, body = Product, description = "registered",
            headers(("Location" = String, description = "the new product"))),
        (status = 409, body = ErrorBody, description = "`product_already_exists`, or `request_in_progress`"),
        (status = 422, body = ErrorBody, description = "`validation_failed` (every problem), or `idempotency_key_reused`"),
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
    params(PageParamsAsc),
    responses((status = 200, body = Vec<Product>, description = "every product by id; one page when `page` or `page_size` is given")))]
pub(super) async fn list_products(
    State(inv): State<Inventory>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut q = ListQuery::new(params);
    let paging = q.paging_or(Order::Asc);
    q.finish()?;
    Ok(ok(&inv.products(by_id(&paging)).await?))
}

#[utoipa::path(get, path = "/products/{id}", tag = "products", params(IdParam),
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
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, body = Store, description = "opened",
            headers(("Location" = String, description = "the new store"))),
        (status = 409, body = ErrorBody, description = "`store_already_exists`, or `request_in_progress`"),
        (status = 422, body = ErrorBody, description = "`validation_failed` (every problem), or `idempotency_key_reused`"),
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
    params(PageParamsAsc),
    responses((status = 200, body = Vec<Store>, description = "every store by id; one page when `page` or `page_size` is given")))]
pub(super) async fn list_stores(
    State(inv): State<Inventory>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut q = ListQuery::new(params);
    let paging = q.paging_or(Order::Asc);
    q.finish()?;
    Ok(ok(&inv.stores(by_id(&paging)).await?))
}

#[utoipa::path(get, path = "/stores/{id}", tag = "stores", params(IdParam),
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
    responses((status = 200, description = "`{\"rebuilt\": {\"products\": n, \"stores\": n}}`")))]
pub(super) async fn rebuild(State(inv): State<Inventory>) -> Result<Response, ApiError> {
    let (products, stores) = inv.rebuild_read_models().await?;
    Ok(ok(
        &serde_json::json!({"rebuilt": {"products": products, "stores": stores}}),
    ))
}
