//! SIGTERM with a request in flight, for real: the sales-svc binary, its
//! stock check stuck on an inventory that accepts and never answers. On
//! SIGTERM the process stops accepting connections, still answers the
//! request in flight (503 `inventory_unavailable` once the check's deadline
//! passes), and exits 0.

use std::{
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

/// Accepts connections, never answers; counts them.
async fn hung_inventory() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (addr, accepted)
}

async fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let (inventory, accepted) = hung_inventory().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sales-svc"))
        .args(["--bus", "memory", "--store", "memory"])
        .args(["--http-addr", &format!("127.0.0.1:{port}")])
        .args(["--inventory-url", &format!("http://{inventory}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if c.get(format!("{base}/health/live")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "sales-svc did not start");

    let in_flight = tokio::spawn({
        let c = reqwest::Client::new();
        let url = format!("{base}/sales");
        async move {
            let r = c
                .post(url)
                .json(&serde_json::json!({"lines": [{"product_id": "a", "quantity": 1, "unit_price": 1}]}))
                .send()
                .await
                .expect("the request in flight gets an answer");
            let status = r.status();
            let body: serde_json::Value = r.json().await.unwrap();
            (status, body)
        }
    });
    eventually("the stock check to reach inventory", || {
        accepted.load(Ordering::SeqCst) >= 1
    })
    .await;

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // No new connection is accepted while the request drains.
    let mut refused = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "still accepting connections after SIGTERM");
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited with a request still in flight"
    );

    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "inventory_unavailable");
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit status after SIGTERM: {exit}");
}
