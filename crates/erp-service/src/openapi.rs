//! OpenAPI: the schemas every service shares (the error body, lines), the
//! common routes (health, metrics), and `GET /openapi.json`. Each service
//! describes its own routes with `utoipa` on its handlers and merges
//! [`common`] into its document. No UI is served: tools read the JSON.

use axum::{Json, Router, routing::get};
use utoipa::{OpenApi, ToSchema, openapi::OpenApi as Document};

/// `{"error": {...}}`, the body of every error answer.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the JSON `ApiError` renders
pub struct ErrorBody {
    error: ErrorDetail,
}

/// The error itself.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// Stable, machine-readable, e.g. `validation_failed`, `unknown_product`.
    code: String,
    /// For humans.
    message: String,
    /// One entry per problem (every invalid field of a 422).
    details: Vec<Problem>,
}

/// One problem.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// A path into the request, e.g. `lines[2].quantity`.
    field: String,
    /// What is wrong.
    problem: String,
}

/// One line of a purchase or sale request.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct LineRequest {
    /// `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`; each product on one line only.
    product_id: String,
    /// ≥ 1.
    #[schema(minimum = 1)]
    quantity: i64,
    /// Minor units, ≥ 0.
    #[schema(minimum = 0)]
    unit_price: i64,
}

/// The routes every service has.
#[derive(OpenApi)]
#[openapi(
    paths(crate::health::live, crate::health::ready, crate::metrics::render),
    components(schemas(ErrorBody, ErrorDetail, Problem, LineRequest))
)]
pub struct CommonApi;

/// The common part, to merge into a service's document.
pub fn common() -> Document {
    CommonApi::openapi()
}

/// `GET /openapi.json` serving `doc`.
pub fn routes(doc: Document) -> Router {
    let json = serde_json::to_value(&doc).expect("an OpenAPI document serializes");
    Router::new().route(
        "/openapi.json",
        get(move || async move { Json(json.clone()) }),
    )
}
