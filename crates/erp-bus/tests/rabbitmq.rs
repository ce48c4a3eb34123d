//! The RabbitMQ adapter against a real broker (`scripts/rabbitmq.sh` starts
//! one). These tests fail, never skip, when the broker cannot be reached.
#![cfg(feature = "rabbitmq")]

use erp_bus::rabbitmq::testing as rabbit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_bus_passes_the_contract() {
    let bus = rabbit::connect().await;
    let queues = erp_bus::contract::bus(&bus).await;
    for q in queues {
        bus.delete_queue(&q).await.unwrap();
    }
}
