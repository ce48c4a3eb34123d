//! The standard `grpc.health.v1.Health` service (what gRPC load balancers
//! and Kubernetes gRPC probes ask), serving exactly when `/health/ready`
//! answers 200: for the whole server (`""`) and for
//! `erp.inventory.v1.Inventory`.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, server::NamedService};
use tonic_health::{
    ServingStatus,
    pb::{
        HealthCheckRequest, HealthCheckResponse,
        health_check_response::ServingStatus as WireStatus,
        health_server::{Health, HealthServer},
    },
    server::HealthService,
};

use crate::grpc::InventoryGrpc;

/// How often the gRPC health status follows `/health/ready`.
const HEALTH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The health service. A task re-runs the readiness checks every second;
/// when `stop` fires (shutdown begins) every status turns NOT_SERVING and
/// open `Watch` streams end with it, so they do not hold the server's
/// graceful stop open.
pub fn service(
    readiness: erp_service::health::Health,
    stop: CancellationToken,
) -> HealthServer<EndingWatches> {
    let reporter = tonic_health::server::HealthReporter::new();
    let inner = HealthService::from_health_reporter(reporter.clone());
    let names = [
        "",
        <proto::erp::inventory::v1::inventory_server::InventoryServer<InventoryGrpc> as NamedService>::NAME,
    ];
    let stopping = stop.clone();
    tokio::spawn(async move {
        loop {
            let (ready, _) = readiness.report().await;
            let status = if ready && !stopping.is_cancelled() {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            for name in names {
                reporter.set_service_status(name, status).await;
            }
            if stopping.is_cancelled() {
                return;
            }
            tokio::select! {
                _ = stopping.cancelled() => {}
                _ = tokio::time::sleep(HEALTH_EVERY) => {}
            }
        }
    });
    HealthServer::new(EndingWatches { inner, stop })
}

/// tonic-health's service, whose `Watch` streams end at shutdown (its own
/// never end: its status senders live as long as the service).
pub struct EndingWatches {
    inner: HealthService,
    stop: CancellationToken,
}

type Watch = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for EndingWatches {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    type WatchStream = Watch;

    async fn watch(&self, request: Request<HealthCheckRequest>) -> Result<Response<Watch>, Status> {
        let inner = self.inner.watch(request).await?.into_inner();
        let state = (Box::pin(inner), self.stop.clone(), false);
        let stream = futures::stream::unfold(state, |(mut inner, stop, ended)| async move {
            if ended {
                return None;
            }
            tokio::select! {
                item = inner.next() => item.map(|i| (i, (inner, stop, false))),
                _ = stop.cancelled() => {
                    let last = HealthCheckResponse { status: WireStatus::NotServing as i32 };
                    Some((Ok(last), (inner, stop, true)))
                }
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
