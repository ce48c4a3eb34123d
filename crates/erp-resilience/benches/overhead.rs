//! Overhead per call of each layer against the bare service, and of our
//! circuit breaker against tower-resilience's and failsafe's, in one run.
//! The inner service answers at once, so the figures are the layers' own
//! cost on the success path (closed breaker, no retry).
//!
//! `cargo bench -p erp-resilience --bench overhead`

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use erp_resilience::{
    BreakerConfig, CircuitBreakerLayer, RetryConfig, RetryPolicy, breaker::ErrorsOnly,
};
use failsafe::futures::CircuitBreaker as _;
use tower::{Layer, Service, ServiceExt, retry::Retry, service_fn};

fn echo(n: u64) -> std::future::Ready<Result<u64, std::io::Error>> {
    std::future::ready(Ok(n))
}

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("call overhead");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));

    group.bench_function("bare service", |b| {
        let svc = service_fn(echo);
        b.to_async(&rt).iter(|| {
            let mut svc = svc;
            async move { svc.ready().await.unwrap().call(1).await.unwrap() }
        });
    });

    group.bench_function("erp-resilience breaker", |b| {
        let svc = CircuitBreakerLayer::new("bench", BreakerConfig::default(), ErrorsOnly)
            .layer(service_fn(echo));
        b.to_async(&rt).iter(|| {
            let mut svc = svc.clone();
            async move { svc.ready().await.unwrap().call(1).await.unwrap() }
        });
    });

    group.bench_function("tower-resilience breaker", |b| {
        let layer = tower_resilience_circuitbreaker::CircuitBreakerLayer::builder()
            .failure_rate_threshold(0.5)
            .minimum_number_of_calls(5)
            .build();
        let svc = layer.layer(service_fn(echo));
        b.to_async(&rt).iter(|| {
            let mut svc = svc.clone();
            async move { svc.ready().await.unwrap().call(1).await.unwrap() }
        });
    });

    group.bench_function("failsafe breaker", |b| {
        let breaker = failsafe::Config::new().build();
        b.to_async(&rt).iter(|| {
            let breaker = breaker.clone();
            async move { breaker.call(echo(1)).await.unwrap() }
        });
    });

    group.bench_function("erp-resilience retry policy", |b| {
        let inner = service_fn(|_: http::Request<()>| {
            std::future::ready(Ok::<_, erp_resilience::BoxError>(http::Response::new(())))
        });
        let svc = Retry::new(RetryPolicy::new(RetryConfig::default()), inner);
        b.to_async(&rt).iter(|| {
            let mut svc = svc.clone();
            async move {
                let req = http::Request::get("http://inventory/stock/main/a")
                    .body(())
                    .unwrap();
                svc.ready().await.unwrap().call(req).await.unwrap()
            }
        });
    });
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
