//! An in-process bus with the semantics of the RabbitMQ topology: a topic
//! exchange, durable-for-the-process queues with competing consumers,
//! retries with a delay, an attempt limit and a dead-letter list per queue.
//!
//! For users' tests it also injects the faults a real broker causes,
//! deterministically: [`Faults`] draws duplicates, redeliveries of acked
//! messages, reordering delays and publisher nacks from a seeded generator,
//! and [`MemoryBus::disconnect`] drops the "connection" (publishes fail,
//! consumers detach, a message being handled comes back). Delays use tokio's
//! clock, so under `tokio::time::pause()` a seed replays the same run.

mod faults;

pub use faults::Faults;

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use async_trait::async_trait;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::{
    BusError, BusStatus, DeadLetter, Delivery, Disposition, EventBus, MessageHandler,
    OutgoingMessage, Redriven, Subscription, SubscriptionHandle, topic_matches,
};

/// The in-memory bus. Clones share the same exchange and queues.
#[derive(Debug, Clone)]
pub struct MemoryBus {
    queues: Arc<Mutex<HashMap<String, Arc<Queue>>>>,
    connected: Arc<watch::Sender<bool>>,
    faults: Arc<Mutex<Option<faults::Injector>>>,
    /// Fires on [`EventBus::close`]; every subscription's token is a child.
    closed: CancellationToken,
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self {
            queues: Arc::default(),
            connected: Arc::new(watch::channel(true).0),
            faults: Arc::default(),
            closed: CancellationToken::new(),
        }
    }
}

#[derive(Debug)]
struct Queue {
    name: String,
    bindings: Mutex<Vec<String>>,
    tx: mpsc::UnboundedSender<Delivery>,
    // A tokio mutex because a consumer holds it across `recv().await`: the
    // consumers of one queue take turns waiting, and each message goes to
    // exactly one of them (competing consumers).
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Delivery>>,
    dead: Mutex<VecDeque<DeadLetter>>,
    /// Messages queued (or waiting out a retry delay) plus those being
    /// handled: 0 when the queue has settled.
    unsettled: std::sync::atomic::AtomicUsize,
}

impl Queue {
    fn enqueue(&self, delivery: Delivery, delay: Option<std::time::Duration>) {
        self.unsettled
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        enqueue(&self.tx, delivery, delay);
    }

