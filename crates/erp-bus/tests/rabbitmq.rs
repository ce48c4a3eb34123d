//! The RabbitMQ adapter against a real broker (`scripts/rabbitmq.sh` starts
//! one). These tests fail, never skip, when the broker cannot be reached.
#![cfg(feature = "rabbitmq")]

use std::time::Duration;

use erp_bus::rabbitmq::{RabbitBus, RabbitConfig};

pub fn amqp_url() -> String {
    std::env::var("ERP_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub async fn connect() -> RabbitBus {
    let bus = RabbitBus::start(RabbitConfig::new(amqp_url()));
    assert!(
        bus.wait_connected(Duration::from_secs(15)).await,
        "RabbitMQ is not reachable at {}; run scripts/rabbitmq.sh",
        amqp_url()
    );
    bus
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_bus_passes_the_contract() {
    let bus = connect().await;
    let queues = erp_bus::contract::bus(&bus).await;
    for q in queues {
        bus.delete_queue(&q).await.unwrap();
    }
}
