//! # erp-service
//!
//! The toolkit the three ERP services are built with, so that none of them
//! repeats another: everything here is the same for every service.
//!
//! | module | job |
//! |---|---|
//! | [`auth`] | `--api-token`: bearer token on write routes, constant-time compare |
//! | [`error`] | [`ApiError`]: the contract's JSON error body with the right status |
//! | [`failure`] | [`ServiceError`]: why a service could not start, or stopped on a fault |
//! | [`body`] | [`JsonBody`]: reads a request body (64 KiB limit → 413, bad JSON → 400) |
//! | [`fields`] | reading JSON fields while collecting every problem (→ 422) |
//! | [`dead_letters`] | `POST /admin/dead-letters/{queue}/redrive`: dead letters back into their queue |
//! | [`rebuild`] | rebuilding read models from the write side (`POST /admin/rebuild-read-models`) |
//! | [`metrics`] | `GET /metrics` (Prometheus) and request counting by route template |
//! | [`openapi`] | shared OpenAPI schemas, the error answers of every operation, and `GET /openapi.json` |
//! | [`rules`] | input rules (free text, ranges, ids) as one value for the check and the published schema |
//! | [`list`] | paging, ordering and date-range query parameters (→ 400) |
//! | [`idempotency`] | the `Idempotency-Key` middleware for creating POSTs |
//! | [`health`] | `/health/live` and `/health/ready` with per-dependency detail |
//! | [`http`] | the layers and fallbacks every router gets, and `serve` |
//! | [`config`] | flags shared by every binary, and picking adapters from them |
//! | [`telemetry`] | logs (`--log-format json|pretty`) and OpenTelemetry trace export over OTLP (`--otlp-endpoint`) |
//! | [`grpc_metrics`] | gRPC server and client metrics by RPC and status code |
//! | [`outbound`] | client spans of outbound gRPC and HTTP calls, and the `traceparent` they send |
//! | [`stores`] | the store adapters `--store` selects, behind one type |
//! | [`shared`] | [`Shared`]: handler state behind one `Arc` |
//! | [`runtime`] | running a service's HTTP server and outbox relay until shutdown |
//!
//! ## Example
//!
//! A route answering the contract's JSON errors, with the layers every
//! service gets (`/metrics`, request ids, deadline, JSON 404/405, the token
//! guard), driven in process:
//!
//! ```
//! use erp_service::{
//!     ApiError, auth::Access,
//!     axum::{Router, body::Body, http::{Request, StatusCode}, routing::get},
//! };
//! use tower::ServiceExt;
//!
//! async fn widget() -> Result<&'static str, ApiError> {
//!     Err(ApiError::not_found("id", "no widget 7"))
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let app = erp_service::http::finish(
//!     Router::new().route("/widgets/7", get(widget)),
//!     "widget-svc",
//!     Access::default(),
//! );
//! let answer = app
//!     .oneshot(Request::get("/widgets/7").body(Body::empty()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(answer.status(), StatusCode::NOT_FOUND);
//! let body = erp_service::axum::body::to_bytes(answer.into_body(), 1 << 16).await.unwrap();
//! let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
//! assert_eq!(body["error"]["code"], "not_found");
//! # });
//! ```

// Every public item is documented: the crate is used from other projects.
#![warn(missing_docs)]

pub mod auth;
pub mod body;
pub mod config;
pub mod dead_letters;
pub mod error;
pub mod failure;
pub mod fields;
pub mod grpc_metrics;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod list;
pub mod metrics;
pub mod openapi;
pub mod outbound;
pub mod rebuild;
pub mod rules;
pub mod runtime;
pub mod shared;
pub mod stores;
pub mod telemetry;

// The crates whose types appear in this crate's public signatures (routers,
// flags, OpenAPI documents, async traits, cancellation, derived ids) and the SDK's other
// crates: a service can depend on erp-service alone and never match their
// versions by hand.
pub use async_trait;
pub use axum;
pub use clap;
pub use erp_bus;
pub use erp_core;
pub use erp_store;
pub use tokio_util;
pub use utoipa;
pub use uuid;

pub use body::JsonBody;
pub use error::ApiError;
pub use failure::ServiceError;
pub use shared::Shared;
