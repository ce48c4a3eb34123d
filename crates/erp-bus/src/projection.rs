//! A [`Projection`] fed from the bus: [`ProjectionConsumer`] is the
//! [`MessageHandler`] that decodes each delivery, skips the events the
//! projection does not handle and those its [`Inbox`] says it finished,
//! projects the rest and records them, so each event takes effect once per
//! consumer however often the bus delivers it.
//!
//! ```
//! # use std::sync::Arc;
//! # use erp_core::{Projection, ProjectionError, RawEnvelope};
//! # struct Counter;
//! # #[erp_bus::async_trait::async_trait]
//! # impl Projection for Counter {
//! #     fn name(&self) -> &'static str { "counter" }
//! #     fn handles(&self, t: &str) -> bool { t == "purchase.completed" }
//! #     async fn project(&self, _: &RawEnvelope) -> Result<(), ProjectionError> { Ok(()) }
//! # }
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use erp_bus::{EventBus, Subscription, memory::MemoryBus, projection::ProjectionConsumer};
//! use erp_store::memory::MemoryInbox;
//!
//! let bus = MemoryBus::new();
//! let consumer = ProjectionConsumer::new(Arc::new(Counter), Arc::new(MemoryInbox::new()));
//! let handle = bus
//!     .subscribe(Subscription::new("reports.purchases", &["purchase.completed"]), Arc::new(consumer))
//!     .await
//!     .unwrap();
//! handle.stop().await;
//! # });
//! ```

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use erp_core::{Projection, ProjectionError, RawEnvelope};
use erp_store::Inbox;

use crate::{Delivery, Disposition, MessageHandler};

/// The wait before the `attempt`-th retry of a transient failure: 100 ms,
/// doubling per attempt, at most 5 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100)
        .saturating_mul(1 << attempt.saturating_sub(1).min(6))
        .min(Duration::from_secs(5))
}

/// Feeds a [`Projection`] from a subscription, each event once per consumer
/// name (by default the projection's name) thanks to an [`Inbox`].
///
/// - undecodable messages, and events the projection cannot read, are
///   dead-lettered;
/// - a store failure (of the read model or the inbox) is retried with
///   [`backoff`];
/// - an event is recorded in the inbox only after it was projected, so a
///   crash in between projects it again on redelivery: projections are
///   idempotent per event id (the [`Projection`] contract), the inbox spares
///   the repeat in every other case.
pub struct ProjectionConsumer {
    projection: Arc<dyn Projection>,
    inbox: Arc<dyn Inbox>,
    consumer: String,
}

impl std::fmt::Debug for ProjectionConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionConsumer")
            .field("projection", &self.projection.name())
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

impl ProjectionConsumer {
    /// `projection` fed once per event, recorded in `inbox` under the
    /// projection's name.
    pub fn new(projection: Arc<dyn Projection>, inbox: Arc<dyn Inbox>) -> Self {
        let consumer = projection.name().to_owned();
        Self {
            projection,
            inbox,
            consumer,
        }
    }

    /// Records under `consumer` instead of the projection's name (two
    /// instances of one projection over different read models).
    pub fn with_consumer_name(mut self, consumer: impl Into<String>) -> Self {
        self.consumer = consumer.into();
        self
    }
}

#[async_trait]
impl MessageHandler for ProjectionConsumer {
    async fn handle(&self, delivery: &Delivery) -> Disposition {
        let event = match RawEnvelope::decode(&delivery.body) {
            Ok(event) => event,
            Err(e) => return Disposition::dead_letter(format!("undecodable event: {e}")),
        };
        if !self.projection.handles(&event.event_type) {
            return Disposition::Ack;
        }
        let retry = |what: &str, e: &dyn std::fmt::Display| {
            Disposition::retry(backoff(delivery.attempt), format!("{what}: {e}"))
        };
        match self.inbox.contains(&self.consumer, event.id).await {
            Ok(true) => return Disposition::Ack,
            Ok(false) => {}
            Err(e) => return retry("inbox", &e),
        }
        match self.projection.project(&event).await {
            Ok(()) => {}
            Err(ProjectionError::Decode(e)) => {
                return Disposition::dead_letter(format!("unreadable {}: {e}", event.event_type));
            }
            Err(e) => return retry("read model", &e),
        }
        match self.inbox.insert(&self.consumer, event.id).await {
            Ok(_) => Disposition::Ack,
            Err(e) => retry("inbox", &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use erp_core::{EventEnvelope, EventId, Timestamp};
    use erp_store::memory::MemoryInbox;

    use super::*;
    use crate::Headers;

    /// Counts what it projects; fails the first `fail` times.
    #[derive(Default)]
    struct Counting {
        seen: Mutex<Vec<EventId>>,
        fail: Mutex<u32>,
    }

    #[async_trait]
    impl Projection for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }

        fn handles(&self, event_type: &str) -> bool {
            event_type == "thing.done"
        }

        async fn project(&self, event: &RawEnvelope) -> Result<(), ProjectionError> {
            let mut fail = self.fail.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(ProjectionError::Store("down".into()));
            }
            self.seen.lock().unwrap().push(event.id);
            Ok(())
        }
    }

    fn delivery(event_type: &str, id: EventId) -> Delivery {
        let envelope = EventEnvelope {
            id,
            event_type: event_type.into(),
            version: 1,
            occurred_at: Timestamp::now(),
            source: "test".into(),
            correlation_id: "c".into(),
            causation_id: "c".into(),
            data: serde_json::json!({}),
        };
        Delivery {
            message_id: Some(id.to_string()),
            routing_key: event_type.into(),
            headers: Headers::default(),
            body: serde_json::to_vec(&envelope).unwrap().into(),
            attempt: 1,
        }
    }

    #[tokio::test]
    async fn each_event_is_projected_once_however_often_it_arrives() {
        let projection = Arc::new(Counting::default());
        let consumer = ProjectionConsumer::new(projection.clone(), Arc::new(MemoryInbox::new()));
        let (a, b) = (EventId::new(), EventId::new());
        for id in [a, a, b, a, b] {
            assert_eq!(
                consumer.handle(&delivery("thing.done", id)).await,
                Disposition::Ack
            );
        }
        assert_eq!(*projection.seen.lock().unwrap(), vec![a, b]);
    }

    #[tokio::test]
    async fn failures_are_retried_other_events_acked_and_garbage_dead_lettered() {
        let projection = Arc::new(Counting {
            fail: Mutex::new(1),
            ..Counting::default()
        });
        let consumer = ProjectionConsumer::new(projection.clone(), Arc::new(MemoryInbox::new()));
        let id = EventId::new();
        assert!(matches!(
            consumer.handle(&delivery("thing.done", id)).await,
            Disposition::Retry { .. }
        ));
        assert_eq!(
            consumer.handle(&delivery("thing.done", id)).await,
            Disposition::Ack
        );
        assert_eq!(
            consumer
                .handle(&delivery("other.thing", EventId::new()))
                .await,
            Disposition::Ack
        );
        let mut garbage = delivery("thing.done", EventId::new());
        garbage.body = bytes::Bytes::from_static(b"not json");
        assert!(matches!(
            consumer.handle(&garbage).await,
            Disposition::DeadLetter { .. }
        ));
        assert_eq!(*projection.seen.lock().unwrap(), vec![id]);
    }
}
