//! An in-process bus with the semantics of the RabbitMQ topology: a topic
//! exchange, durable-for-the-process queues with competing consumers,
//! retries with a delay, an attempt limit and a dead-letter list per queue.

use std::{
    collections::{HashMap, VecDeque},
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, MutexGuard},
};

use async_trait::async_trait;
use futures::FutureExt;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::{
    BusError, BusStatus, DeadLetter, Delivery, Disposition, EventBus, MessageHandler,
    OutgoingMessage, Subscription, SubscriptionHandle, topic_matches,
};

/// The in-memory bus. Clones share the same exchange and queues.
#[derive(Debug, Clone, Default)]
pub struct MemoryBus {
    queues: Arc<Mutex<HashMap<String, Arc<Queue>>>>,
}

#[derive(Debug)]
struct Queue {
    bindings: Mutex<Vec<String>>,
    tx: mpsc::UnboundedSender<Delivery>,
    // A tokio mutex because a consumer holds it across `recv().await`: the
    // consumers of one queue take turns waiting, and each message goes to
    // exactly one of them (competing consumers).
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Delivery>>,
    dead: Mutex<VecDeque<DeadLetter>>,
}

// std mutexes guard short, await-free sections; poisoning cannot leave them
// half-updated, so a panic elsewhere must not wedge the bus.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MemoryBus {
    /// A bus with no queues.
    pub fn new() -> Self {
        Self::default()
    }

    fn declare(&self, subscription: &Subscription) -> Arc<Queue> {
        let mut queues = lock(&self.queues);
        let queue = queues
            .entry(subscription.queue.clone())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                Arc::new(Queue {
                    bindings: Mutex::default(),
                    tx,
                    rx: tokio::sync::Mutex::new(rx),
                    dead: Mutex::default(),
                })
            })
            .clone();
        let mut bindings = lock(&queue.bindings);
        for key in &subscription.routing_keys {
            if !bindings.contains(key) {
                bindings.push(key.clone());
            }
        }
        drop(bindings);
        queue
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, message: OutgoingMessage) -> Result<(), BusError> {
        let queues = lock(&self.queues);
        let mut routed = false;
        for queue in queues.values() {
            let bound = lock(&queue.bindings)
                .iter()
                .any(|pattern| topic_matches(pattern, &message.routing_key));
            if bound {
                routed = true;
                // The receiver lives as long as the queue, so send cannot fail.
                let _ = queue.tx.send(Delivery {
                    message_id: Some(message.message_id.clone()),
                    routing_key: message.routing_key.clone(),
                    headers: message.headers.clone(),
                    body: message.body.clone(),
                    attempt: 1,
                });
            }
        }
        if routed {
            Ok(())
        } else {
            Err(BusError::Unroutable(message.routing_key))
        }
    }

    async fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn MessageHandler>,
    ) -> Result<SubscriptionHandle, BusError> {
        let queue = self.declare(&subscription);
        let cancel = CancellationToken::new();
        let (attached_tx, attached_rx) = watch::channel(true);
        let mut tasks: Vec<_> = (0..subscription.concurrency.max(1))
            .map(|_| {
                tokio::spawn(consume(
                    Arc::clone(&queue),
                    Arc::clone(&handler),
                    subscription.max_attempts,
                    cancel.clone(),
                ))
            })
            .collect();
        let detach = cancel.clone();
        tasks.push(tokio::spawn(async move {
            detach.cancelled().await;
            let _ = attached_tx.send(false);
        }));
        Ok(SubscriptionHandle::new(attached_rx, cancel, tasks))
    }

    async fn take_dead_letters(
        &self,
        queue: &str,
        max: usize,
    ) -> Result<Vec<DeadLetter>, BusError> {
        let Some(queue) = lock(&self.queues).get(queue).cloned() else {
            return Ok(Vec::new());
        };
        let mut dead = lock(&queue.dead);
        let n = max.min(dead.len());
        Ok(dead.drain(..n).collect())
    }

    fn status(&self) -> BusStatus {
        BusStatus { connected: true }
    }
}

async fn consume(
    queue: Arc<Queue>,
    handler: Arc<dyn MessageHandler>,
    max_attempts: u32,
    cancel: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => return,
            d = async { queue.rx.lock().await.recv().await } => d,
        };
        let Some(delivery) = next else { return };
        // A panicking handler must not kill the consumer: it counts as a
        // failed attempt, so a poison message ends in the dead-letter list.
        let disposition = AssertUnwindSafe(handler.handle(&delivery))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                Disposition::retry(std::time::Duration::ZERO, "the handler panicked")
            });
        settle(&queue, delivery, disposition, max_attempts);
    }
}

fn settle(queue: &Queue, mut delivery: Delivery, disposition: Disposition, max_attempts: u32) {
    let dead_letter = |delivery: Delivery, reason: String| {
        tracing::warn!(message_id = ?delivery.message_id, %reason, "dead-lettered");
        let attempts = delivery.attempt;
        lock(&queue.dead).push_back(DeadLetter {
            delivery,
            reason,
            attempts,
        });
    };
    match disposition {
        Disposition::Ack => {}
        Disposition::DeadLetter { reason } => dead_letter(delivery, reason),
        Disposition::Retry { reason, .. } if delivery.attempt >= max_attempts => {
            let reason = format!("gave up after {} attempts: {reason}", delivery.attempt);
            dead_letter(delivery, reason);
        }
        Disposition::Retry { after, reason } => {
            tracing::debug!(message_id = ?delivery.message_id, %reason, ?after, "retrying");
            delivery.attempt += 1;
            let tx = queue.tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let _ = tx.send(delivery);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_bus_passes_the_contract() {
        crate::contract::bus(&MemoryBus::new()).await;
    }
}
