//! `POST /admin/dead-letters/{queue}/redrive`: moves a consumed queue's dead
//! letters back into it, for operators, once what made them fail is fixed
//! (inventory dead-letters a sale naming an unknown product: create the
//! product, then redrive the sale). An admin route: disabled unless
//! `--admin-token` is set. A message redriven [`erp_bus::MAX_REDRIVES`]
//! times that failed again stays dead (`held` in the answer). To look at
//! dead letters first, use the broker's own tools (the RabbitMQ management
//! UI on :15672 lists `<queue>.dlq`; the `x-redrives` header counts).

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
    routing::post,
};
use erp_bus::{BusError, EventBus};
use serde::Serialize;

use crate::{ApiError, http::ok, rules::Whole};

/// Most dead letters one call moves.
pub const MAX_REDRIVE: usize = 10_000;
/// How many one call moves when `max` is not given.
pub const DEFAULT_REDRIVE: usize = 100;
/// `max`: 1 to [`MAX_REDRIVE`].
const MAX: Whole = Whole::range(1, MAX_REDRIVE as i64);

/// The `max` of the redrive route, for OpenAPI.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents what `redrive` reads
struct RedriveMax {
    #[param(schema_with = max_schema)]
    max: Option<u64>,
}

fn max_schema() -> utoipa::openapi::schema::Object {
    MAX.schema(Some(DEFAULT_REDRIVE as i64))
}

#[derive(Clone)]
struct Redrive {
    bus: Arc<dyn EventBus>,
    queues: Arc<[String]>,
}

/// What a redrive did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Redriven {
    /// The queue the dead letters went back into.
    pub queue: String,
    /// How many moved.
    pub redriven: usize,
    /// How many stayed dead, already redriven the maximum number of times.
    pub held: usize,
}

/// The route, for the queues this service consumes (any other → 404).
pub fn routes(bus: Arc<dyn EventBus>, queues: &[&str]) -> Router {
    Router::new()
        .route("/admin/dead-letters/{queue}/redrive", post(redrive))
        .with_state(Redrive {
            bus,
            queues: queues.iter().map(|q| (*q).to_owned()).collect(),
        })
}

/// Moves up to `max` dead letters of `queue` back into it, oldest first.
#[utoipa::path(post, path = "/admin/dead-letters/{queue}/redrive", tag = "admin",
    params(
        ("queue" = String, Path, description = "a queue this service consumes, e.g. `inventory.stock`"),
        RedriveMax,
    ),
    responses(
        (status = 200, body = Redriven),
        (status = 404, body = crate::openapi::ErrorBody, description = "not a queue of this service"),
        (status = 503, body = crate::openapi::ErrorBody, description = "`bus_unavailable`, with `Retry-After`"),
    ))]
async fn redrive(
    State(r): State<Redrive>,
    Path(queue): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let Some(queue) = r.queues.iter().find(|q| **q == queue) else {
        return Err(ApiError::not_found(
            "queue",
            format!("this service consumes no queue {queue}"),
        ));
    };
    let mut q = crate::list::ListQuery::new(params);
    let max = q
        .optional("max", |raw| MAX.parse(raw))
        // The rule's bounds are positive and small.
        .map_or(DEFAULT_REDRIVE, |n| n.unsigned_abs() as usize);
    q.finish()?;
    let done = r
        .bus
        .redrive_dead_letters(queue, max)
        .await
        .map_err(|e: BusError| {
            tracing::warn!(error = %e, queue, "redrive failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "bus_unavailable",
                "the message bus is unavailable; retry later",
            )
            .with_retry_after(1)
        })?;
    Ok(ok(&Redriven {
        queue: (*queue).to_owned(),
        redriven: done.moved,
        held: done.held,
    }))
}

/// The OpenAPI part of [`routes`], to merge into a consuming service's document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(redrive), components(schemas(Redriven)))]
pub struct DeadLetterApi;
