//! Step 7 — wiring: flags, stores, the bus, the relay, the consumer, health,
//! metrics and the runtime. The same code runs on the in-memory adapters
//! (`--bus memory --store memory`, tests) and on RabbitMQ and MongoDB (the
//! defaults when the crate is built with erp-service's `rabbitmq` and
//! `mongodb` features, as here).

use std::{net::SocketAddr, sync::Arc};

use erp_service::{
    ServiceError,
    clap::Parser,
    config::CommonArgs,
    erp_bus::{
        EventBus, Subscription, SubscriptionHandle, projection::ProjectionConsumer,
        relay::OutboxRelay,
    },
    erp_core::Projections,
    health::{FnCheck, Health},
    runtime::{HttpService, Lifecycle},
    stores::Stores,
};

use crate::{
    api,
    app::{Loyalty, LoyaltyParts, SOURCE},
    inventory::InventoryClient,
    projections::{EarningsProjection, RedemptionsProjection},
};

/// loyalty-svc's flags: the SDK's common ones and its own.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "loyalty-svc",
    about = "Points for sales, redeemed for products"
)]
pub struct Config {
    /// REST listen address.
    #[arg(long, env = "LOYALTY_HTTP_ADDR", default_value = "127.0.0.1:8090")]
    pub http_addr: SocketAddr,
    /// Inventory's REST base URL.
    #[arg(
        long,
        env = "LOYALTY_INVENTORY_URL",
        default_value = "http://127.0.0.1:8083"
    )]
    pub inventory_url: String,
    /// The database name.
    #[arg(long, env = "LOYALTY_DATABASE", default_value = "loyalty")]
    pub database: String,
    /// Bus, store, tokens, logs, traces.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The queue loyalty-svc consumes `sale.completed` from.
pub const QUEUE: &str = "loyalty.sales";

/// A built service: bound, subscribed, not serving yet.
pub struct Application {
    http: HttpService,
    subscription: SubscriptionHandle,
    /// The state the routes use, for in-process callers and tests.
    pub loyalty: Loyalty,
}

impl Application {
    /// Builds the service on `bus` with the stores `config` selects.
    pub async fn build(config: &Config, bus: Arc<dyn EventBus>) -> Result<Self, ServiceError> {
        let stores = Stores::open(&config.common, &config.database).await?;
        let redemption_views = stores.read_model("redemption_views", &["customer"]).await;
        let earnings = stores.read_model("earnings", &["customer"]).await;

        // Our own events feed our projections; the relay publishes them.
        let relay = OutboxRelay::new(stores.outbox(), bus.clone())
            .with_service(SOURCE)
            .with_projections(Projections::new(vec![Arc::new(RedemptionsProjection(
                redemption_views.clone(),
            ))]));
        let loyalty = Loyalty::new(LoyaltyParts {
            redemptions: stores.write_store("redemptions"),
            redemption_views,
            earnings: earnings.clone(),
            inventory: InventoryClient::new(&config.inventory_url),
            relay: relay.handle(),
        });

        // Another service's events, each once: a projection behind an inbox.
        let consumer =
            ProjectionConsumer::new(Arc::new(EarningsProjection(earnings)), stores.inbox().await);
        let subscription = bus
            .subscribe(
                Subscription::new(QUEUE, &["sale.completed"]),
                Arc::new(consumer),
            )
            .await
            .map_err(ServiceError::part)?;

        let attached = subscription.attached();
        let health = Health::new().with(stores.health_check()).with(FnCheck::new(
            "consumer",
            true,
            move || *attached.borrow(),
        ));
        let router = erp_service::http::finish(
            api::router(
                loyalty.clone(),
                stores
                    .idempotency(config.common.idempotency_retention())
                    .await,
            )
            .merge(erp_service::health::routes(health.clone())),
            SOURCE,
            config.common.access(),
        );
        let lifecycle = Lifecycle {
            health,
            grace: config.common.shutdown_grace(),
        };
        let http = HttpService::bind(config.http_addr, router, lifecycle)
            .await?
            .with_relay(relay);
        Ok(Self {
            http,
            subscription,
            loyalty,
        })
    }

    /// The bound REST address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http.http_addr()
    }

    /// Serves until `shutdown` completes, then stops consuming and drains.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServiceError> {
        let served = self.http.run_until_stopped(shutdown).await;
        self.subscription.stop().await;
        served
    }
}
