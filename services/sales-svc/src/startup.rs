//! Wiring: adapters, projections, relay, inventory client and REST server.

use std::sync::Arc;

use erp_bus::{EventBus, relay::OutboxRelay};
use erp_core::Projections;
use erp_service::{
    runtime::{HttpService, publisher_health},
    stores::Stores,
};

use crate::{
    api,
    app::{Sales, SalesParts},
    config::Config,
    inventory_client::StockClient,
    projections::{SaleLinesProjection, SalesProjection},
};

/// A built, not yet running, sales-svc (listener already bound).
pub type Application = HttpService;

/// Builds sales-svc on `bus`, with the store chosen by `config`.
pub async fn build(config: &Config, bus: Arc<dyn EventBus>) -> anyhow::Result<Application> {
    // The recorder first: the consumer and relay register their series
    // as they are built.
    erp_service::metrics::handle();
    let stores = Stores::open(&config.common, &config.database).await?;
    let views = stores
        .read_model(
            "sale_views",
            &["sold_at", "total", "store_id", "lines.product_id"],
        )
        .await;
    let lines = stores
        .read_model("sale_lines", &["product_id", "sold_at"])
        .await;
    let projections = Projections::new(vec![
        Arc::new(SalesProjection(views.clone())),
        Arc::new(SaleLinesProjection(lines.clone())),
    ]);
    let relay = OutboxRelay::new(stores.outbox(), bus.clone())
        .with_service("sales-svc")
        .with_projections(projections);
    let sales = Sales::new(SalesParts {
        store: stores.write_store("sales"),
        views,
        lines,
        inventory: StockClient::new(&config.inventory_url, config.retry(), config.common.token()),
        relay: relay.handle(),
    });
    let health = publisher_health(&stores, bus);
    let router = erp_service::http::finish(
        api::router(
            sales,
            stores
                .idempotency(config.common.idempotency_retention())
                .await,
        )
        .merge(erp_service::health::routes(health.clone())),
        "sales-svc",
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
