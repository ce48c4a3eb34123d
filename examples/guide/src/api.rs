//! Step 5 — the REST routes: JSON errors listing every problem, and an
//! `Idempotency-Key` that makes a retried POST safe.

use std::sync::Arc;

use erp_service::{
    ApiError, JsonBody,
    axum::{
        Extension, Router,
        extract::{Path, State},
        http::HeaderMap,
        response::Response,
        routing::{get, post},
    },
    erp_core::{Problems, ProductId},
    erp_store::IdempotencyStore,
    fields::{get as field, integer, only, parsed, required},
    http::{correlation_id, created, ok},
    idempotency::{IdempotentRequest, IdempotencyLayer},
    list::NoQuery,
    rules::{Text, Whole},
};

use crate::app::Loyalty;

/// A customer's name or number.
const CUSTOMER: Text = Text::max(200);
/// Points per redemption.
const POINTS: Whole = Whole::range(1, 1_000_000_000);

/// The routes (without health, metrics and the shared layers).
pub fn router(loyalty: Loyalty, keys: Arc<dyn IdempotencyStore>) -> Router {
    Router::new()
        .route(
            "/redemptions",
            post(redeem).layer(IdempotencyLayer::new(keys)),
        )
        .route("/redemptions/{id}", get(redemption))
        .route("/customers/{customer}/points", get(points))
        .route("/admin/rebuild-read-models", post(rebuild))
        .with_state(loyalty)
}

/// `POST /redemptions {customer, product_id, points}` → 201.
async fn redeem(
    State(loyalty): State<Loyalty>,
    headers: HeaderMap,
    keyed: Option<Extension<IdempotentRequest>>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (customer, product, points) = parse_redemption(&body)?;
    // A key names the redemption: every retry of it lands on the same id.
    let (id, is_keyed) = match keyed {
        Some(Extension(k)) => (k.derived_id().to_string(), true),
        None => (erp_service::uuid::Uuid::now_v7().to_string(), false),
    };
    let r = loyalty
        .redeem(
            customer,
            product,
            points,
            id,
            is_keyed,
            &correlation_id(&headers),
        )
        .await?;
    Ok(created(&format!("/redemptions/{}", r.id), &r))
}

/// Parse, don't validate: each field into its type, every problem
/// collected, so one 422 lists them all.
fn parse_redemption(body: &JsonBody) -> Result<(String, ProductId, i64), ApiError> {
    let o = &body.0;
    let mut p = Problems::default();
    only(&mut p, "", o, &["customer", "product_id", "points"]);
    let customer = required(&mut p, "customer", field(o, "customer"))
        .and_then(|v| CUSTOMER.read(&mut p, "customer", v));
    let product = required(&mut p, "product_id", field(o, "product_id"))
        .and_then(|v| parsed(&mut p, "product_id", v, ProductId::parse));
    let points = required(&mut p, "points", field(o, "points"))
        .and_then(|v| integer(&mut p, "points", v, |n| POINTS.check(n)));
    let parsed = customer
        .zip(product)
        .zip(points)
        .map(|((c, pr), pt)| (c, pr, pt));
    Ok(p.finish(parsed)?)
}

async fn redemption(
    State(loyalty): State<Loyalty>,
    Path(id): Path<String>,
    _: NoQuery,
) -> Result<Response, ApiError> {
    let r = loyalty
        .redemption(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("id", format!("no redemption {id}")))?;
    Ok(ok(&r))
}

async fn points(
    State(loyalty): State<Loyalty>,
    Path(customer): Path<String>,
    _: NoQuery,
) -> Result<Response, ApiError> {
    Ok(ok(&loyalty.balance(&customer).await?))
}

async fn rebuild(State(loyalty): State<Loyalty>) -> Result<Response, ApiError> {
    let n = loyalty.rebuild_read_models().await?;
    Ok(ok(&serde_json::json!({"rebuilt": {"redemptions": n}})))
}
