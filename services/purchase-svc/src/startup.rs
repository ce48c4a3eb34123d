//! Wiring: adapters, projection, relay, inventory client and REST server.

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
    api, app::Purchases, config::Config, inventory_client::InventoryClient,
    projection::PurchasesProjection,
};

/// A built, not yet running, purchase service (listener already bound).
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
                "purchase_views",
                &["purchased_at", "total", "store_id", "lines.product_id"],
            )
            .await?;
        let projections = Projections::new(vec![Arc::new(PurchasesProjection(views.clone()))]);
        let relay = OutboxRelay::new(stores.outbox(), bus.clone()).with_projections(projections);
        let purchases = Purchases {
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
        };
        // The broker is optional for readiness: the outbox keeps accepted
        // purchases until it is back (design §7.6).
        let health =
            Health::new()
                .with(stores.health_check())
                .with(FnCheck::new("bus", false, move || bus.status().connected));
        let router = erp_service::http::finish(
            api::router(purchases, stores.idempotency()).merge(erp_service::health::routes(health)),
            "purchase-svc",
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
