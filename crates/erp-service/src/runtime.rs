//! Running a service: its REST server and outbox relay (plus any other
//! server the service adds) until a shutdown future completes.

use std::future::Future;

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
