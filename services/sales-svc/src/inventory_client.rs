//! sales-svc → inventory over REST (`GET /stock/{store_id}/{product_id}`).
//! Every call passes through the tower stack built in [`StockClient::new`]:
//! an overall deadline around the retry policy around a per-attempt timeout
//! around the HTTP client.

use bytes::Bytes;
use erp_core::{ProductId, StoreId};
use erp_resilience::{RetryConfig, RetryPolicy, retry::ATTEMPT_HEADER};
use http_body_util::{BodyExt, Empty};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use tower::{ServiceBuilder, ServiceExt, retry::Retry, timeout::Timeout};

type HttpTransport = Timeout<Retry<RetryPolicy, Timeout<Client<HttpConnector, Empty<Bytes>>>>>;

/// Inventory could not answer (down, too slow, or failing).
#[derive(Debug, thiserror::Error)]
#[error("inventory is unavailable: {0}")]
pub struct InventoryUnavailable(pub String);

/// What inventory said about one (store, product).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stock {
    /// Units on hand.
    OnHand(i64),
    /// Inventory knows no such store.
    UnknownStore,
    /// Inventory knows no such product.
    UnknownProduct,
}

/// The REST client.
#[derive(Debug, Clone)]
pub struct StockClient {
    base: String,
    transport: HttpTransport,
    token: Option<erp_service::auth::ApiToken>,
}

impl StockClient {
    /// A client for inventory at `base_url` (e.g. `http://127.0.0.1:8083`)
    /// with the retry settings of `retry` (design §8 by default).
    pub fn new(
        base_url: &str,
        retry: RetryConfig,
        token: Option<erp_service::auth::ApiToken>,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(retry.per_attempt));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let transport = ServiceBuilder::new()
            .timeout(retry.deadline)
            .retry(RetryPolicy::new(retry))
            .timeout(retry.per_attempt)
            .service(client);
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
            transport,
            token,
        }
    }

    /// Units on hand of `product` in `store`.
    pub async fn stock(
        &self,
        store: &StoreId,
        product: &ProductId,
        correlation_id: &str,
    ) -> Result<Stock, InventoryUnavailable> {
        let unavailable = |e: &dyn std::fmt::Display| InventoryUnavailable(e.to_string());
        // Ids match [A-Za-z0-9._-], so they need no percent-encoding.
        let uri = format!("{}/stock/{store}/{product}", self.base);
        let mut request = http::Request::get(&uri)
            .header(ATTEMPT_HEADER, "1")
            .header("x-request-id", correlation_id);
        let span = erp_service::outbound::http_client_span(&http::Method::GET, &uri);
        if let Some(tp) = erp_service::outbound::traceparent(&span, correlation_id) {
            request = request.header("traceparent", tp);
        }
        if let Some(token) = &self.token {
            request = request.header(http::header::AUTHORIZATION, token.bearer());
        }
        let request = request.body(Empty::new()).map_err(|e| unavailable(&e))?;
        // One client span over the call, its retries included.
        let response =
            tracing::Instrument::instrument(self.transport.clone().oneshot(request), span.clone())
                .await;
        erp_service::outbound::record_http_status(
            &span,
            response.as_ref().ok().map(http::Response::status),
        );
        let response = response.map_err(|e| unavailable(&e))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unavailable(&e))?
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        match status {
            http::StatusCode::OK => json["on_hand"]
                .as_i64()
                .map(Stock::OnHand)
                .ok_or_else(|| InventoryUnavailable("stock answer without on_hand".into())),
            http::StatusCode::NOT_FOUND => {
                let about_store = json["error"]["details"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|d| d["field"] == "store_id"));
                Ok(if about_store {
                    Stock::UnknownStore
                } else {
                    Stock::UnknownProduct
                })
            }
            other => Err(InventoryUnavailable(format!("inventory answered {other}"))),
        }
    }
}
