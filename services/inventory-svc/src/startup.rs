//! Wiring: adapters, projections, relay, consumer, REST and gRPC servers.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::Router;
use erp_bus::{EventBus, SubscriptionHandle, relay::OutboxRelay};
use erp_core::Projections;
use erp_service::{
    health::{FnCheck, Health},
    stores::Stores,
};
use tokio::net::TcpListener;

use crate::{
    api,
    app::{Inventory, InventoryParts},
    config::Config,
    consumer::{StockConsumer, subscription},
    grpc,
    projections::{ProductsProjection, StoresProjection},
    stock::{MemoryStockLedger, StockLedger},
};

/// The ledger on the selected store.
async fn stock_ledger(stores: &Stores) -> anyhow::Result<Arc<dyn StockLedger>> {
    Ok(match stores {
        Stores::Memory(_) => Arc::new(MemoryStockLedger::default()),
        #[cfg(feature = "mongodb")]
        Stores::Mongo(db) => {
            Arc::new(crate::stock_mongo::MongoStockLedger::new(db.database()).await?)
        }
    })
}

/// A built, not yet running, inventory service. Listeners are bound in
/// [`Application::build`], so port 0 works and the ports are known early.
pub struct Application {
    http: TcpListener,
    grpc: TcpListener,
    router: Router,
    inventory: Inventory,
    relay: OutboxRelay,
    consumer: SubscriptionHandle,
    token: Option<erp_service::auth::ApiToken>,
    health: Health,
    grace: std::time::Duration,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("http", &self.http.local_addr().ok())
            .field("grpc", &self.grpc.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Builds the service on `bus`, with the store chosen by `config`.
    pub async fn build(config: &Config, bus: Arc<dyn EventBus>) -> anyhow::Result<Self> {
        // The recorder first: the consumer and relay register their series
        // as they are built.
        erp_service::metrics::handle();
        let stores = Stores::open(&config.common, &config.database).await?;
        let product_views = stores.read_model("product_views", &[]).await;
        let store_views = stores.read_model("store_views", &[]).await;
        let projections = Projections::new(vec![
            Arc::new(ProductsProjection(product_views.clone())),
            Arc::new(StoresProjection(store_views.clone())),
        ]);
        let relay = OutboxRelay::new(stores.outbox(), bus.clone())
            .with_service("inventory-svc")
            .with_projections(projections);
        let inventory = Inventory::new(InventoryParts {
            products: stores.write_store("products"),
            stores: stores.write_store("stores"),
            product_views,
            store_views,
            ledger: stock_ledger(&stores).await?,
            relay: relay.handle(),
            known: Default::default(),
        });
        inventory
            .ensure_main_store()
            .await
            .context("creating store main")?;
        let consumer = bus
            .subscribe(
                subscription(),
                Arc::new(StockConsumer::new(inventory.clone(), bus.clone())),
            )
            .await
            .context("subscribing to inventory.stock")?;

        let attached = consumer.attached();
        let bus_for_health = bus.clone();
        let health = Health::new()
            .with(stores.health_check())
            .with(FnCheck::new("bus", true, move || {
                bus_for_health.status().connected
            }))
            .with(FnCheck::new("consumer", true, move || *attached.borrow()));
        let router = erp_service::http::finish(
            api::router(
                inventory.clone(),
                stores
                    .idempotency(config.common.idempotency_retention())
                    .await,
                bus.clone(),
            )
            .merge(erp_service::health::routes(health.clone())),
            "inventory-svc",
            config.common.access(),
        );

        let http = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("binding REST on {}", config.http_addr))?;
        let grpc = TcpListener::bind(config.grpc_addr)
            .await
            .with_context(|| format!("binding gRPC on {}", config.grpc_addr))?;
        Ok(Self {
            http,
            grpc,
            router,
            inventory,
            relay,
            consumer,
            token: config.common.token(),
            health,
            grace: config.common.shutdown_grace(),
        })
    }

    /// The bound REST address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The bound gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The application layer, for in-process callers.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// Serves REST and gRPC, consumes and runs the relay until `shutdown`
    /// completes; then stops gracefully (see [`erp_service::runtime`]): the
    /// consumer takes no new message, lets those in flight finish and
    /// leaves the rest unacknowledged for redelivery.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let grpc_service = grpc::server(self.inventory.clone(), self.token.clone());
        let (reflection_v1, reflection_v1alpha) = grpc::reflection()?;
        let lifecycle = erp_service::runtime::Lifecycle {
            health: self.health.clone(),
            grace: self.grace,
        };
        let readiness = self.health;
        let grpc_listener = self.grpc;
        let consumer = self.consumer;
        erp_service::runtime::run(
            self.http,
            self.router,
            Some(self.relay),
            |cancel| async move {
                let grpc_health = crate::grpc_health::service(readiness, cancel.clone());
                let grpc = tonic::transport::Server::builder()
                    .layer(
                        tower_http::trace::TraceLayer::new_for_grpc()
                            .make_span_with(erp_service::http::RequestSpan("grpc"))
                            .on_response(erp_service::http::RecordStatus),
                    )
                    .layer(tower::util::MapRequestLayer::new(
                        erp_service::http::record_ids::<tonic::body::Body>,
                    ))
                    .layer(erp_service::grpc_metrics::GrpcServerMetrics::new(
                        crate::app::SOURCE,
                    ))
                    .add_service(grpc_service)
                    .add_service(reflection_v1)
                    .add_service(reflection_v1alpha)
                    .add_service(grpc_health)
                    .serve_with_incoming_shutdown(
                        tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
                        cancel.clone().cancelled_owned(),
                    );
                let grpc = async {
                    let r = grpc.await;
                    // A failed gRPC server stops the whole service.
                    cancel.cancel();
                    r
                };
                let stop_consuming = async {
                    cancel.cancelled().await;
                    consumer.stop().await;
                };
                let (grpc, ()) = tokio::join!(grpc, stop_consuming);
                grpc.map_err(|e| erp_service::ServiceError::part(format!("gRPC server: {e}")))
            },
            lifecycle,
            shutdown,
        )
        .await?;
        Ok(())
    }
}
