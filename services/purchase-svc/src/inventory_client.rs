//! purchase-svc → inventory over gRPC. Every call passes through the tower
//! stack built in [`InventoryClient::connect`]: a circuit breaker around a
//! per-call timeout around the channel, so timeouts count as failures and an
//! open breaker answers at once without touching the network.

use std::time::Duration;

use erp_core::{EventLine, ProductId, StoreId};
use erp_resilience::{
    BreakerConfig, BreakerOpen, CircuitBreaker, CircuitBreakerLayer, breaker::GrpcFailures,
};
use proto::erp::inventory::v1::{CheckPurchaseRequest, PurchaseLine, inventory_client};
use tonic::transport::{Channel, Endpoint};
use tower::ServiceBuilder;

/// The transport every call goes through. A concrete stack rather than a
/// boxed service: tonic's generated client over a boxed service trips a
/// higher-ranked lifetime error inside axum handlers.
type GrpcTransport = CircuitBreaker<tower::timeout::Timeout<Channel>, GrpcFailures>;

/// Inventory could not answer (down, too slow, failing, or the breaker is open).
#[derive(Debug, thiserror::Error)]
#[error("inventory is unavailable: {reason}")]
pub struct InventoryUnavailable {
    /// What happened, for logs.
    pub reason: String,
    /// When to try again, in whole seconds (≥ 1).
    pub retry_after_secs: u64,
}

/// What inventory said about a purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseCheck {
    /// Whether the store exists.
    pub store_known: bool,
    /// Unknown products, in request order.
    pub unknown_products: Vec<ProductId>,
    /// Whether the store's capacity holds the purchase.
    pub capacity_ok: bool,
    /// Units in the store now.
    pub total_units: i64,
    /// The store's capacity.
    pub capacity: Option<i64>,
}

/// The gRPC client.
#[derive(Debug, Clone)]
pub struct InventoryClient {
    inner: inventory_client::InventoryClient<GrpcTransport>,
    token: Option<erp_service::auth::ApiToken>,
}

impl InventoryClient {
    /// A client for `url` (e.g. `http://127.0.0.1:50051`). Connects lazily,
    /// so the service starts while inventory is still down.
    pub fn connect(
        url: &str,
        timeout: Duration,
        breaker: BreakerConfig,
        token: Option<erp_service::auth::ApiToken>,
    ) -> anyhow::Result<Self> {
        let channel: Channel = Endpoint::from_shared(url.to_owned())?
            .connect_timeout(timeout)
            .connect_lazy();
        let transport = ServiceBuilder::new()
            .layer(CircuitBreakerLayer::new(
                "inventory-grpc",
                breaker,
                GrpcFailures,
            ))
            .layer(tower::timeout::TimeoutLayer::new(timeout))
            .service(channel);
        Ok(Self {
            inner: inventory_client::InventoryClient::new(transport),
            token,
        })
    }

    /// Asks whether the store and products exist and the capacity holds.
    pub async fn check_purchase(
        &self,
        store: &StoreId,
        lines: &[EventLine],
        correlation_id: &str,
    ) -> Result<PurchaseCheck, InventoryUnavailable> {
        let request = CheckPurchaseRequest {
            store_id: store.to_string(),
            lines: lines
                .iter()
                .map(|l| PurchaseLine {
                    product_id: l.product_id.to_string(),
                    quantity: l.quantity.get(),
                })
                .collect(),
        };
        let mut request = tonic::Request::new(request);
        if let Ok(id) = correlation_id.parse() {
            request.metadata_mut().insert("x-request-id", id);
        }
        const RPC: (&str, &str) = ("erp.inventory.v1.Inventory", "CheckPurchase");
        const PATH: &str = "/erp.inventory.v1.Inventory/CheckPurchase";
        let span = erp_service::outbound::grpc_client_span(RPC.0, RPC.1);
        if let Some(tp) = erp_service::outbound::traceparent(&span, correlation_id)
            && let Ok(tp) = tp.parse()
        {
            request.metadata_mut().insert("traceparent", tp);
        }
        if let Some(token) = &self.token
            && let Ok(v) = tonic::metadata::MetadataValue::try_from(token.bearer().as_bytes())
        {
            request.metadata_mut().insert("authorization", v);
        }
        let started = std::time::Instant::now();
        let answer = tracing::Instrument::instrument(
            self.inner.clone().check_purchase(request),
            span.clone(),
        )
        .await;
        let code = match &answer {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        };
        erp_service::outbound::record_grpc_call(
            &span,
            crate::app::SOURCE,
            PATH,
            code as i32,
            started.elapsed(),
        );
        Self::answer(answer)
    }

    fn answer(
        result: Result<
            tonic::Response<proto::erp::inventory::v1::CheckPurchaseResponse>,
            tonic::Status,
        >,
    ) -> Result<PurchaseCheck, InventoryUnavailable> {
        let answer = result
            .map_err(|s| InventoryUnavailable {
                reason: format!("{:?}: {}", s.code(), s.message()),
                retry_after_secs: BreakerOpen::find(&s).map_or(1, BreakerOpen::retry_after_secs),
            })?
            .into_inner();
        let unknown_products = answer
            .unknown_products
            .iter()
            .map(|p| ProductId::parse(p))
            .collect::<Result<_, _>>()
            .map_err(|e| InventoryUnavailable {
                reason: format!("inventory sent a bad product id: {e}"),
                retry_after_secs: 1,
            })?;
        Ok(PurchaseCheck {
            store_known: answer.store_known,
            unknown_products,
            capacity_ok: answer.capacity_ok,
            total_units: answer.total_units,
            capacity: answer.capacity,
        })
    }
}
