//! Every transition of the circuit breaker, on tokio's paused clock with
//! tower-test mocks.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use erp_resilience::{
    BreakerConfig, BreakerOpen, BreakerState, CircuitBreakerLayer,
    breaker::{ErrorsOnly, GrpcFailures},
};
use tower::{Layer, Service, ServiceExt};
use tower_test::mock;

type Mock = mock::Mock<&'static str, &'static str>;
type Handle = mock::Handle<&'static str, &'static str>;

fn breaker(
    config: BreakerConfig,
) -> (
    erp_resilience::CircuitBreaker<Mock, ErrorsOnly>,
    Handle,
    Arc<Mutex<Vec<BreakerState>>>,
) {
    let (svc, handle) = mock::pair::<&'static str, &'static str>();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook_seen = seen.clone();
    let layer = CircuitBreakerLayer::with_hook("test", config, ErrorsOnly, move |s| {
        hook_seen.lock().unwrap().push(s)
    });
    (layer.layer(svc), handle, seen)
}

/// One call through the breaker; the mock answers `outcome` if reached.
async fn call(
    b: &mut erp_resilience::CircuitBreaker<Mock, ErrorsOnly>,
    handle: &mut Handle,
    outcome: Result<&'static str, &'static str>,
) -> Result<&'static str, erp_resilience::BoxError> {
    let fut = b.ready().await.unwrap().call("req");
    let answer = async {
        if let Some((_, send)) = handle.next_request().await {
            match outcome {
                Ok(v) => send.send_response(v),
                Err(e) => send.send_error(e),
            }
        }
    };
    let (result, _) = tokio::join!(fut, tokio::time::timeout(Duration::from_millis(10), answer));
    result
}

fn is_open(r: &Result<&'static str, erp_resilience::BoxError>) -> Option<Duration> {
    r.as_ref()
        .err()
        .and_then(|e| BreakerOpen::find(e.as_ref()))
        .map(BreakerOpen::remaining)
}

#[tokio::test(start_paused = true)]
async fn opens_after_half_the_calls_fail_then_fails_fast_without_calling_the_service() {
    let (mut b, mut h, seen) = breaker(BreakerConfig::default());
    for outcome in [Ok("a"), Err("x"), Ok("b"), Err("y")] {
        let _ = call(&mut b, &mut h, outcome).await;
    }
    assert_eq!(b.state(), BreakerState::Closed, "4 calls < min 5");
    let _ = call(&mut b, &mut h, Err("z")).await;
    assert!(
        matches!(b.state(), BreakerState::Open { .. }),
        "3 of 5 failed"
    );
    assert_eq!(seen.lock().unwrap().len(), 1, "the hook saw the transition");

    tokio::time::advance(Duration::from_secs(5)).await;
    h.allow(0); // the inner service must not even be polled
    let r = call(&mut b, &mut h, Ok("never")).await;
    let remaining = is_open(&r).expect("fails fast with BreakerOpen");
    assert_eq!(remaining, Duration::from_secs(10));
    assert_eq!(b.stats().rejected, 1);
}

#[tokio::test(start_paused = true)]
async fn after_the_open_period_one_probe_decides() {
    let (mut b, mut h, _) = breaker(BreakerConfig::default());
    for _ in 0..5 {
        let _ = call(&mut b, &mut h, Err("down")).await;
    }
    tokio::time::advance(Duration::from_secs(15)).await;
    assert_eq!(
        b.state(),
        BreakerState::HalfOpen,
        "half-open without waiting for a call"
    );
    h.allow(1);
    let r = call(&mut b, &mut h, Err("still down")).await;
    assert!(
        r.is_err() && is_open(&r).is_none(),
        "the probe reached the service"
    );
    assert!(
        matches!(b.state(), BreakerState::Open { .. }),
        "a failed probe re-opens"
    );

    tokio::time::advance(Duration::from_secs(15)).await;
    h.allow(1);
    assert_eq!(call(&mut b, &mut h, Ok("up")).await.unwrap(), "up");
    assert_eq!(b.state(), BreakerState::Closed, "a good probe closes");
}

#[tokio::test(start_paused = true)]
async fn while_a_probe_is_out_other_callers_are_refused() {
    let (mut b, mut h, _) = breaker(BreakerConfig::default());
    for _ in 0..5 {
        let _ = call(&mut b, &mut h, Err("down")).await;
    }
    tokio::time::advance(Duration::from_secs(15)).await;
    let mut b2 = b.clone();
    let probe = b.ready().await.unwrap().call("probe");
    let second = b2.ready().await.unwrap().call("second");
    let second = second.await;
    assert_eq!(
        is_open(&second),
        Some(Duration::ZERO),
        "refused while the probe is out"
    );
    let (_, send) = h.next_request().await.unwrap();
    send.send_response("ok");
    assert_eq!(probe.await.unwrap(), "ok");
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_frees_its_slot() {
    let (mut b, mut h, _) = breaker(BreakerConfig::default());
    for _ in 0..5 {
        let _ = call(&mut b, &mut h, Err("down")).await;
    }
    tokio::time::advance(Duration::from_secs(15)).await;
    drop(b.ready().await.unwrap().call("abandoned"));
    let _abandoned = h.next_request().await;
    assert_eq!(call(&mut b, &mut h, Ok("up")).await.unwrap(), "up");
}

#[test]
fn grpc_classifier_counts_server_failures_only() {
    use erp_resilience::Classify;
    let with = |code: &str| {
        Ok::<_, ()>(
            http::Response::builder()
                .header("grpc-status", code)
                .body(())
                .unwrap(),
        )
    };
    for code in ["2", "4", "8", "13", "14"] {
        assert!(GrpcFailures.is_failure(&with(code)), "{code}");
    }
    for code in ["0", "3", "5", "9"] {
        assert!(!GrpcFailures.is_failure(&with(code)), "{code}");
    }
    assert!(!GrpcFailures.is_failure(&Ok::<_, ()>(http::Response::new(()))));
    assert!(GrpcFailures.is_failure(&Err::<http::Response<()>, _>(())));
}