    /// One taken delivery is done with (acked, dead-lettered, or queued
    /// again, which counted itself).
    fn settled_one(&self) {
        self.unsettled
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
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

    /// Waits until `queue` has settled: nothing queued, waiting out a
    /// retry, or being handled (acked, dead-lettered or given up). For
    /// tests that check that nothing *more* happens, without sleeping on a
    /// guess. `false` if it did not settle within `timeout`.
    pub async fn settled(&self, queue: &str, timeout: std::time::Duration) -> bool {
        let Some(queue) = lock(&self.queues).get(queue).cloned() else {
            return true;
        };
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if queue.unsettled.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// A bus that injects `faults`, drawn from `faults.seed`.
    pub fn with_faults(faults: Faults) -> Self {
        let bus = Self::default();
        *lock(&bus.faults) = Some(faults::Injector::new(faults));
        bus
    }

    /// Drops the connection: publishes fail with
    /// [`BusError::Unavailable`], consumers detach, and a message whose
    /// handler is running loses its ack and is delivered again later.
    pub fn disconnect(&self) {
        self.connected.send_replace(false);
    }

    /// Restores the connection; consumers re-attach.
    pub fn reconnect(&self) {
        self.connected.send_replace(true);
    }

    fn declare(&self, subscription: &Subscription) -> Arc<Queue> {
        let mut queues = lock(&self.queues);
        let queue = queues
            .entry(subscription.queue.clone())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                Arc::new(Queue {
                    name: subscription.queue.clone(),
                    bindings: Mutex::default(),
                    tx,
                    rx: tokio::sync::Mutex::new(rx),
                    dead: Mutex::default(),
                    unsettled: std::sync::atomic::AtomicUsize::new(0),
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
        if self.closed.is_cancelled() {
            return Err(BusError::Unavailable("closed".into()));
        }
        if !*self.connected.borrow() {
            return Err(BusError::Unavailable("disconnected".into()));
        }
        let fate = lock(&self.faults)
            .as_mut()
            .map(faults::Injector::draw)
            .unwrap_or_default();
        if fate.nack {
            return Err(BusError::Nacked("injected fault".into()));
        }
        let queues = lock(&self.queues);
        let mut routed = false;
        for queue in queues.values() {
            let bound = lock(&queue.bindings)
                .iter()
                .any(|pattern| topic_matches(pattern, &message.routing_key));
            if bound {
                routed = true;
                let delivery = Delivery {
                    message_id: Some(message.message_id.clone()),
                    routing_key: message.routing_key.clone(),
                    headers: message.headers.clone(),
                    body: message.body.clone(),
                    attempt: 1,
                };
                let copies = if fate.duplicate { 2 } else { 1 };
                for _ in 0..copies {
                    queue.enqueue(delivery.clone(), fate.delay);
                }
            }
        }
        if routed {
            crate::port::record_published(&message.routing_key);
            Ok(())
        } else {
            crate::port::record_unroutable(&message.routing_key);
            Err(BusError::Unroutable(message.routing_key))
        }
    }

    async fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn MessageHandler>,
    ) -> Result<SubscriptionHandle, BusError> {
        if self.closed.is_cancelled() {
            return Err(BusError::Unavailable("closed".into()));
        }
        crate::port::register_queue(&subscription.queue);
        let queue = self.declare(&subscription);
        // Closing the bus stops this subscription too.
        let cancel = self.closed.child_token();
        let (attached_tx, attached_rx) = watch::channel(*self.connected.borrow());
        let mut tasks: Vec<_> = (0..subscription.concurrency.max(1))
            .map(|_| {
                tokio::spawn(consume(
                    self.clone(),
                    Arc::clone(&queue),
                    Arc::clone(&handler),
                    subscription.max_attempts,
                    cancel.clone(),
                ))
            })
            .collect();
        // Mirrors the connection into `attached` until stopped.
        let detach = cancel.clone();
        let mut connected = self.connected.subscribe();
        tasks.push(tokio::spawn(async move {
            loop {
                attached_tx.send_replace(*connected.borrow_and_update());
                tokio::select! {
                    _ = detach.cancelled() => break,
                    changed = connected.changed() => if changed.is_err() { break },
                }
            }
            attached_tx.send_replace(false);
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
        let taken = dead.drain(..n).collect();
        crate::port::record_dead_letters(&queue.name, dead.len());
        Ok(taken)
    }

    async fn redrive_dead_letters(&self, queue: &str, max: usize) -> Result<Redriven, BusError> {
        if !*self.connected.borrow() {
            return Err(BusError::Unavailable("disconnected".into()));
        }
        let Some(queue) = lock(&self.queues).get(queue).cloned() else {
            return Ok(Redriven::default());
        };
        let mut dead = lock(&queue.dead);
        let mut done = Redriven::default();
        let mut kept = Vec::new();
        for letter in dead.drain(..) {
            let count = crate::redrives(&letter.delivery.headers);
            if done.moved == max {
                kept.push(letter);
            } else if count >= crate::MAX_REDRIVES {
                done.held += 1;
                kept.push(letter);
            } else {
                let mut delivery = letter.delivery;
                delivery.attempt = 1;
                delivery
                    .headers
                    .insert(crate::REDRIVES_HEADER.into(), (count + 1).to_string());
                queue.enqueue(delivery, None);
                done.moved += 1;
            }
        }
        *dead = kept.into();
        crate::port::record_dead_letters(&queue.name, dead.len());
        Ok(done)
    }

    fn status(&self) -> BusStatus {
        BusStatus {
            connected: *self.connected.borrow() && !self.closed.is_cancelled(),
        }
    }

    /// Stops every subscription (after the message each consumer is
    /// handling) and refuses publishes and subscriptions from then on.
    /// Queued messages stay queued, as a broker keeps them; [`settled`]
    /// still tells whether anything is left.
    ///
    /// [`settled`]: MemoryBus::settled
    async fn close(&self) {
        self.closed.cancel();
    }

    fn messaging_system(&self) -> &'static str {
        "memory"
    }
}

fn enqueue(
    tx: &mpsc::UnboundedSender<Delivery>,
    delivery: Delivery,
    delay: Option<std::time::Duration>,
) {
    // The receiver lives as long as the queue, so send cannot fail.
    match delay {
        None => {
            let _ = tx.send(delivery);
        }
        Some(delay) => {
            let tx = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(delivery);
            });
        }
    }
}

async fn consume(
    bus: MemoryBus,
    queue: Arc<Queue>,
    handler: Arc<dyn MessageHandler>,
    max_attempts: u32,
    cancel: CancellationToken,
) {
    let mut connected = bus.connected.subscribe();
    loop {
        // Detached while disconnected: take nothing from the queue.
        tokio::select! {
            _ = cancel.cancelled() => return,
            c = connected.wait_for(|up| *up) => if c.is_err() { return },
        }
        let next = tokio::select! {
            _ = cancel.cancelled() => return,
            d = async { queue.rx.lock().await.recv().await } => d,
        };
        let Some(mut delivery) = next else { return };
        // Taken just as the connection dropped: hold it until it is back,
        // as a broker would keep it for the next consumer.
        if !*connected.borrow_and_update() {
            tokio::select! {
                _ = cancel.cancelled() => {
                    queue.enqueue(delivery, None);
                    queue.settled_one();
                    return;
                }
                c = connected.wait_for(|up| *up) => if c.is_err() { return },
            }
        }
        // A panicking handler counts as a failed attempt, so a poison
        // message ends in the dead-letter list.
        let (disposition, took) =
            crate::port::run_handler("memory", &queue.name, handler.as_ref(), &delivery).await;
        let ack_lost = !*bus.connected.borrow()
            || (disposition == Disposition::Ack
                && lock(&bus.faults)
                    .as_mut()
                    .is_some_and(faults::Injector::draw_redelivery));
        if ack_lost {
            // Like a broker whose consumer's ack never arrived: deliver again.
            delivery.attempt += 1;
            queue.enqueue(delivery, None);
            queue.settled_one();
            continue;
        }
        settle(&queue, delivery, disposition, max_attempts, took);
        queue.settled_one();
        // Let the other consumers of the queue (waiting in line for its
        // lock) take the next message, as a broker dispatches round-robin;
        // without this a consumer whose handler never waits would take
        // every message.
        tokio::task::yield_now().await;
    }
}

fn settle(
    queue: &Queue,
    mut delivery: Delivery,
    disposition: Disposition,
    max_attempts: u32,
    took: std::time::Duration,
) {
    let dead = matches!(disposition, Disposition::DeadLetter { .. })
        || (matches!(disposition, Disposition::Retry { .. }) && delivery.attempt >= max_attempts);
    crate::port::record_disposition(&queue.name, &disposition, dead, took);
    let dead_letter = |delivery: Delivery, reason: String| {
        tracing::warn!(message_id = ?delivery.message_id, %reason, "dead-lettered");
        let attempts = delivery.attempt;
        let mut dead = lock(&queue.dead);
        dead.push_back(DeadLetter {
            delivery,
            reason,
            attempts,
        });
        crate::port::record_dead_letters(&queue.name, dead.len());
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
            queue.enqueue(delivery, Some(after));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Mutex as StdMutex, time::Duration};

    use async_trait::async_trait;

    use super::*;

    #[tokio::test]
    async fn settled_waits_for_retries_and_handling_not_just_an_empty_queue() {
        let bus = MemoryBus::new();
        let handled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = handled.clone();
        let (recorder, _seen) = crate::Recorder::new(move |d: &Delivery| {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if d.attempt == 1 {
                Disposition::retry(std::time::Duration::from_millis(100), "later")
            } else {
                Disposition::Ack
            }
        });
        let _sub = bus
            .subscribe(Subscription::new("settle", &["s.#"]), recorder)
            .await
            .unwrap();
        for _ in 0..3 {
            bus.publish(OutgoingMessage {
                message_id: erp_core::EventId::new().to_string(),
                routing_key: "s.x".into(),
                headers: Default::default(),
                body: bytes::Bytes::from_static(b"{}"),
            })
            .await
            .unwrap();
        }
        assert!(
            bus.settled("settle", std::time::Duration::from_secs(5))
                .await
        );
        assert_eq!(
            handled.load(std::sync::atomic::Ordering::SeqCst),
            6,
            "every first attempt and every retry handled"
        );
    }

    #[tokio::test]
    async fn close_stops_consumers_and_refuses_publishes_but_keeps_the_queue() {
        let bus = MemoryBus::new();
        let (recorder, mut seen) = crate::Recorder::acking();
        let sub = bus
            .subscribe(Subscription::new("closing", &["c.#"]), recorder)
            .await
            .unwrap();
        let message = || OutgoingMessage {
            message_id: erp_core::EventId::new().to_string(),
            routing_key: "c.x".into(),
            headers: Default::default(),
            body: bytes::Bytes::from_static(b"{}"),
        };
        bus.publish(message()).await.unwrap();
        assert!(seen.recv().await.is_some(), "consumed while open");
        let mut attached = sub.attached();
        bus.close().await;
        // The subscription detaches by itself.
        tokio::time::timeout(
            std::time::Duration::from_secs(2),
            attached.wait_for(|a| !*a),
        )
        .await
        .expect("closing the bus detached the subscription")
        .unwrap();
        sub.stop().await;
        assert!(matches!(
            bus.publish(message()).await,
            Err(BusError::Unavailable(_))
        ));
        assert!(
            bus.subscribe(
                Subscription::new("closing", &["c.#"]),
                crate::Recorder::acking().0
            )
            .await
            .is_err()
        );
        assert!(!bus.status().connected);
    }

    #[tokio::test]
    async fn memory_bus_passes_the_contract() {
        crate::contract::bus(&MemoryBus::new()).await;
    }

    #[derive(Default)]
    struct Log(StdMutex<Vec<(String, u32)>>);

    #[async_trait]
    impl MessageHandler for Log {
        async fn handle(&self, d: &Delivery) -> Disposition {
            self.0
                .lock()
                .unwrap()
                .push((d.message_id.clone().unwrap(), d.attempt));
            Disposition::Ack
        }
    }

    fn msg(i: usize) -> OutgoingMessage {
        OutgoingMessage {
            message_id: format!("m{i:02}"),
            routing_key: "t.x".into(),
            headers: Default::default(),
            body: bytes::Bytes::new(),
        }
    }

    /// Publishes 40 messages through `faults` and returns what the handler saw.
    async fn run(faults: Faults) -> (Vec<(String, u32)>, usize) {
        let bus = MemoryBus::with_faults(faults);
        let log = Arc::new(Log::default());
        let mut sub = Subscription::new("q", &["t.*"]);
        sub.concurrency = 1;
        let _h = bus.subscribe(sub, log.clone()).await.unwrap();
        let mut nacked = 0;
        for i in 0..40 {
            if bus.publish(msg(i)).await.is_err() {
                nacked += 1;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let seen = log.0.lock().unwrap().clone();
        (seen, nacked)
    }

    #[tokio::test(start_paused = true)]
    async fn a_seed_replays_the_same_faults() {
        let faults = Faults {
            seed: 42,
            duplicate: 0.2,
            redeliver: 0.2,
            reorder: 0.3,
            nack: 0.1,
        };
        let (first, nacked) = run(faults).await;
        let (second, nacked_again) = run(faults).await;
        assert_eq!(
            first, second,
            "same seed, same deliveries in the same order"
        );
        assert_eq!(nacked, nacked_again);
        let (other, _) = run(Faults { seed: 43, ..faults }).await;
        assert_ne!(first, other, "another seed, another run");

        assert!(nacked > 0, "some publishes were nacked");
        assert!(
            first.len() > 40 - nacked,
            "duplicates and redeliveries add deliveries"
        );
        assert!(
            first.iter().any(|(_, attempt)| *attempt > 1),
            "some redeliveries"
        );
        let ids: Vec<_> = first.iter().map(|(id, _)| id.clone()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_ne!(ids, sorted, "some messages overtook others");
    }

    #[tokio::test(start_paused = true)]
    async fn no_faults_means_each_message_once_in_order() {
        let (seen, nacked) = run(Faults::default()).await;
        assert_eq!(nacked, 0);
        let want: Vec<_> = (0..40).map(|i| (format!("m{i:02}"), 1)).collect();
        assert_eq!(seen, want);
    }

    struct Slow(StdMutex<Vec<u32>>);

    #[async_trait]
    impl MessageHandler for Slow {
        async fn handle(&self, d: &Delivery) -> Disposition {
            self.0.lock().unwrap().push(d.attempt);
            tokio::time::sleep(Duration::from_millis(100)).await;
            Disposition::Ack
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_connection_detaches_consumers_and_loses_in_flight_acks() {
        let bus = MemoryBus::new();
        let slow = Arc::new(Slow(StdMutex::default()));
        let h = bus
            .subscribe(Subscription::new("q", &["t.*"]), slow.clone())
            .await
            .unwrap();
        bus.publish(msg(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        bus.disconnect();
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(!bus.status().connected);
        assert!(!h.is_attached());
        assert!(matches!(
            bus.publish(msg(2)).await,
            Err(BusError::Unavailable(_))
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            *slow.0.lock().unwrap(),
            vec![1],
            "nothing is consumed while disconnected"
        );
        bus.reconnect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(h.is_attached());
        assert_eq!(
            *slow.0.lock().unwrap(),
            vec![1, 2],
            "the in-flight message came back"
        );
    }
}
