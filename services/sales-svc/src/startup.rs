//! Wiring: adapters, projections, relay, inventory client and REST server.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::Router;
use erp_bus::{EventBus, relay::OutboxRelay};
use erp_core::Projections;
use erp_service::{
    health::{FnCheck, Health},
    stores::Stores,
};
use tokio::net::TcpListener;

use crate::{
    api,
    app::Sales,
    config::Config,
    inventory_client::StockClient,
    projections::{SaleLinesProjection, SalesProjection},
};

/// A built, not yet running, sales service (listener already bound).
pub struct Application {
    http: TcpListener,
    router: Router,
    relay: OutboxRelay,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("http", &self.http.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Builds the service on `bus`, with the store chosen by `config`.
    pub async fn build(config: &Config, bus: Arc<dyn EventBus>) -> anyhow::Result<Self> {
        let stores = Stores::open(&config.common, &config.database).await?;
        let views = stores
            .read_model(
                "sale_views",
                &["sold_at", "total", "store_id", "lines.product_id"],
            )
            .await?;
        let lines = stores
            .read_model("sale_lines", &["product_id", "sold_at"])
            .await?;
        let projections = Projections::new(vec![
            Arc::new(SalesProjection(views.clone())),
            Arc::new(SaleLinesProjection(lines.clone())),
        ]);
        let relay = OutboxRelay::new(stores.outbox(), bus.clone()).with_projections(projections);
        let sales = Sales {
            store: stores.write_store("sales"),
            views,
            lines,
            inventory: StockClient::new(
                &config.inventory_url,
                config.retry(),
                config.common.token(),
            ),
            relay: relay.handle(),
        };
        // The broker is optional for readiness: the outbox keeps accepted
        // sales until it is back (design §7.6).
        let health =
            Health::new()
                .with(stores.health_check())
                .with(FnCheck::new("bus", false, move || bus.status().connected));
        let router = erp_service::http::finish(
            api::router(sales, stores.idempotency()).merge(erp_service::health::routes(health)),
            "sales-svc",
            config.common.token(),
        );
        let http = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding REST on {}", config.http_addr))?;
        Ok(Self {
            http,
            router,
            relay,
        })
    }

    /// The bound REST address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves REST and runs the relay until `shutdown` completes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        erp_service::runtime::run(
            self.http,
            self.router,
            self.relay,
            |_| async { Ok(()) },
            shutdown,
        )
        .await
    }
}
