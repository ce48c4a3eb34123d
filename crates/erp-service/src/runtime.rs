//! Running a service: its REST server and outbox relay (plus any other
//! server the service adds) until a shutdown future completes.

use std::{future::Future, net::SocketAddr};

use anyhow::Context;
use axum::Router;
use erp_bus::relay::OutboxRelay;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves `router` on `listener` and runs `relay`; `extra` is any other
/// server, handed a token that fires on shutdown. Returns when `shutdown`
/// completes and everything has stopped, or when a server fails.
pub async fn run<E>(
    listener: TcpListener,
    router: Router,
    relay: OutboxRelay,
    extra: impl FnOnce(CancellationToken) -> E,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    E: Future<Output = anyhow::Result<()>>,
{
    let cancel = CancellationToken::new();
    let relay = tokio::spawn(relay.run(cancel.clone()));
    let stop = cancel.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop.cancel();
    });
    let http = crate::http::serve(listener, router, cancel.clone().cancelled_owned());
    let (http, extra) = tokio::join!(
        async {
            let r = http.await.context("REST server");
            cancel.cancel();
            r
        },
        extra(cancel.clone())
    );
    cancel.cancel();
    let _ = relay.await;
    http?;
    extra
}

/// A REST service with an outbox relay, built and bound but not running yet:
/// what purchase-svc and sales-svc are once wired. Binding happens at build
/// time, so tests can use port 0 and read the port before running.
pub struct HttpService {
    http: TcpListener,
    router: Router,
    relay: OutboxRelay,
}

impl std::fmt::Debug for HttpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpService")
            .field("http", &self.http.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl HttpService {
    /// Binds `addr` for `router`, to run with `relay`.
    pub async fn bind(
        addr: SocketAddr,
        router: Router,
        relay: OutboxRelay,
    ) -> anyhow::Result<Self> {
        let http = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding REST on {addr}"))?;
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
        run(
            self.http,
            self.router,
            self.relay,
            |_| async { Ok(()) },
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
