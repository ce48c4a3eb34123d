//! The retry policy on tokio's paused clock with tower-test mocks.

use std::{sync::Arc, time::Duration};

use erp_resilience::{RetryConfig, RetryPolicy, retry::ATTEMPT_HEADER};
use http::{Method, Request, Response, StatusCode};
use tower::{
    Service, ServiceExt,
    retry::{Retry, budget::TpsBudget},
};
use tower_test::mock;

type Req = Request<String>;
type Res = Response<String>;

fn service(
    policy: RetryPolicy,
) -> (
    Retry<RetryPolicy, mock::Mock<Req, Res>>,
    mock::Handle<Req, Res>,
) {
    let (svc, handle) = mock::pair::<Req, Res>();
    (Retry::new(policy, svc), handle)
}

fn policy() -> RetryPolicy {
    RetryPolicy::new(RetryConfig::default()).with_seed(3)
}

fn get() -> Req {
    Request::get("http://inventory/stock/main/a")
        .body(String::new())
        .unwrap()
}

fn status(s: u16) -> Res {
    Response::builder().status(s).body(String::new()).unwrap()
}

/// Answers each request in turn with `answers`; returns what was asked and when.
async fn serve(
    mut handle: mock::Handle<Req, Res>,
    answers: Vec<Result<Res, &'static str>>,
) -> Vec<(Option<String>, tokio::time::Instant)> {
    let mut seen = Vec::new();
    for answer in answers {
        let Ok(Some((req, send))) =
            tokio::time::timeout(Duration::from_secs(30), handle.next_request()).await
        else {
            break;
        };
        let attempt = req
            .headers()
            .get(ATTEMPT_HEADER)
            .map(|v| v.to_str().unwrap().to_owned());
        seen.push((attempt, tokio::time::Instant::now()));
        match answer {
            Ok(r) => send.send_response(r),
            Err(e) => send.send_error(e),
        }
    }
    seen
}

#[tokio::test(start_paused = true)]
async fn retries_503_and_connect_errors_until_success_numbering_attempts() {
    let (mut svc, handle) = service(policy());
    let server = tokio::spawn(serve(
        handle,
        vec![Ok(status(503)), Err("connection refused"), Ok(status(200))],
    ));
    let res = svc.ready().await.unwrap().call(get()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let seen = server.await.unwrap();
    let attempts: Vec<_> = seen.iter().map(|(a, _)| a.clone()).collect();
    assert_eq!(attempts, [None, Some("2".into()), Some("3".into())]);
}

#[tokio::test(start_paused = true)]
async fn never_retries_other_client_errors() {
    for code in [400, 404, 409, 422] {
        let (mut svc, handle) = service(policy());
        let server = tokio::spawn(serve(handle, vec![Ok(status(code)), Ok(status(200))]));
        let res = svc.ready().await.unwrap().call(get()).await.unwrap();
        assert_eq!(res.status().as_u16(), code);
        drop(svc);
        assert_eq!(server.await.unwrap().len(), 1, "{code} is final");
    }
}

#[tokio::test(start_paused = true)]
async fn stops_after_four_attempts_with_the_last_answer() {
    let (mut svc, handle) = service(policy());
    let server = tokio::spawn(serve(handle, vec![Ok(status(502)); 6]));
    let res = svc.ready().await.unwrap().call(get()).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    drop(svc);
    let seen = server.await.unwrap();
    assert_eq!(seen.len(), 4);
    // Full jitter stays below the doubling ceilings: 50, 100, 200 ms.
    for (i, ceiling) in [50, 100, 200].into_iter().enumerate() {
        let gap = seen[i + 1].1 - seen[i].1;
        assert!(gap <= Duration::from_millis(ceiling), "gap {i} = {gap:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn honours_retry_after() {
    let (mut svc, handle) = service(RetryPolicy::new(RetryConfig {
        deadline: Duration::from_secs(10),
        ..RetryConfig::default()
    }));
    let too_many = Response::builder()
        .status(429)
        .header("retry-after", "2")
        .body(String::new())
        .unwrap();
    let server = tokio::spawn(serve(handle, vec![Ok(too_many), Ok(status(200))]));
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(get())
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let seen = server.await.unwrap();
    assert_eq!(seen[1].1 - seen[0].1, Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_post_is_retried_only_with_an_idempotency_key() {
    let post = |key: Option<&str>| {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri("http://inventory/x");
        if let Some(k) = key {
            b = b.header("idempotency-key", k);
        }
        b.body(String::new()).unwrap()
    };
    let (mut svc, handle) = service(policy());
    let server = tokio::spawn(serve(handle, vec![Ok(status(503)), Ok(status(200))]));
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(post(None))
            .await
            .unwrap()
            .status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    drop(svc);
    assert_eq!(server.await.unwrap().len(), 1);

    let (mut svc, handle) = service(policy());
    let server = tokio::spawn(serve(handle, vec![Ok(status(503)), Ok(status(200))]));
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(post(Some("k1")))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(server.await.unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_empty_budget_means_no_retries() {
    let budget = Arc::new(TpsBudget::new(Duration::from_secs(10), 0, 0.0));
    let (mut svc, handle) = service(RetryPolicy::with_budget(RetryConfig::default(), budget));
    let server = tokio::spawn(serve(handle, vec![Ok(status(503)), Ok(status(200))]));
    let res = svc.ready().await.unwrap().call(get()).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    drop(svc);
    assert_eq!(server.await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn gives_up_when_another_attempt_would_miss_the_deadline() {
    let (mut svc, handle) = service(RetryPolicy::new(RetryConfig {
        deadline: Duration::from_millis(1_200),
        ..RetryConfig::default()
    }));
    let server = tokio::spawn(serve(handle, vec![Ok(status(503)); 4]));
    let _ = svc.ready().await.unwrap().call(get()).await;
    drop(svc);
    let n = server.await.unwrap().len();
    assert!(
        n <= 2,
        "at most one retry fits 1.2 s at 500 ms per attempt, got {n} attempts"
    );
}
