//! The REST API (design §5, sales-svc).

use std::{collections::HashMap, sync::Arc};

use axum::{
    Extension, Router,
    extract::{Path, Query, State},
    http::HeaderMap,
    response::Response,
    routing::{get, post},
};
use erp_core::{ProductId, QueryHandler, SaleId};
use erp_domain::trade::{
    DocumentKind, DocumentList, LineRequest, SortParam, lines_schema, parse_request, party_schema,
};
use erp_service::openapi::ErrorBody;
use erp_service::{
    ApiError, JsonBody,
    http::{correlation_id, created, ok},
    idempotency::{IdempotencyKeyHeader, IdempotencyLayer, IdempotentRequest},
    list::{IdFilterParams, ListQuery, PageParamsDesc, RangeParams, UuidIdParam},
    rules::{optional_text_id_schema, optional_timestamp_schema, text_id_schema},
};
use erp_store::IdempotencyStore;

use crate::domain::Sale;

/// `POST /sales` body. Unknown fields are refused; `null` means absent.
#[derive(Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the JSON `parse_request` reads
pub struct NewSale {
    /// Default `main`.
    #[schema(schema_with = optional_text_id_schema, required = false)]
    store_id: Option<String>,
    /// Default now.
    #[schema(schema_with = optional_timestamp_schema, required = false)]
    sold_at: Option<String>,
    #[schema(schema_with = party_schema, required = false)]
    customer: Option<String>,
    #[schema(schema_with = lines_schema)]
    lines: Vec<LineRequest>,
}

/// Sales as a list sorts them: by `sold_at` (the default) or `total`.
pub struct SalesList;

impl DocumentKind for SalesList {
    const SORTS: [&'static str; 2] = ["sold_at", "total"];
}

/// The required `product_id` of `GET /sales/summary`.
struct SummaryProduct;

impl utoipa::IntoParams for SummaryProduct {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![erp_service::openapi::required_query(
            "product_id",
            text_id_schema(),
        )]
    }
}

/// A page of sales.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documents the JSON `DocumentList::body` writes
pub struct SalePage {
    items: Vec<Sale>,
    page: u64,
    page_size: u64,
    total_items: u64,
}

/// The OpenAPI document: sale routes plus the common ones.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "sales-svc"),
    paths(create, list, get_one, rebuild, summary),
    components(schemas(
        Sale,
        NewSale,
        SalePage,
        LineRequest,
        erp_domain::trade::LineView,
        crate::app::Summary
    ))
)]
pub struct ApiDoc;

/// The full document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    erp_service::openapi::document(<ApiDoc as utoipa::OpenApi>::openapi())
}

use crate::app::{Sales, SummaryQuery};

/// The sales routes (without health and the shared layers).
pub fn router(sales: Sales, idempotency_store: Arc<dyn IdempotencyStore>) -> Router {
    Router::new()
        .route(
            "/sales",
            post(create)
                .layer(IdempotencyLayer::new(idempotency_store))
                .get(list),
        )
        .route("/sales/summary", get(summary))
        .route("/sales/{id}", get(get_one))
        .route("/admin/rebuild-read-models", post(rebuild))
        .with_state(sales)
        .merge(erp_service::openapi::routes(openapi()))
}

#[utoipa::path(post, path = "/sales", tag = "sales", request_body = NewSale,
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, body = Sale, description = "recorded",
            headers(("Location" = String, description = "the new sale"))),
        (status = 409, body = ErrorBody, description = "`insufficient_stock` (a detail per short line), or `request_in_progress`"),
        (status = 422, body = ErrorBody, description = "`validation_failed` (every problem), `unknown_product`, `unknown_store`, `idempotency_key_reused`"),
        (status = 503, body = ErrorBody, description = "`inventory_unavailable`, with `Retry-After`"),
    ))]
async fn create(
    State(s): State<Sales>,
    headers: HeaderMap,
    keyed: Option<Extension<IdempotentRequest>>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let request = parse_request(&body, "sold_at", "customer")?;
    let key_id = keyed.map(|Extension(k)| SaleId::from_uuid(k.derived_id()));
    let sale = s.record(request, &correlation_id(&headers), key_id).await?;
    Ok(created(&format!("/sales/{}", sale.id), &sale))
}

#[utoipa::path(get, path = "/sales", tag = "sales",
    params(RangeParams, IdFilterParams, PageParamsDesc, SortParam<SalesList>),
    responses((status = 200, body = SalePage),
        (status = 400, body = ErrorBody, description = "`invalid_query`: every bad or unknown parameter, or `from` after `to`")))]
async fn list(
    State(s): State<Sales>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let list = DocumentList::parse(params, &SalesList::SORTS)?;
    let page = s.list(&list.query).await?;
    Ok(ok(&list.body(page)))
}

#[utoipa::path(get, path = "/sales/summary", tag = "sales",
    params(SummaryProduct, RangeParams),
    responses((status = 200, body = crate::app::Summary),
        (status = 400, body = ErrorBody, description = "`invalid_query`: `product_id` missing or bad, a bad or unknown parameter, or `from` after `to`")))]
async fn summary(
    State(s): State<Sales>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut q = ListQuery::new(params);
    let product = q.required("product_id", ProductId::parse);
    let (from, to) = q.range();
    q.finish()?;
    let product = product.expect("finish() fails when product_id is missing or bad");
    Ok(ok(&s.handle(SummaryQuery { product, from, to }).await?))
}

#[utoipa::path(post, path = "/admin/rebuild-read-models", tag = "admin",
    responses((status = 200, description = "how many sales were replayed")))]
async fn rebuild(State(s): State<Sales>) -> Result<Response, ApiError> {
    let n = s.rebuild_read_models().await?;
    Ok(ok(&serde_json::json!({"rebuilt": {"sales": n}})))
}

#[utoipa::path(get, path = "/sales/{id}", tag = "sales", params(UuidIdParam),
    responses((status = 200, body = Sale), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(s): State<Sales>,
    Path(id): Path<String>,
    _: erp_service::list::NoQuery,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("id", format!("no sale {id}"));
    let sid = SaleId::parse(&id).map_err(|_| not_found())?;
    let sale = s.get(&sid).await?.ok_or_else(not_found)?;
    Ok(ok(&sale))
}
