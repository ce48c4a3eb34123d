//! erp-resilience alone: a circuit breaker around a service that fails,
//! opening after half the calls in its window fail, then answering by
//! itself with the time it stays open.
//!
//! `cargo run -p erp-examples --example resilience`

use std::time::Duration;

use erp_resilience::{BreakerConfig, BreakerOpen, CircuitBreakerLayer, breaker::ErrorsOnly};
use tower::{Layer, Service, ServiceExt, service_fn};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flaky = service_fn(|n: u32| async move {
        if n.is_multiple_of(2) {
            Ok(n)
        } else {
            Err(std::io::Error::other("inventory timed out"))
        }
    });
    let config = BreakerConfig {
        open_for: Duration::from_secs(15),
        ..BreakerConfig::default()
    };
    let layer = CircuitBreakerLayer::with_hook("inventory", config, ErrorsOnly, |state| {
        println!("  breaker is now {state:?}");
    });
    let mut breaker = layer.layer(flaky);
    for n in 0..8 {
        let ready = breaker.ready().await.map_err(|e| anyhow::anyhow!(e))?;
        match ready.call(n).await {
            Ok(v) => println!("call {n}: ok {v}"),
            Err(e) => match BreakerOpen::find(e.as_ref()) {
                Some(open) => println!(
                    "call {n}: refused, retry after {} s",
                    open.retry_after_secs()
                ),
                None => println!("call {n}: failed: {e}"),
            },
        }
    }
    println!("stats: {:?}", breaker.stats());
    Ok(())
}
