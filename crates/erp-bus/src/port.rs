use std::sync::Arc;

use async_trait::async_trait;
use tokio::{sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{BusError, DeadLetter, Delivery, Disposition, OutgoingMessage, Redriven};

/// Handles deliveries of one subscription. Its [`Disposition`] is the only
/// way to acknowledge, so a handler cannot forget to ack, nor ack a failure.
#[async_trait]
pub trait MessageHandler: Send + Sync + 'static {
    /// Processes one delivery. Must be idempotent per message id: every bus
    /// may deliver a message more than once.
    async fn handle(&self, delivery: &Delivery) -> Disposition;
}

/// Where and how to consume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The durable queue; consumers of one queue compete for its messages.
    pub queue: String,
    /// Routing-key patterns bound to the queue (`*` and `#` as in AMQP).
    pub routing_keys: Vec<String>,
    /// Deliveries after which a message that keeps asking for a retry is
    /// dead-lettered.
    pub max_attempts: u32,
    /// Unacknowledged messages the broker may push ahead of the handlers.
    pub prefetch: u16,
    /// Messages handled at the same time by this subscriber.
    pub concurrency: usize,
}

impl Subscription {
    /// A subscription with the defaults: 5 attempts, prefetch 64, 4 at a time.
    pub fn new(queue: impl Into<String>, routing_keys: &[&str]) -> Self {
        Self {
            queue: queue.into(),
            routing_keys: routing_keys.iter().map(|k| (*k).to_owned()).collect(),
            max_attempts: 5,
            prefetch: 64,
            concurrency: 4,
        }
    }

    /// The name of this queue's dead-letter queue.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dlq", self.queue)
    }
}

/// Whether the bus is connected, for readiness checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusStatus {
    /// The bus accepts publishes and delivers messages.
    pub connected: bool,
}

/// A running subscription. Dropping it stops the consumers after their
/// in-flight message, like [`SubscriptionHandle::stop`] without the wait.
#[derive(Debug)]
#[must_use = "dropping the handle ends the subscription; keep it while consuming"]
pub struct SubscriptionHandle {
    attached: watch::Receiver<bool>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl SubscriptionHandle {
    /// For adapters: `attached` reports whether a consumer is attached right
    /// now; the tasks must end soon after `cancel` fires.
    pub fn new(
        attached: watch::Receiver<bool>,
        cancel: CancellationToken,
        tasks: Vec<JoinHandle<()>>,
    ) -> Self {
        Self {
            attached,
            cancel,
            tasks,
        }
    }

    /// Whether a consumer is attached to the queue right now.
    pub fn is_attached(&self) -> bool {
        *self.attached.borrow()
    }

    /// A watch of [`SubscriptionHandle::is_attached`], for readiness probes.
    pub fn attached(&self) -> watch::Receiver<bool> {
        self.attached.clone()
    }

    /// Stops consuming and waits for in-flight messages to finish.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for SubscriptionHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The event bus port. Object safe: services hold an `Arc<dyn EventBus>`.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Publishes and returns once the bus has accepted the message.
    /// [`BusError::Unroutable`] when no queue is bound to its routing key.
    async fn publish(&self, message: OutgoingMessage) -> Result<(), BusError>;

    /// Publishes several messages; one result per message, in order.
    /// Adapters pipeline the confirmations, so a batch costs about one round
    /// trip instead of one per message. The default publishes one by one.
    async fn publish_batch(&self, messages: Vec<OutgoingMessage>) -> Vec<Result<(), BusError>> {
        let mut results = Vec::with_capacity(messages.len());
        for m in messages {
            results.push(self.publish(m).await);
        }
        results
    }

    /// Declares the queue and its bindings (idempotently) and starts
    /// consumers that pass each delivery to `handler`.
    async fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn MessageHandler>,
    ) -> Result<SubscriptionHandle, BusError>;

    /// Removes and returns up to `max` messages from `queue`'s dead-letter
    /// queue, oldest first. For operators and tests.
    async fn take_dead_letters(&self, queue: &str, max: usize)
    -> Result<Vec<DeadLetter>, BusError>;

    /// Moves up to `max` messages from `queue`'s dead-letter queue back into
    /// `queue`, oldest first, each as a fresh first attempt with its id,
    /// routing key, headers and body, and its [`crate::REDRIVES_HEADER`]
    /// count one higher. A message already redriven
    /// [`crate::MAX_REDRIVES`] times stays dead (counted as held), so a
    /// message that fails every time cannot loop. A message leaves the
    /// dead-letter queue only once its copy is safely back in `queue`, so a
    /// failure midway loses nothing. For operators, once what made the
    /// messages fail is fixed (say, the unknown product now exists);
    /// consumers deduplicate by id as for any redelivery. One call looks at
    /// each dead letter at most once.
    async fn redrive_dead_letters(&self, queue: &str, max: usize) -> Result<Redriven, BusError>;

    /// Whether the bus is connected now.
    fn status(&self) -> BusStatus;

    /// Closes the connection cleanly, at the end of a graceful shutdown
    /// (after consumers stopped and the relay finished). Nothing to do for
    /// buses without a connection.
    async fn close(&self) {}

    /// The `messaging.system` trace spans name this bus with
    /// (OpenTelemetry semantic conventions), e.g. `rabbitmq`.
    fn messaging_system(&self) -> &'static str {
        "other"
    }
}

/// Counts a message the bus accepted: `erp_events_published_total` by event
/// type (its routing key). Adapters call it once per accepted publish, so
/// every publisher (relays, consumers announcing changes) is counted.
pub(crate) fn record_published(routing_key: &str) {
    metrics::counter!("erp_events_published_total", "event_type" => routing_key.to_owned())
        .increment(1);
}

