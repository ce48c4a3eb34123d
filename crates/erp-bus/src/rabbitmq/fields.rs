//! Converting between the port's message shapes and AMQP properties.

use lapin::{
    BasicProperties,
    types::{AMQPValue, FieldTable, LongString, ShortString},
};

use crate::{Delivery, Headers};

/// Header: attempts so far, set on retry copies (the first delivery is 1).
pub(super) const ATTEMPT: &str = "x-attempt";
/// Header: the routing key the message was first published with; retries
/// and dead letters travel with other routing keys.
pub(super) const ORIGINAL_KEY: &str = "x-original-routing-key";
/// Header: why a message was dead-lettered.
pub(super) const REASON: &str = "x-dead-letter-reason";
/// Header: after how many attempts it was dead-lettered.
pub(super) const ATTEMPTS: &str = "x-attempts";
/// Header set by quorum queues on redelivery (consumer lost, nack).
const DELIVERY_COUNT: &str = "x-delivery-count";

pub(super) fn table(headers: &Headers) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in headers {
        t.insert(
            ShortString::from(k.as_str()),
            AMQPValue::LongString(LongString::from(v.as_str())),
        );
    }
    t
}

fn text(v: &AMQPValue) -> Option<String> {
    Some(match v {
        AMQPValue::LongString(s) => s.to_string(),
        AMQPValue::ShortString(s) => s.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::LongUInt(n) => n.to_string(),
        AMQPValue::ShortInt(n) => n.to_string(),
        AMQPValue::ShortUInt(n) => n.to_string(),
        AMQPValue::Boolean(b) => b.to_string(),
        _ => return None,
    })
}

/// Text-valued headers of a message; nested tables (`x-death`) are skipped.
pub(super) fn headers(properties: &BasicProperties) -> Headers {
    properties
        .headers()
        .as_ref()
        .map(|t| {
            t.inner()
                .iter()
                .filter_map(|(k, v)| Some((k.to_string(), text(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

/// The port's view of an AMQP delivery.
pub(super) fn delivery(d: &lapin::message::Delivery) -> Delivery {
    let mut headers = headers(&d.properties);
    let attempt_header: u32 = headers
        .get(ATTEMPT)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let redeliveries: u32 = headers
        .get(DELIVERY_COUNT)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let routing_key = headers
        .remove(ORIGINAL_KEY)
        .unwrap_or_else(|| d.routing_key.to_string());
    Delivery {
        message_id: d.properties.message_id().as_ref().map(ToString::to_string),
        routing_key,
        headers,
        body: d.data.clone().into(),
        attempt: attempt_header.saturating_add(redeliveries).max(1),
    }
}
