//! The RabbitMQ adapter under broker faults: connections closed mid-handle,
//! and the broker application stopped and started mid-stream. One test, run
//! alone in its own binary, because it disturbs the whole broker.
#![cfg(feature = "rabbitmq")]

use erp_bus::rabbitmq::testing as rabbit;
use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use erp_bus::{
    Delivery, Disposition, EventBus, MessageHandler, OutgoingMessage, Subscription,
    rabbitmq::RabbitBus,
};
use erp_core::EventId;

async fn eventually(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    for _ in 0..secs * 20 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[derive(Default)]
struct Seen {
    attempts: Mutex<Vec<(String, u32)>>,
    slow_first: bool,
}

#[async_trait]
impl MessageHandler for Seen {
    async fn handle(&self, d: &Delivery) -> Disposition {
        let id = d.message_id.clone().unwrap_or_default();
        self.attempts.lock().unwrap().push((id, d.attempt));
        if self.slow_first && d.attempt == 1 {
            // Still handling when the connection is closed under us.
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        Disposition::Ack
    }
}

fn message(key: &str) -> OutgoingMessage {
    OutgoingMessage {
        message_id: EventId::new().to_string(),
        routing_key: key.into(),
        headers: Default::default(),
        body: b"{}".to_vec().into(),
    }
}

/// Publishes like the outbox relay: retry until the broker confirms.
async fn publish_until_confirmed(bus: &RabbitBus, m: OutgoingMessage) {
    for _ in 0..600 {
        if bus.publish(m.clone()).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("message {} never confirmed", m.message_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_survive_dropped_connections_and_a_broker_restart() {
    let bus = rabbit::connect().await;
    let run = EventId::new().as_uuid().simple().to_string();

    // 1. The consumer's connection drops mid-handle: the unacked message
    //    comes back (attempt 2) after the bus reconnects.
    let key = format!("faults.{run}.drop");
    let queue = format!("faults.{run}.q-drop");
    let seen = Arc::new(Seen {
        slow_first: true,
        ..Seen::default()
    });
    let sub = bus
        .subscribe(Subscription::new(&queue, &[&key]), seen.clone())
        .await
        .unwrap();
    let m = message(&key);
    bus.publish(m.clone()).await.unwrap();
    eventually("first delivery", 10, || {
        !seen.attempts.lock().unwrap().is_empty()
    })
    .await;
    rabbit::rabbitmqctl(&["close_all_connections", "test: drop mid-handle"]);
    eventually("redelivery after reconnect", 30, || {
        seen.attempts
            .lock()
            .unwrap()
            .iter()
            .any(|(id, a)| *id == m.message_id && *a >= 2)
    })
    .await;
    sub.stop().await;

    // 2. stop_app / start_app while publishing: every confirmed message is
    //    delivered (duplicates allowed), and the consumer re-attaches.
    let key = format!("faults.{run}.restart");
    let queue = format!("faults.{run}.q-restart");
    let seen = Arc::new(Seen::default());
    let sub = bus
        .subscribe(Subscription::new(&queue, &[&key]), seen.clone())
        .await
        .unwrap();
    let publisher = bus.clone();
    let key_for_publisher = key.clone();
    let sent = tokio::spawn(async move {
        let mut ids = Vec::new();
        for _ in 0..60 {
            let m = message(&key_for_publisher);
            ids.push(m.message_id.clone());
            publish_until_confirmed(&publisher, m).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ids
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    rabbit::rabbitmqctl(&["stop_app"]);
    eventually("the bus to notice the outage", 15, || {
        !bus.status().connected
    })
    .await;
    assert!(
        !sub.is_attached(),
        "no consumer is attached while the broker is down"
    );
    rabbit::rabbitmqctl(&["start_app"]);
    eventually("reconnection", 60, || bus.status().connected).await;
    eventually("the consumer to re-attach", 30, || sub.is_attached()).await;
    let ids = sent.await.unwrap();
    eventually("every confirmed message", 30, || {
        let got: HashSet<String> = seen
            .attempts
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _)| id.clone())
            .collect();
        ids.iter().all(|id| got.contains(id))
    })
    .await;
    sub.stop().await;
    for q in [format!("faults.{run}.q-drop"), queue] {
        bus.delete_queue(&q).await.unwrap();
    }
}
