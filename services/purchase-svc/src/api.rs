//! The REST API (design §5, purchase-svc).

use std::{collections::HashMap, sync::Arc};

use axum::{
    Extension, Router,
    extract::{Path, Query, State},
    http::HeaderMap,
    response::Response,
    routing::{get, post},
};
use erp_core::PurchaseId;
use erp_domain::trade::{
    DocumentKind, DocumentList, LineRequest, SortParam, lines_schema, parse_request, party_schema,
};
use erp_service::openapi::ErrorBody;
use erp_service::{
    ApiError, JsonBody,
    http::{correlation_id, created, ok},
    idempotency::{IdempotencyKeyHeader, IdempotencyLayer, IdempotentRequest},
    list::{IdFilterParams, PageParamsDesc, RangeParams, UuidIdParam},
    rules::{optional_text_id_schema, optional_timestamp_schema},
};
use erp_store::IdempotencyStore;

use crate::domain::Purchase;

/// `POST /purchases` body. Unknown fields are refused; `null` means absent.
#[derive(Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the JSON `parse_request` reads
pub struct NewPurchase {
    /// Default `main`.
    #[schema(schema_with = optional_text_id_schema, required = false)]
    store_id: Option<String>,
    /// Default now.
    #[schema(schema_with = optional_timestamp_schema, required = false)]
    purchased_at: Option<String>,
    #[schema(schema_with = party_schema, required = false)]
    supplier: Option<String>,
    #[schema(schema_with = lines_schema)]
    lines: Vec<LineRequest>,
}

/// Purchases as a list sorts them: by `purchased_at` (the default) or `total`.
pub struct PurchasesList;

impl DocumentKind for PurchasesList {
    const SORTS: [&'static str; 2] = ["purchased_at", "total"];
}

/// A page of purchases.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documents the JSON `DocumentList::body` writes
pub struct PurchasePage {
    items: Vec<Purchase>,
    page: u64,
    page_size: u64,
    total_items: u64,
}

/// The OpenAPI document: purchase routes plus the common ones.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "purchase-svc"),
    paths(create, list, get_one, rebuild),
    components(schemas(
        Purchase,
        NewPurchase,
        PurchasePage,
        LineRequest,
        erp_domain::trade::LineView
    ))
)]
pub struct ApiDoc;

/// The full document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    erp_service::openapi::document(<ApiDoc as utoipa::OpenApi>::openapi())
}

use crate::app::Purchases;

/// The purchase routes (without health and the shared layers).
pub fn router(purchases: Purchases, idempotency_store: Arc<dyn IdempotencyStore>) -> Router {
    Router::new()
        .route(
            "/purchases",
            post(create)
                .layer(IdempotencyLayer::new(idempotency_store))
                .get(list),
        )
        .route("/purchases/{id}", get(get_one))
        .route("/admin/rebuild-read-models", post(rebuild))
        .with_state(purchases)
        .merge(erp_service::openapi::routes(openapi()))
}

#[utoipa::path(post, path = "/purchases", tag = "purchases", request_body = NewPurchase,
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, body = Purchase, description = "recorded",
            headers(("Location" = String, description = "the new purchase"))),
        (status = 409, body = ErrorBody, description = "`store_capacity_exceeded`, or `request_in_progress`"),
        (status = 422, body = ErrorBody, description = "`validation_failed` (every problem), `unknown_product`, `unknown_store`, `idempotency_key_reused`"),
        (status = 503, body = ErrorBody, description = "`inventory_unavailable`, with `Retry-After`"),
    ))]
async fn create(
    State(p): State<Purchases>,
    headers: HeaderMap,
    keyed: Option<Extension<IdempotentRequest>>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let request = parse_request(&body, "purchased_at", "supplier")?;
    let key_id = keyed.map(|Extension(k)| PurchaseId::from_uuid(k.derived_id()));
    let purchase = p.record(request, &correlation_id(&headers), key_id).await?;
    Ok(created(&format!("/purchases/{}", purchase.id), &purchase))
}

#[utoipa::path(get, path = "/purchases", tag = "purchases",
    params(RangeParams, IdFilterParams, PageParamsDesc, SortParam<PurchasesList>),
    responses((status = 200, body = PurchasePage),
        (status = 400, body = ErrorBody, description = "`invalid_query`: every bad or unknown parameter, or `from` after `to`")))]
async fn list(
    State(p): State<Purchases>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let list = DocumentList::parse(params, &PurchasesList::SORTS)?;
    let page = p.list(&list.query).await?;
    Ok(ok(&list.body(page)))
}

#[utoipa::path(post, path = "/admin/rebuild-read-models", tag = "admin",
    responses((status = 200, description = "how many purchases were replayed")))]
async fn rebuild(State(p): State<Purchases>) -> Result<Response, ApiError> {
    let n = p.rebuild_read_models().await?;
    Ok(ok(&serde_json::json!({"rebuilt": {"purchases": n}})))
}

#[utoipa::path(get, path = "/purchases/{id}", tag = "purchases", params(UuidIdParam),
    responses((status = 200, body = Purchase), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(p): State<Purchases>,
    Path(id): Path<String>,
    _: erp_service::list::NoQuery,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("id", format!("no purchase {id}"));
    let pid = PurchaseId::parse(&id).map_err(|_| not_found())?;
    let purchase = p.get(&pid).await?.ok_or_else(not_found)?;
    Ok(ok(&purchase))
}
