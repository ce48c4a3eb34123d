//! Running a service: its REST server, its outbox relay when it publishes
//! (plus any other server or consumer the service adds) until a shutdown
//! future completes, then a graceful stop: readiness turns 503 at once, the
//! servers stop accepting and finish what is in flight (the `extra` part
//! stops consuming the same way, leaving unacknowledged messages to the
//! broker), the relay finishes its pass, all within the grace period.

use std::{future::Future, net::SocketAddr, time::Duration};

use axum::Router;
use erp_bus::relay::OutboxRelay;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::ServiceError;

/// How a service stops: the readiness to turn 503 when shutdown begins, and
/// how long in-flight work may take after that.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    /// The readiness served by the service.
    pub health: crate::health::Health,
    /// The longest a graceful stop may take.
    pub grace: Duration,
}

/// Serves `router` on `listener` and runs `relay` (a service that only
/// consumes has none); `extra` is any other server (or consumer), handed a
/// token that fires when shutdown begins ([`no_extra`] when there is none).
/// Returns when `shutdown` completes and everything has stopped (or the
/// grace period ran out), or when a server fails.
pub async fn run<E>(
    listener: TcpListener,
    router: Router,
    relay: Option<OutboxRelay>,
    extra: impl FnOnce(CancellationToken) -> E,
    lifecycle: Lifecycle,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError>
where
    E: Future<Output = Result<(), ServiceError>>,
{
    let cancel = CancellationToken::new();
    // The relay stops last: whatever the servers wrote while draining is
    // still handed on.
    let relay_stop = CancellationToken::new();
    let relay = relay.map(|relay| tokio::spawn(relay.run(relay_stop.clone())));
    tokio::spawn(
        lifecycle
            .health
            .clone()
            .log_transitions(Duration::from_secs(2), cancel.clone()),
    );
    let stop = cancel.clone();
    let health = lifecycle.health.clone();
    let grace = lifecycle.grace;
    tokio::spawn(async move {
        shutdown.await;
        health.start_draining();
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: not ready, draining in-flight work"
        );
        stop.cancel();
    });
    let http = crate::http::serve(listener, router, cancel.clone().cancelled_owned());
    let servers = async {
        tokio::join!(
            async {
                let r = http.await.map_err(|source| ServiceError::Serve {
                    what: "REST",
                    source,
                });
                cancel.cancel();
                r
            },
            extra(cancel.clone())
        )
    };
    let out_of_time = async {
        cancel.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    let (http, extra) = tokio::select! {
        done = servers => done,
        () = out_of_time => {
            tracing::warn!(grace_secs = grace.as_secs(), "grace period over; abandoning in-flight work");
            (Ok(()), Ok(()))
        }
    };
    cancel.cancel();
    relay_stop.cancel();
    if let Some(relay) = relay {
        let _ = relay.await;
    }
    tracing::info!("stopped");
    http?;
    extra
}

/// The `extra` of [`run`] for a service that adds nothing.
pub async fn no_extra(_: CancellationToken) -> Result<(), ServiceError> {
    Ok(())
}

/// A REST service, with an outbox relay when it publishes, built and bound
/// but not running yet: what purchase-svc and sales-svc are once wired.
/// Binding happens at build time, so tests can use port 0 and read the port
/// before running.
#[must_use = "a bound service does nothing until `run_until_stopped`"]
pub struct HttpService {
    http: TcpListener,
    router: Router,
    relay: Option<OutboxRelay>,
    lifecycle: Lifecycle,
}

impl std::fmt::Debug for HttpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpService")
            .field("http", &self.http.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl HttpService {
    /// Binds `addr` for `router`, to stop as `lifecycle` says.
    pub async fn bind(
        addr: SocketAddr,
        router: Router,
        lifecycle: Lifecycle,
    ) -> Result<Self, ServiceError> {
        let http = TcpListener::bind(addr)
            .await
            .map_err(|source| ServiceError::Bind {
                what: "REST",
                addr,
                source,
            })?;
        Ok(Self {
            http,
            router,
            relay: None,
            lifecycle,
        })
    }

    /// Also runs `relay`, which hands the outbox's events to the bus.
    pub fn with_relay(mut self, relay: OutboxRelay) -> Self {
        self.relay = Some(relay);
        self
    }

    /// The bound REST address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves REST and runs the relay, if any, until `shutdown` completes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServiceError> {
        run(
            self.http,
            self.router,
            self.relay,
            no_extra,
            self.lifecycle,
            shutdown,
        )
        .await
    }
}

/// Readiness of a service that publishes through its outbox: the database is
/// required, the broker is not (accepted writes wait in the outbox, design
/// §7.6), but its state shows in the body.
pub fn publisher_health(
    stores: &crate::stores::Stores,
    bus: std::sync::Arc<dyn erp_bus::EventBus>,
) -> crate::health::Health {
    crate::health::Health::new()
        .with(stores.health_check())
        .with(crate::health::FnCheck::new("bus", false, move || {
            bus.status().connected
        }))
}
