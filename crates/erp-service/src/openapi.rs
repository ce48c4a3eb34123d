//! OpenAPI: the schemas every service shares (the error body, lines), the
//! common routes (health, metrics), the error answers every operation can
//! give, and `GET /openapi.json`. Each service describes its own routes with
//! `utoipa` on its handlers and passes its document through [`document`].
//! No UI is served: tools read the JSON.

use axum::{Json, Router, routing::get};
use utoipa::{
    OpenApi, ToSchema,
    openapi::{
        ContentBuilder, OpenApi as Document, Ref, RefOr, Required, ResponseBuilder,
        header::HeaderBuilder,
        path::{HttpMethod, Operation, Parameter, ParameterBuilder, ParameterIn},
        schema::{ObjectBuilder, Schema, Type},
    },
};

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

/// The routes every service has.
#[derive(OpenApi)]
#[openapi(
    paths(crate::health::live, crate::health::ready, crate::metrics::render),
    components(schemas(ErrorBody, ErrorDetail, Problem))
)]
pub struct CommonApi;

/// The common part, to merge into a service's document.
pub fn common() -> Document {
    CommonApi::openapi()
}

/// A service's whole document: its own routes, the [`common`] ones, and on
/// every operation the error answers the shared layers can give
/// ([`with_shared_errors`]).
pub fn document(own: Document) -> Document {
    let mut doc = own;
    doc.merge(common());
    with_required_path_parameters(with_shared_errors(doc))
}

/// Marks every path parameter required, as OpenAPI demands of them
/// (`utoipa` leaves `required` unset on a parameter given `schema_with`).
pub fn with_required_path_parameters(mut doc: Document) -> Document {
    for item in doc.paths.paths.values_mut() {
        for op in [item.get.as_mut(), item.post.as_mut()]
            .into_iter()
            .flatten()
        {
            for param in op.parameters.iter_mut().flatten() {
                if param.parameter_in == ParameterIn::Path {
                    param.required = Required::True;
                }
            }
        }
    }
    doc
}

/// A required query parameter with `schema`, for the parameters `utoipa`'s
/// derive cannot mark required (see [`with_required_path_parameters`]).
pub fn required_query(name: &str, schema: impl Into<RefOr<Schema>>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::True)
        .schema(Some(schema))
        .build()
}

/// Adds to each operation the answers that the shared layers give, where the
/// operation does not describe them itself:
///
/// - every route but health and metrics: 400 `invalid_query` (a query
///   parameter it does not read), 500 `internal`, 503 `request_timeout`
///   with `Retry-After` (the deadline, [`crate::http::REQUEST_TIMEOUT`]);
/// - writes (POST): 400 `malformed_json` or `invalid_idempotency_key`,
///   401 `unauthorized` (with `--api-token`), 413 `payload_too_large`,
///   422 `validation_failed` listing every problem;
/// - `/admin/` routes: 403 `admin_disabled` (no `--admin-token` set).
pub fn with_shared_errors(mut doc: Document) -> Document {
    for (path, item) in doc.paths.paths.iter_mut() {
        if path.starts_with("/health/") || path == "/metrics" {
            continue;
        }
        let admin = path.starts_with("/admin/");
        for (method, op) in [
            (HttpMethod::Get, item.get.as_mut()),
            (HttpMethod::Post, item.post.as_mut()),
        ] {
            let Some(op) = op else { continue };
            let write = method == HttpMethod::Post;
            add(
                op,
                "400",
                if write {
                    "`malformed_json`, `invalid_idempotency_key`, or `invalid_query` (a query parameter this route does not read)"
                } else {
                    "`invalid_query`: every bad or unknown query parameter"
                },
            );
            if write {
                add(
                    op,
                    "401",
                    "`unauthorized`: the service runs with `--api-token` and the request does not carry it",
                );
                add(op, "413", "`payload_too_large`: the body exceeds 64 KiB");
                add(
                    op,
                    "422",
                    "`validation_failed`: every invalid field in `details`",
                );
            }
            if admin {
                add(
                    op,
                    "403",
                    "`admin_disabled`: the service runs without `--admin-token`",
                );
            }
            add(
                op,
                "500",
                "`internal`: an unexpected fault; nothing of it is in the body",
            );
            add_retryable(
                op,
                "503",
                "`request_timeout` (the request ran past the server's deadline), or a dependency is unavailable",
            );
        }
    }
    doc
}

fn error_answer(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    )
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(error_answer(description).build()));
}

fn add_retryable(op: &mut Operation, status: &str, description: &str) {
    let retry_after = HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        )
        .description(Some("whole seconds to wait before retrying"))
        .build();
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| {
            RefOr::T(
                error_answer(description)
                    .header("Retry-After", retry_after)
                    .build(),
            )
        });
}

/// `GET /openapi.json` serving `doc`.
pub fn routes(doc: Document) -> Router {
    let json = serde_json::to_value(&doc).expect("an OpenAPI document serializes");
    Router::new().route(
        "/openapi.json",
        get(move || async move { Json(json.clone()) }),
    )
}
