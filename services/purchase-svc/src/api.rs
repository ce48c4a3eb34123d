//! The REST API (design §5, purchase-svc).

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    extract::{Path, Query, State},
    http::HeaderMap,
    middleware::from_fn_with_state,
    response::Response,
    routing::{get, post},
};
use erp_core::PurchaseId;
use erp_service::{
    ApiError, JsonBody,
    http::{correlation_id, created, ok},
    idempotency::idempotency,
    trade::{DocumentList, parse_request},
};
use erp_store::IdempotencyStore;

use crate::app::Purchases;

/// The purchase routes (without health and the shared layers).
pub fn router(purchases: Purchases, idempotency_store: Arc<dyn IdempotencyStore>) -> Router {
    Router::new()
        .route(
            "/purchases",
            post(create)
                .layer(from_fn_with_state(idempotency_store, idempotency))
                .get(list),
        )
        .route("/purchases/{id}", get(get_one))
        .route("/admin/rebuild-read-models", post(rebuild))
        .with_state(purchases)
}

async fn create(
    State(p): State<Purchases>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let request = parse_request(&body, "purchased_at", "supplier")?;
    let purchase = p.record(request, &correlation_id(&headers)).await?;
    Ok(created(&format!("/purchases/{}", purchase.id), &purchase))
}

async fn list(
    State(p): State<Purchases>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let list = DocumentList::parse(params, "purchased_at")?;
    let page = p.list(&list.query).await?;
    Ok(ok(&list.body(page)))
}

async fn rebuild(State(p): State<Purchases>) -> Result<Response, ApiError> {
    let n = p.rebuild_read_models().await?;
    Ok(ok(&serde_json::json!({"rebuilt": {"purchases": n}})))
}

async fn get_one(State(p): State<Purchases>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("id", format!("no purchase {id}"));
    let pid = PurchaseId::parse(&id).map_err(|_| not_found())?;
    let purchase = p.get(&pid).await?.ok_or_else(not_found)?;
    Ok(ok(&purchase))
}
