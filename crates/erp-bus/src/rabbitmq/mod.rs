//! The RabbitMQ adapter (feature `rabbitmq`), on `lapin`.
//!
//! Topology, declared idempotently on every (re)connection:
//!
//! | name | kind | role |
//! |---|---|---|
//! | `erp.events` | topic exchange, durable | every event, routing key = event type |
//! | `erp.dlx` | direct exchange, durable | dead letters, routing key = source queue |
//! | `<queue>` | quorum queue with a delivery limit | consumers compete on it; dead-letters to `erp.dlx` when a message is redelivered too often (a consumer that crashes on it) |
//! | `<queue>.retry` | classic durable queue | retries wait here (per-message TTL), then dead-letter back into `<queue>` |
//! | `<queue>.dlq` | classic durable queue bound to `erp.dlx` | dead letters, with `x-dead-letter-reason` and `x-attempts` headers |
//!
//! Quorum queues, not classic: they are replicated, count deliveries (so a
//! message that crashes its consumer is dead-lettered by the broker after
//! the limit instead of looping) and were measured faster for persistent
//! messages with confirms on this kind of machine.
//!
//! Publishing is persistent, `mandatory` and confirmed: `publish` returns
//! once the broker has the message, an unroutable message is
//! [`BusError::Unroutable`], a nack is
//! [`BusError::Nacked`]. Consuming acks manually,
//! after the handler's disposition; a retry or dead-letter copy is confirmed
//! before the original is acked, so a crash in between only duplicates.
//!
//! A supervisor task keeps the connection: on loss it reconnects with
//! exponential backoff, re-declares the topology and re-attaches every
//! consumer; [`EventBus::status`] and each
//! subscription's `attached` flag say what is up meanwhile.

mod connection;
mod consumer;
mod fields;
pub mod testing;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use lapin::{
    BasicProperties, Channel,
    options::{
        BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, QueueDeleteOptions,
    },
    publisher_confirm::{Confirmation, PublisherConfirm},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use self::connection::Live;
use crate::{
    BusError, BusStatus, DeadLetter, EventBus, MessageHandler, OutgoingMessage, Redriven,
    Subscription, SubscriptionHandle,
};

/// Settings of the RabbitMQ adapter.
#[derive(Clone)]
pub struct RabbitConfig {
    /// `amqp://user:pass@host:port/vhost`; for a cluster, the nodes' URLs
    /// separated by commas: the bus connects to the first that answers and,
    /// when that connection is lost, to the next one that does.
    pub url: String,
    /// The topic exchange events are published to.
    pub exchange: String,
    /// The exchange dead letters go to.
    pub dead_letter_exchange: String,
    /// Redeliveries after which the broker itself dead-letters a message
    /// (protects against consumers that crash on it).
    pub delivery_limit: i64,
    /// First reconnection delay; doubles up to `reconnect_max`.
    pub reconnect_min: Duration,
    /// Longest reconnection delay.
    pub reconnect_max: Duration,
}

// By hand: the URL carries the password.
impl std::fmt::Debug for RabbitConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitConfig")
            .field("exchange", &self.exchange)
            .field("dead_letter_exchange", &self.dead_letter_exchange)
            .field("delivery_limit", &self.delivery_limit)
            .finish_non_exhaustive()
    }
}

impl RabbitConfig {
    /// The node URLs of [`RabbitConfig::url`], in order.
    pub fn urls(&self) -> Vec<&str> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect()
    }

    /// The design's topology at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            exchange: "erp.events".into(),
            dead_letter_exchange: "erp.dlx".into(),
            delivery_limit: 20,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
        }
    }
}

/// The RabbitMQ bus. Clones share one connection and its supervisor.
#[derive(Debug, Clone)]
pub struct RabbitBus {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: RabbitConfig,
    live: watch::Sender<Option<Live>>,
    cancel: CancellationToken,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl RabbitBus {
    /// Starts the connection supervisor and returns at once; the bus
    /// connects in the background and reconnects whenever the connection
    /// drops. Use [`RabbitBus::wait_connected`] to wait for the first one.
    pub fn start(config: RabbitConfig) -> Self {
        let (live, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            config,
            live,
            cancel: CancellationToken::new(),
        });
        tokio::spawn(connection::supervise(
            Arc::downgrade(&shared),
            shared.cancel.clone(),
        ));
        Self { shared }
    }

    /// Waits until connected, at most `timeout`; whether it is.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut rx = self.shared.live.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|l| l.is_some()))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Stops the supervisor and closes the connection.
    pub fn shutdown(&self) {
        self.shared.cancel.cancel();
    }

