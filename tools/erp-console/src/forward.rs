//! `/svc/<service>/<path>`: the page's calls to the services, forwarded, so
//! the page needs no cross-origin access and works with any service URLs.

use std::{collections::HashMap, sync::Arc, time::Duration};

use erp_service::{
    axum::{
        body::{Body, Bytes},
        extract::{Path, State},
        http::{HeaderMap, HeaderName, Method, StatusCode, Uri, header},
        response::{IntoResponse, Response},
    },
    error::ApiError,
};

/// The services' base URLs by name (`purchase`, `sales`, `inventory`,
/// `notification`).
#[derive(Debug, Clone, Default)]
pub struct Targets(pub HashMap<&'static str, String>);

impl Targets {
    /// The base URL of `service`.
    pub fn url(&self, service: &str) -> Option<&str> {
        self.0.get(service).map(String::as_str)
    }
}

/// What the forwarder needs: where, and a client.
#[derive(Clone)]
pub struct Forwarder {
    pub(crate) targets: Arc<Targets>,
    pub(crate) client: reqwest::Client,
}

impl Forwarder {
    /// Forwards to `targets`.
    pub fn new(targets: Targets) -> Self {
        Self {
            targets: Arc::new(targets),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a client with a timeout builds"),
        }
    }
}

/// Request headers passed on; the rest (cookies, host) stay here.
const REQUEST_HEADERS: [HeaderName; 5] = [
    header::ACCEPT,
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    HeaderName::from_static("idempotency-key"),
    HeaderName::from_static("x-request-id"),
];

/// Response headers passed back.
const RESPONSE_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::LOCATION,
    header::RETRY_AFTER,
    HeaderName::from_static("x-request-id"),
];

/// `ANY /svc/{service}/{*path}`. The path and query are passed on as the
/// page wrote them (still percent-encoded), not as decoded by routing.
pub async fn forward(
    State(f): State<Forwarder>,
    Path((service, _)): Path<(String, String)>,
    uri: Uri,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(base) = f.targets.url(&service) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_service",
            format!("no service {service:?} behind this console"),
        )
        .into_response();
    };
    let prefix = format!("/svc/{service}");
    let rest = uri
        .path_and_query()
        .map_or("", |p| p.as_str())
        .strip_prefix(prefix.as_str())
        .unwrap_or("/");
    let url = format!("{}{rest}", base.trim_end_matches('/'));
    let mut request = f.client.request(method, &url).body(body);
    for name in REQUEST_HEADERS {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(e) => {
            return ApiError::new(
                StatusCode::BAD_GATEWAY,
                "service_unreachable",
                format!("{service} did not answer: {e}"),
            )
            .into_response();
        }
    };
    let status = answer.status();
    let mut back = Response::builder().status(status);
    for name in RESPONSE_HEADERS {
        if let Some(value) = answer.headers().get(&name) {
            back = back.header(name, value);
        }
    }
    match answer.bytes().await {
        Ok(bytes) => back
            .body(Body::from(bytes))
            .unwrap_or_else(|e| ApiError::internal(e).into_response()),
        Err(e) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "service_unreachable",
            format!("{service} broke off its answer: {e}"),
        )
        .into_response(),
    }
}
