use std::{collections::BTreeMap, time::Duration};

use bytes::Bytes;
use erp_core::RawEnvelope;

/// Message headers (AMQP headers for RabbitMQ).
pub type Headers = BTreeMap<String, String>;

/// Header carrying the correlation id across services.
pub const CORRELATION_HEADER: &str = "x-correlation-id";
/// W3C trace-context header.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// Header: how many times the message was redriven out of a dead-letter
/// queue. It survives dead-lettering, so a message that keeps failing is
/// counted across redrives.
pub const REDRIVES_HEADER: &str = "x-redrives";
/// Redrives after which a dead letter stays in its dead-letter queue: a
/// message that failed this many fresh starts needs a person, not another
/// loop.
pub const MAX_REDRIVES: u32 = 3;

/// What one redrive did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redriven {
    /// Dead letters moved back into their queue.
    pub moved: usize,
    /// Dead letters left in the dead-letter queue, already redriven
    /// [`MAX_REDRIVES`] times.
    pub held: usize,
}

/// The redrive count a message carries (0 when never redriven).
pub fn redrives(headers: &Headers) -> u32 {
    headers
        .get(REDRIVES_HEADER)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A W3C `traceparent` for an event: the current span's (the publish span,
/// when traces are exported), so the consumer's span is its child. Else the
/// trace id is the correlation id when it is a UUID (request ids are), so
/// every event of one request shares a trace, and the span id comes from
/// the event id.
fn traceparent(envelope: &RawEnvelope) -> String {
    if let Some(current) = crate::trace_context::current_traceparent() {
        return current;
    }
    let trace = erp_core::trace::trace_id(&envelope.correlation_id)
        .unwrap_or_else(|| envelope.id.as_uuid().simple().to_string());
    let span = &envelope.id.as_uuid().simple().to_string()[16..];
    erp_core::trace::traceparent(&trace, span)
}

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
    /// its type as routing key, its correlation id and the current span's
    /// `traceparent` in headers.
    pub fn from_envelope(envelope: &RawEnvelope) -> Self {
        let mut headers = Headers::new();
        headers.insert(CORRELATION_HEADER.into(), envelope.correlation_id.clone());
        headers.insert(TRACEPARENT_HEADER.into(), traceparent(envelope));
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

impl DeadLetter {
    /// How many times it was redriven before this dead-lettering.
    pub fn redrives(&self) -> u32 {
        redrives(&self.delivery.headers)
    }
}

#[cfg(test)]
mod tests {
    use erp_core::{EventEnvelope, EventId, Timestamp};

    use super::*;

    fn envelope(correlation_id: &str) -> RawEnvelope {
        EventEnvelope {
            id: EventId::new(),
            event_type: "a.b".into(),
            version: 1,
            occurred_at: Timestamp::now(),
            source: "t".into(),
            correlation_id: correlation_id.into(),
            causation_id: "c".into(),
            data: serde_json::json!({}),
        }
    }

    #[test]
    fn event_messages_carry_id_type_correlation_and_traceparent() {
        let env = envelope("0190f8a0-1234-7000-8000-00000000abcd");
        let m = OutgoingMessage::from_envelope(&env);
        assert_eq!(m.message_id, env.id.to_string());
        assert_eq!(m.routing_key, "a.b");
        assert_eq!(m.headers[CORRELATION_HEADER], env.correlation_id);
        let tp = &m.headers[TRACEPARENT_HEADER];
        assert!(
            tp.starts_with("00-0190f8a012347000800000000000abcd-"),
            "{tp}"
        );
        assert_eq!(tp.len(), 55);
        assert!(tp.ends_with("-01"));
        let other = OutgoingMessage::from_envelope(&envelope("not-a-uuid"));
        assert_eq!(
            other.headers[TRACEPARENT_HEADER].len(),
            55,
            "a valid traceparent anyway"
        );
    }
}
