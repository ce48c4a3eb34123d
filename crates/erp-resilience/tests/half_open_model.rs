//! Property: however calls interleave, half-open admits at most k probes at
//! a time, and every admitted call's outcome is counted exactly once.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use erp_resilience::{BreakerConfig, BreakerState, CircuitBreakerLayer, breaker::ErrorsOnly};
use proptest::prelude::*;
use tower::{Layer, Service, ServiceExt, service_fn};

fn run(k: u32, callers: usize, outcomes: Vec<bool>, delays: Vec<u64>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let reached = Arc::new(AtomicUsize::new(0));
        let (f, m, r) = (in_flight.clone(), max_in_flight.clone(), reached.clone());
        let outcomes = Arc::new(outcomes);
        let inner = service_fn(move |i: usize| {
            let (f, m, r, outcomes) = (f.clone(), m.clone(), r.clone(), outcomes.clone());
            let delay = Duration::from_millis(delays[i % delays.len()]);
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                f.fetch_sub(1, Ordering::SeqCst);
                // The calls that open the breaker (numbered from usize::MAX
                // down) always fail; probes follow `outcomes`.
                if i < usize::MAX - 10 && outcomes[i % outcomes.len()] {
                    Ok::<_, &'static str>(i)
                } else {
                    Err("down")
                }
            }
        });
        let config = BreakerConfig {
            half_open_probes: k,
            ..BreakerConfig::default()
        };
        let breaker = CircuitBreakerLayer::new("prop", config, ErrorsOnly).layer(inner);
        // Open it.
        for i in 0..5 {
            let mut b = breaker.clone();
            let _ = b.ready().await.unwrap().call(usize::MAX - i).await;
        }
        prop_assert!(
            matches!(breaker.state(), BreakerState::Open { .. }),
            "five failures open it"
        );
        tokio::time::advance(Duration::from_secs(15)).await;
        max_in_flight.store(0, Ordering::SeqCst);
        reached.store(0, Ordering::SeqCst);
        let calls = (0..callers).map(|i| {
            let mut b = breaker.clone();
            tokio::spawn(async move { b.ready().await.unwrap().call(i).await })
        });
        let results = futures_join(calls.collect()).await;
        let admitted = results
            .iter()
            .filter(|r| {
                r.as_ref()
                    .err()
                    .is_none_or(|e| erp_resilience::BreakerOpen::find(e.as_ref()).is_none())
            })
            .count();
        prop_assert!(
            max_in_flight.load(Ordering::SeqCst) <= k as usize,
            "more than {} probes at once",
            k
        );
        prop_assert!(
            admitted >= 1 && admitted <= (k as usize).min(callers),
            "admitted {}",
            admitted
        );
        prop_assert_eq!(
            admitted,
            reached.load(Ordering::SeqCst),
            "every admitted call reached the service once"
        );
        prop_assert!(breaker.stats().admitted as usize == 5 + admitted);
        Ok(())
    })
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]
    #[test]
    fn half_open_never_admits_more_than_k_probes(
        k in 1u32..4,
        callers in 1usize..24,
        outcomes in proptest::collection::vec(any::<bool>(), 1..8),
        // ≥ 1 ms: every caller decides while the probes are still out.
        delays in proptest::collection::vec(1u64..20, 1..8),
    ) {
        run(k, callers, outcomes, delays)?;
    }
}