    fn live(&self) -> Result<Live, BusError> {
        self.shared
            .live
            .borrow()
            .clone()
            .filter(Live::is_connected)
            .ok_or_else(|| BusError::Unavailable("not connected to RabbitMQ".into()))
    }

    /// Deletes a queue with its retry and dead-letter queues. For tests and
    /// operators; services never delete queues.
    pub async fn delete_queue(&self, queue: &str) -> Result<(), BusError> {
        let live = self.live()?;
        let channel = live
            .connection
            .create_channel()
            .await
            .map_err(unavailable)?;
        for name in [
            queue.to_owned(),
            format!("{queue}.retry"),
            format!("{queue}.dlq"),
        ] {
            channel
                .queue_delete(&name, QueueDeleteOptions::default())
                .await
                .map_err(unavailable)?;
        }
        let _ = channel.close(200, "done").await;
        Ok(())
    }

    async fn send(
        &self,
        live: &Live,
        exchange: &str,
        m: &OutgoingMessage,
    ) -> Result<PublisherConfirm, BusError> {
        let properties = BasicProperties::default()
            .with_message_id(m.message_id.as_str().into())
            .with_type(m.routing_key.as_str().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_headers(fields::table(&m.headers));
        live.publisher
            .basic_publish(
                exchange,
                &m.routing_key,
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &m.body,
                properties,
            )
            .await
            .map_err(|e| live.lose(e))
    }
}

fn unavailable(e: lapin::Error) -> BusError {
    BusError::Unavailable(e.to_string())
}

/// Turns a broker confirmation into the port's result.
fn settle(
    confirmation: Result<Confirmation, lapin::Error>,
    routing_key: &str,
) -> Result<(), BusError> {
    match confirmation.map_err(unavailable)? {
        Confirmation::Ack(Some(_)) => {
            crate::port::record_unroutable(routing_key);
            Err(BusError::Unroutable(routing_key.to_owned()))
        }
        Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
        Confirmation::Nack(_) => Err(BusError::Nacked(format!("broker nacked {routing_key}"))),
    }
}

impl RabbitBus {
    /// A channel of its own for reading `queue`'s dead-letter queue, with
    /// that queue's name.
    async fn dead_letter_reader(&self, queue: &str) -> Result<(Live, Channel, String), BusError> {
        let live = self.live()?;
        let channel = live
            .connection
            .create_channel()
            .await
            .map_err(unavailable)?;
        Ok((live, channel, format!("{queue}.dlq")))
    }
}

/// The next dead letter, not yet acked; `None` when the queue is empty, or
/// when it does not exist yet (nothing was ever dead-lettered), which the
/// broker reports as an error to the `first` read of a pass.
async fn next_dead_letter(
    channel: &Channel,
    dlq: &str,
    first: bool,
) -> Result<Option<lapin::message::BasicGetMessage>, BusError> {
    match channel.basic_get(dlq, BasicGetOptions::default()).await {
        Ok(got) => Ok(got),
        Err(_) if first => Ok(None),
        Err(e) => Err(unavailable(e)),
    }
}

/// How long [`EventBus::close`] waits for the broker's close-ok.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

#[async_trait]
impl EventBus for RabbitBus {
    async fn publish(&self, message: OutgoingMessage) -> Result<(), BusError> {
        let live = self.live()?;
        let confirm = self
            .send(&live, &self.shared.config.exchange, &message)
            .await?;
        settle(confirm.await, &message.routing_key)?;
        crate::port::record_published(&message.routing_key);
        Ok(())
    }

    async fn publish_batch(&self, messages: Vec<OutgoingMessage>) -> Vec<Result<(), BusError>> {
        let live = match self.live() {
            Ok(l) => l,
            Err(e) => return messages.iter().map(|_| Err(e.clone())).collect(),
        };
        // Send everything first, then collect the confirmations: one round
        // trip for the batch instead of one per message.
        let mut pending = Vec::with_capacity(messages.len());
        for m in &messages {
            pending.push(self.send(&live, &self.shared.config.exchange, m).await);
        }
        let mut results = Vec::with_capacity(messages.len());
        for (m, sent) in messages.iter().zip(pending) {
            let result = match sent {
                Ok(confirm) => settle(confirm.await, &m.routing_key),
                Err(e) => Err(e),
            };
            if result.is_ok() {
                crate::port::record_published(&m.routing_key);
            }
            results.push(result);
        }
        results
    }

