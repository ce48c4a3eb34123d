//! Step 6 — an outbound call behind a circuit breaker: before a redemption,
//! ask inventory whether the product exists (`GET /products/{id}`). When
//! inventory keeps failing, the breaker opens and answers at once, so
//! requests fail fast (503 with `Retry-After`) instead of piling up.

use std::{future::Future, pin::Pin, time::Duration};

use erp_resilience::{
    BoxError, BreakerConfig, BreakerOpen, CircuitBreaker, CircuitBreakerLayer, breaker::ErrorsOnly,
};
use erp_service::erp_core::ProductId;
use tower::{Layer, ServiceExt, timeout::Timeout, util::BoxCloneSyncService};

/// What inventory said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// It exists.
    Known,
    /// Inventory has no such product.
    Unknown,
}

/// Inventory could not answer; retry after this many seconds.
#[derive(Debug, thiserror::Error)]
#[error("inventory is unavailable: {reason}")]
pub struct Unavailable {
    /// Why.
    pub reason: String,
    /// When to try again.
    pub retry_after_secs: u64,
}

type Transport = BoxCloneSyncService<String, reqwest::Response, BoxError>;

/// One GET. A 5xx is a failure of inventory, as much as no answer; the
/// breaker counts both.
async fn fetch(http: reqwest::Client, url: String) -> Result<reqwest::Response, BoxError> {
    let response = http.get(url).send().await?;
    if response.status().is_server_error() {
        return Err(format!("inventory answered {}", response.status()).into());
    }
    Ok(response)
}

/// The client: a breaker around a per-call timeout around reqwest.
#[derive(Clone)]
pub struct InventoryClient {
    base: String,
    calls: CircuitBreaker<Timeout<Transport>, ErrorsOnly>,
}

impl InventoryClient {
    /// A client of inventory at `base_url`, e.g. `http://127.0.0.1:8083`.
    pub fn new(base_url: &str) -> Self {
        let http = reqwest::Client::new();
        let get = tower::service_fn(move |url: String| fetch(http.clone(), url));
        let timed = Timeout::new(BoxCloneSyncService::new(get), Duration::from_secs(1));
        let calls = CircuitBreakerLayer::new("inventory", BreakerConfig::default(), ErrorsOnly)
            .layer(timed);
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
            calls,
        }
    }

    /// Whether inventory knows `product`.
    pub async fn product(&self, product: &ProductId) -> Result<Product, Unavailable> {
        let url = format!("{}/products/{product}", self.base);
        // Boxed here, where every type is concrete: held unboxed inside an
        // axum handler's future, the layers' generic future trips rustc's
        // "not general enough" check of `Send` (rust-lang/rust#64552).
        let call: Pin<Box<dyn Future<Output = Result<reqwest::Response, BoxError>> + Send>> =
            Box::pin(self.calls.clone().oneshot(url));
        match call.await {
            Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => Ok(Product::Unknown),
            Ok(r) if r.status().is_success() => Ok(Product::Known),
            Ok(r) => Err(Unavailable {
                reason: format!("inventory answered {}", r.status()),
                retry_after_secs: 1,
            }),
            Err(e) => Err(Unavailable {
                retry_after_secs: BreakerOpen::find(e.as_ref())
                    .map_or(1, BreakerOpen::retry_after_secs),
                reason: e.to_string(),
            }),
        }
    }
}
