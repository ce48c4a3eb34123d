//! Wiring: adapters, projection, relay, inventory client and REST server.

use std::sync::Arc;

use anyhow::Context;

use erp_bus::{EventBus, relay::OutboxRelay};
use erp_core::Projections;
use erp_service::{
    runtime::{HttpService, publisher_health},
    stores::Stores,
};

use crate::{
    api,
    app::{PurchaseParts, Purchases},
    config::Config,
    inventory_client::InventoryClient,
    projection::PurchasesProjection,
};

/// A built, not yet running, purchase-svc (listener already bound).
pub type Application = HttpService;

/// Builds purchase-svc on `bus`, with the store chosen by `config`.
pub async fn build(config: &Config, bus: Arc<dyn EventBus>) -> anyhow::Result<Application> {
    // The recorder first: the breaker registers its series when built.
    erp_service::metrics::handle();
    let stores = Stores::open(&config.common, &config.database).await?;
    let views = stores
        .read_model(
            "purchase_views",
            &["purchased_at", "total", "store_id", "lines.product_id"],
        )
        .await;
    let projections = Projections::new(vec![Arc::new(PurchasesProjection(views.clone()))]);
    let relay = OutboxRelay::new(stores.outbox(), bus.clone())
        .with_service("purchase-svc")
        .with_projections(projections);
    let purchases = Purchases::new(PurchaseParts {
        store: stores.write_store("purchases"),
        views,
        inventory: InventoryClient::connect(
            &config.inventory_grpc,
            config.inventory_timeout(),
            config.breaker(),
            config.common.token(),
        )
        .context("inventory gRPC endpoint")?,
        relay: relay.handle(),
    });
    let health = publisher_health(&stores, bus);
    let router = erp_service::http::finish(
        api::router(
            purchases,
            stores
                .idempotency(config.common.idempotency_retention())
                .await,
        )
        .merge(erp_service::health::routes(health.clone())),
        "purchase-svc",
        config.common.access(),
    );
    let lifecycle = erp_service::runtime::Lifecycle {
        health,
        grace: config.common.shutdown_grace(),
    };
    Ok(HttpService::bind(config.http_addr, router, lifecycle)
        .await?
        .with_relay(relay))
}
