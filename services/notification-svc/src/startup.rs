//! Wiring: stores, the consumer on its queue, health, metrics, the admin
//! dead-letter route and the runtime. No outbox relay: this service only
//! consumes.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use erp_service::{
    ServiceError,
    erp_bus::{EventBus, SubscriptionHandle},
    health::{FnCheck, Health},
    runtime::{HttpService, Lifecycle},
    stores::Stores,
};

use crate::{
    config::Config,
    consumer::{MailConsumer, subscription},
    mailer::{Addressing, Mailer, SmtpMailer},
};

/// The name in logs, metrics and traces.
pub const SERVICE: &str = "notification-svc";

/// A built service: bound, subscribed, not serving yet.
pub struct Application {
    http: HttpService,
    subscription: SubscriptionHandle,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("http", &self.http.http_addr())
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Builds the service on `bus`, mailing through `--smtp-url`.
    pub async fn build(config: &Config, bus: Arc<dyn EventBus>) -> Result<Self, ServiceError> {
        let mailer = SmtpMailer::new(&config.smtp_url).map_err(ServiceError::part)?;
        Self::build_with(config, bus, Arc::new(mailer)).await
    }

    /// Like [`Application::build`], mailing through `mailer` (all-in-one's
    /// directory of files).
    pub async fn build_with(
        config: &Config,
        bus: Arc<dyn EventBus>,
        mailer: Arc<dyn Mailer>,
    ) -> Result<Self, ServiceError> {
        erp_service::metrics::handle();
        for outcome in ["sent", "already_sent", "retried", "refused"] {
            metrics::counter!("erp_mails_total", "outcome" => outcome).absolute(0);
        }
        let stores = Stores::open(&config.common, &config.database).await?;
        let addressing = Addressing {
            from: config.mail_from.clone(),
            to: config.mail_to.clone(),
        };
        let consumer = MailConsumer::new(addressing, mailer, stores.inbox().await);
        let server_ok = consumer.server_ok();
        let subscription = bus
            .subscribe(
                subscription(&config.queue, config.max_attempts),
                Arc::new(consumer),
            )
            .await
            .map_err(ServiceError::part)?;

        let attached = subscription.attached();
        let bus_for_health = bus.clone();
        let health = Health::new()
            .with(stores.health_check())
            .with(FnCheck::new("bus", true, move || {
                bus_for_health.status().connected
            }))
            .with(FnCheck::new("consumer", true, move || *attached.borrow()))
            // Reported, not required: while the server is down the service
            // is still right to consume (it retries and loses nothing).
            .with(FnCheck::new("mail_server", false, move || {
                AtomicBool::load(&server_ok, Ordering::Relaxed)
            }));
        let router = erp_service::http::finish(
            erp_service::dead_letters::routes(bus, &[&config.queue])
                .merge(erp_service::health::routes(health.clone())),
            SERVICE,
            config.common.access(),
        );
        let lifecycle = Lifecycle {
            health,
            grace: config.common.shutdown_grace(),
        };
        let http = HttpService::bind(config.http_addr, router, lifecycle).await?;
        Ok(Self { http, subscription })
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http.http_addr()
    }

    /// Serves until `shutdown` completes, then stops consuming (the mail in
    /// hand is finished first) and drains.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServiceError> {
        let served = self.http.run_until_stopped(shutdown).await;
        self.subscription.stop().await;
        served
    }
}
