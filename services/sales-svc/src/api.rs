//! The REST API (design §5, sales-svc).

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    extract::{Path, Query, State},
    http::HeaderMap,
    middleware::from_fn_with_state,
    response::Response,
    routing::{get, post},
};
use erp_core::{ProductId, SaleId};
use erp_service::{
    ApiError, JsonBody,
    http::{correlation_id, created, ok},
    idempotency::idempotency,
    list::ListQuery,
    trade::{DocumentList, parse_request},
};
use erp_store::IdempotencyStore;

use crate::app::Sales;

/// The sales routes (without health and the shared layers).
pub fn router(sales: Sales, idempotency_store: Arc<dyn IdempotencyStore>) -> Router {
    Router::new()
        .route(
            "/sales",
            post(create)
                .layer(from_fn_with_state(idempotency_store, idempotency))
                .get(list),
        )
        .route("/sales/summary", get(summary))
        .route("/sales/{id}", get(get_one))
        .route("/admin/rebuild-read-models", post(rebuild))
        .with_state(sales)
}

async fn create(
    State(s): State<Sales>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let request = parse_request(&body, "sold_at", "customer")?;
    let sale = s.record(request, &correlation_id(&headers)).await?;
    Ok(created(&format!("/sales/{}", sale.id), &sale))
}

async fn list(
    State(s): State<Sales>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let list = DocumentList::parse(params, "sold_at")?;
    let page = s.list(&list.query).await?;
    Ok(ok(&list.body(page)))
}

async fn summary(
    State(s): State<Sales>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mut q = ListQuery::new(params);
    let product = q.required("product_id", ProductId::parse);
    let (from, to) = q.range();
    q.finish()?;
    let product = product.expect("finish() fails when product_id is missing or bad");
    Ok(ok(&s.summary(product, from, to).await?))
}

async fn rebuild(State(s): State<Sales>) -> Result<Response, ApiError> {
    let n = s.rebuild_read_models().await?;
    Ok(ok(&serde_json::json!({"rebuilt": {"sales": n}})))
}

async fn get_one(State(s): State<Sales>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("id", format!("no sale {id}"));
    let sid = SaleId::parse(&id).map_err(|_| not_found())?;
    let sale = s.get(&sid).await?.ok_or_else(not_found)?;
    Ok(ok(&sale))
}
