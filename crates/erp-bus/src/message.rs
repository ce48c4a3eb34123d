use std::{collections::BTreeMap, time::Duration};

use bytes::Bytes;
use erp_core::RawEnvelope;

/// Message headers (AMQP headers for RabbitMQ).
pub type Headers = BTreeMap<String, String>;

/// Header carrying the correlation id across services.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// A message to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    /// Unique id; the event id for events. Consumers deduplicate on it.
    pub message_id: String,
    /// Routing key; the event type for events.
    pub routing_key: String,
    /// Extra headers.
    pub headers: Headers,
    /// The payload.
    pub body: Bytes,
}

impl OutgoingMessage {
    /// The message carrying an event envelope, with its id as message id,
    /// its type as routing key and its correlation id in a header.
    pub fn from_envelope(envelope: &RawEnvelope) -> Self {
        let mut headers = Headers::new();
        headers.insert(CORRELATION_HEADER.into(), envelope.correlation_id.clone());
        Self {
            message_id: envelope.id.to_string(),
            routing_key: envelope.event_type.clone(),
            headers,
            body: Bytes::from(envelope.encode()),
        }
    }
}

/// A message handed to a [`crate::MessageHandler`].
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The publisher's message id, if it set one.
    pub message_id: Option<String>,
    /// The routing key it was published with.
    pub routing_key: String,
    /// Its headers.
    pub headers: Headers,
    /// Its payload.
    pub body: Bytes,
    /// 1 on first delivery, then +1 per redelivery.
    pub attempt: u32,
}

/// What the bus does with a delivery once its handler returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Done; remove it from the queue.
    Ack,
    /// A transient failure: deliver it again after `after`. Once the
    /// subscription's attempts are used up the bus dead-letters it instead.
    Retry {
        /// How long to wait before the next attempt.
        after: Duration,
        /// Why, for logs and the dead-letter reason.
        reason: String,
    },
    /// It can never succeed (malformed, unknown version, refers to unknown
    /// data): move it to the dead-letter queue now.
    DeadLetter {
        /// Why, stored with the dead letter.
        reason: String,
    },
}

impl Disposition {
    /// A retry after `after`.
    pub fn retry(after: Duration, reason: impl Into<String>) -> Self {
        Self::Retry {
            after,
            reason: reason.into(),
        }
    }

    /// A dead-letter.
    pub fn dead_letter(reason: impl Into<String>) -> Self {
        Self::DeadLetter {
            reason: reason.into(),
        }
    }
}

/// A message that was dead-lettered, with why and after how many attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The message as last delivered.
    pub delivery: Delivery,
    /// The handler's reason, or why the bus gave up.
    pub reason: String,
    /// How many times it was handled.
    pub attempts: u32,
}
