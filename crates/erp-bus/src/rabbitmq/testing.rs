//! Helpers for tests against a real broker (what `scripts/rabbitmq.sh`
//! starts): the URL, a connected bus that fails loudly rather than skipping,
//! and `rabbitmqctl` for fault injection (stop the app, drop connections).

use std::{process::Command, time::Duration};

use super::{RabbitBus, RabbitConfig};

/// `ERP_TEST_AMQP_URL`, else the local guest account.
pub fn url() -> String {
    std::env::var("ERP_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A bus connected to [`url`]; panics, naming the fix, when the broker
/// cannot be reached within 15 s.
pub async fn connect() -> RabbitBus {
    let bus = RabbitBus::start(RabbitConfig::new(url()));
    assert!(
        bus.wait_connected(Duration::from_secs(15)).await,
        "RabbitMQ is not reachable at {}; run scripts/rabbitmq.sh",
        url()
    );
    bus
}

/// Runs `rabbitmqctl args…` and returns its output; panics when it fails.
pub fn rabbitmqctl(args: &[&str]) -> String {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl runs");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Deletes the queues of subscription `queue` (the queue, its `.retry` and
/// its `.dlq`) if they exist, so a test's own listener leaves nothing behind
/// that would keep collecting other tests' messages.
pub async fn delete_subscription_queues(queue: &str) {
    let properties = lapin::ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current());
    let connection = lapin::Connection::connect(&url(), properties)
        .await
        .expect("RabbitMQ is reachable");
    let channel = connection.create_channel().await.expect("a channel");
    for name in [
        queue.to_owned(),
        format!("{queue}.retry"),
        format!("{queue}.dlq"),
    ] {
        // Deleting a queue that does not exist is a no-op in RabbitMQ.
        channel
            .queue_delete(&name, lapin::options::QueueDeleteOptions::default())
            .await
            .unwrap_or_else(|e| panic!("deleting {name}: {e}"));
    }
    let _ = connection.close(200, "done").await;
}