    async fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn MessageHandler>,
    ) -> Result<SubscriptionHandle, BusError> {
        crate::port::register_queue(&subscription.queue);
        // Declared now when connected, so messages published after
        // `subscribe` returns are routed; otherwise the consumer declares
        // everything when the connection comes (up).
        if let Ok(live) = self.live() {
            let channel = live
                .connection
                .create_channel()
                .await
                .map_err(unavailable)?;
            consumer::declare(
                &live.connection,
                &channel,
                &self.shared.config,
                &subscription,
            )
            .await
            .map_err(unavailable)?;
            let _ = channel.close(200, "declared").await;
        }
        Ok(consumer::spawn(self.clone(), subscription, handler))
    }

    async fn take_dead_letters(
        &self,
        queue: &str,
        max: usize,
    ) -> Result<Vec<DeadLetter>, BusError> {
        let (_live, channel, dlq) = self.dead_letter_reader(queue).await?;
        let mut taken = Vec::new();
        while taken.len() < max {
            let Some(message) = next_dead_letter(&channel, &dlq, taken.is_empty()).await? else {
                break;
            };
            let delivery = fields::delivery(&message.delivery);
            let headers = fields::headers(&message.delivery.properties);
            taken.push(DeadLetter {
                reason: headers
                    .get(fields::REASON)
                    .cloned()
                    .unwrap_or_else(|| "rejected by the broker (delivery limit)".into()),
                attempts: headers
                    .get(fields::ATTEMPTS)
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(delivery.attempt),
                delivery,
            });
            message
                .delivery
                .acker
                .ack(BasicAckOptions::default())
                .await
                .map_err(unavailable)?;
        }
        let _ = channel.close(200, "done").await;
        Ok(taken)
    }

    async fn redrive_dead_letters(&self, queue: &str, max: usize) -> Result<Redriven, BusError> {
        let (live, channel, dlq) = self.dead_letter_reader(queue).await?;
        let mut done = Redriven::default();
        // How many letters this pass may look at: those present when it
        // starts. Held letters go to the back of the queue, so without this
        // bound the pass would meet them again.
        let mut remaining: Option<u32> = None;
        while done.moved < max && remaining != Some(0) {
            let Some(message) = next_dead_letter(&channel, &dlq, remaining.is_none()).await? else {
                break;
            };
            let left = remaining.unwrap_or(message.message_count + 1);
            remaining = Some(left - 1);
            let mut delivery = fields::delivery(&message.delivery);
            let count = crate::redrives(&delivery.headers);
            let held = count >= crate::MAX_REDRIVES;
            let copied = if held {
                // Kept dead, as it was, behind the others.
                consumer::forward(&live, "", &dlq, &delivery, &[], None).await
            } else {
                // A fresh first attempt: drop what the failed ones left
                // behind, count the redrive, and go straight back into the
                // queue (default exchange), as retries travel; the original
                // routing key rides in a header.
                for stale in [fields::REASON, fields::ATTEMPTS, fields::ATTEMPT] {
                    delivery.headers.remove(stale);
                }
                delivery
                    .headers
                    .insert(crate::REDRIVES_HEADER.into(), (count + 1).to_string());
                consumer::forward(&live, "", queue, &delivery, &[], None).await
            };
            let acker = &message.delivery.acker;
            match copied {
                // The copy is confirmed before the dead letter goes.
                Ok(()) => {
                    acker
                        .ack(BasicAckOptions::default())
                        .await
                        .map_err(unavailable)?;
                }
                Err(e) => {
                    let _ = acker
                        .nack(BasicNackOptions {
                            requeue: true,
                            ..BasicNackOptions::default()
                        })
                        .await;
                    return Err(e);
                }
            }
            if held {
                done.held += 1;
            } else {
                done.moved += 1;
            }
        }
        let _ = channel.close(200, "done").await;
        tracing::info!(
            queue,
            moved = done.moved,
            held = done.held,
            "redrove dead letters"
        );
        if done.held > 0 {
            tracing::warn!(
                queue,
                held = done.held,
                limit = crate::MAX_REDRIVES,
                "dead letters at their redrive limit stay in the dead-letter queue"
            );
        }
        Ok(done)
    }

    fn status(&self) -> BusStatus {
        BusStatus {
            connected: self.live().is_ok(),
        }
    }

    fn messaging_system(&self) -> &'static str {
        "rabbitmq"
    }

    async fn close(&self) {
        let live = self.shared.live.send_replace(None);
        self.shutdown();
        if let Some(live) = live {
            // Closed here, awaited: the process may exit right after. But
            // bounded: on a connection whose broker went away without a
            // word (a node stopped and started again), lapin waits for a
            // close-ok that never comes, and a shutdown must not hang.
            let closing = live.connection.close(200, "shutting down");
            if tokio::time::timeout(CLOSE_TIMEOUT, closing).await.is_err() {
                tracing::warn!("the broker did not answer the connection close; dropped it");
            }
        }
    }
}