/// How often an unroutable routing key is logged, at most.
const UNROUTABLE_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Counts a message no queue was bound for (`erp_events_unroutable_total`
/// by routing key) and logs it at most once per key per minute: a
/// `stock.changed` nobody listens to is normal and must not flood the log.
pub(crate) fn record_unroutable(routing_key: &str) {
    use std::{collections::HashMap, sync::Mutex, time::Instant};
    static LAST_LOGGED: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);
    metrics::counter!("erp_events_unroutable_total", "routing_key" => routing_key.to_owned())
        .increment(1);
    let mut last = LAST_LOGGED.lock().unwrap_or_else(|p| p.into_inner());
    let last = last.get_or_insert_with(HashMap::new);
    let due = last
        .get(routing_key)
        .is_none_or(|at| at.elapsed() >= UNROUTABLE_LOG_EVERY);
    if due {
        last.insert(routing_key.to_owned(), Instant::now());
        tracing::info!(
            routing_key,
            "no queue is bound for this routing key; such messages are counted in erp_events_unroutable_total and logged once a minute"
        );
    }
}

/// Creates a subscription's counters at 0, so that they exist from the
/// start: Prometheus's `increase()` needs a sample before the first event.
pub(crate) fn register_queue(queue: &str) {
    for family in [
        "erp_events_consumed_total",
        "erp_events_retried_total",
        "erp_events_dead_lettered_total",
    ] {
        metrics::counter!(family, "queue" => queue.to_owned()).increment(0);
    }
    // Created without overwriting what an adapter already measured.
    metrics::gauge!("erp_dead_letters", "queue" => queue.to_owned()).increment(0.0);
}

/// Sets `erp_dead_letters{queue}`: dead letters waiting in `queue`'s
/// dead-letter queue (or list), as an adapter last saw them.
pub(crate) fn record_dead_letters(queue: &str, waiting: usize) {
    metrics::gauge!("erp_dead_letters", "queue" => queue.to_owned()).set(waiting as f64);
}

/// Runs `handler` on `delivery` in its span; a panic counts as a failed
/// attempt (a retry), never kills the consumer. The disposition, and how
/// long the handler took.
pub(crate) async fn run_handler(
    system: &'static str,
    queue: &str,
    handler: &dyn MessageHandler,
    delivery: &crate::Delivery,
) -> (Disposition, std::time::Duration) {
    use futures::FutureExt;
    let started = std::time::Instant::now();
    let span = message_span(queue, delivery);
    let process = span.in_scope(|| process_span(system, queue, delivery));
    let handled = tracing::Instrument::instrument(
        tracing::Instrument::instrument(handler.handle(delivery), process.clone()),
        span,
    );
    let disposition = std::panic::AssertUnwindSafe(handled)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Disposition::retry(std::time::Duration::ZERO, "the handler panicked"));
    if disposition != Disposition::Ack {
        process.record("otel.status_code", "ERROR");
    }
    (disposition, started.elapsed())
}

/// Counts one settled delivery: `erp_events_consumed_total`, plus
/// `erp_events_retried_total` or `erp_events_dead_lettered_total`, and
/// times it in `erp_event_handling_seconds` by outcome. Adapters call it
/// once per delivery, after the handler answered.
pub(crate) fn record_disposition(
    queue: &str,
    disposition: &Disposition,
    dead_lettered: bool,
    took: std::time::Duration,
) {
    let queue = queue.to_owned();
    let outcome = match disposition {
        _ if dead_lettered => "dead_letter",
        Disposition::Ack => "ack",
        _ => "retry",
    };
    metrics::histogram!("erp_event_handling_seconds", "queue" => queue.clone(), "outcome" => outcome)
        .record(took.as_secs_f64());
    metrics::counter!("erp_events_consumed_total", "queue" => queue.clone()).increment(1);
    if dead_lettered {
        metrics::counter!("erp_events_dead_lettered_total", "queue" => queue).increment(1);
    } else if matches!(disposition, Disposition::Retry { .. }) {
        metrics::counter!("erp_events_retried_total", "queue" => queue).increment(1);
    }
}

/// The span a delivery is handled in: queue, message id, correlation id,
/// trace id (from its `traceparent`) and attempt, so a handler's logs join
/// the request and the trace that caused the event.
pub(crate) fn message_span(queue: &str, delivery: &crate::Delivery) -> tracing::Span {
    tracing::info_span!(
        "message",
        queue,
        message_id = delivery.message_id.as_deref().unwrap_or(""),
        correlation_id = delivery
            .headers
            .get(crate::CORRELATION_HEADER)
            .map_or("", String::as_str),
        trace_id = delivery
            .headers
            .get(crate::TRACEPARENT_HEADER)
            .and_then(|tp| erp_core::trace::trace_id_of_traceparent(tp))
            .unwrap_or(""),
        attempt = delivery.attempt,
    )
}

/// The OpenTelemetry consumer span of a delivery, inside its
/// [`message_span`]: a child of the publisher's span (the message's
/// `traceparent`), named and attributed after the semantic conventions for
/// messaging. At DEBUG: exported when traces are on, otherwise free.
pub(crate) fn process_span(
    system: &'static str,
    queue: &str,
    delivery: &crate::Delivery,
) -> tracing::Span {
    let span = tracing::debug_span!(
        "process",
        otel.kind = "consumer",
        otel.name = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        messaging.system = system,
        messaging.operation.type = "process",
        messaging.destination.name = queue,
        messaging.rabbitmq.destination.routing_key = delivery.routing_key.as_str(),
        messaging.message.id = delivery.message_id.as_deref().unwrap_or(""),
    );
    crate::trace_context::prepare(
        &span,
        delivery
            .headers
            .get(crate::TRACEPARENT_HEADER)
            .map(String::as_str),
        || format!("process {queue}"),
    );
    span
}
