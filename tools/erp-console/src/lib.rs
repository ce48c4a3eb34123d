//! # erp-console
//!
//! A live console in the browser (issue 14): stock per store and product
//! (table and bar chart, refreshed on each event), the latest events as
//! they happen, the purchase → inventory breaker, the sales retries, dead
//! letters with a redrive button, forms for products, stores, purchases and
//! sales, and an API explorer over each service's `/openapi.json`.
//!
//! The page is plain HTML, CSS and JavaScript written here (`assets/`),
//! compiled into the binary: no CDN, nothing fetched. Its server
//! - forwards `/svc/<service>/<path>` to the services ([`forward`]),
//!   passing the `Authorization` the page asks for;
//! - streams events from its own bus subscription ([`events`]);
//! - reads the services' `/metrics` for `/api/status` ([`status`]).
//!
//! `all-in-one` serves it on :8080; `erp-console` serves it for services
//! running as separate processes on RabbitMQ.

pub mod events;
pub mod forward;
pub mod status;

use std::sync::Arc;

use erp_service::{
    axum::{
        Router,
        http::header,
        response::{Html, IntoResponse},
        routing::{any, get},
    },
    erp_bus::{BusError, EventBus, SubscriptionHandle},
};

pub use forward::Targets;

/// The console's routes, and its subscription on `bus` (keep it: dropping
/// it stops the live events).
pub async fn start(
    targets: Targets,
    bus: Arc<dyn EventBus>,
) -> Result<(Router, SubscriptionHandle), BusError> {
    let feed = events::Feed::default();
    let subscription = bus
        .subscribe(events::subscription(), Arc::new(feed.clone()))
        .await?;
    let forwarder = forward::Forwarder::new(targets);
    let router = Router::new()
        .route(
            "/",
            get(|| async { Html(include_str!("../assets/index.html")) }),
        )
        .route(
            "/console.js",
            get(|| {
                asset(
                    "text/javascript; charset=utf-8",
                    include_str!("../assets/console.js"),
                )
            }),
        )
        .route(
            "/console.css",
            get(|| {
                asset(
                    "text/css; charset=utf-8",
                    include_str!("../assets/console.css"),
                )
            }),
        )
        .route("/api/events", get(events::stream_events).with_state(feed))
        .route(
            "/api/status",
            get(status::status).with_state(forwarder.clone()),
        )
        .route(
            "/svc/{service}/{*path}",
            any(forward::forward).with_state(forwarder),
        );
    Ok((router, subscription))
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type)], body)
}
