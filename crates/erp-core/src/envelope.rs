//! The event envelope: the one wire shape of every event (design §6).
//!
//! ```json
//! {"id":"<uuid v7>","type":"purchase.completed","version":1,
//!  "occurred_at":"2026-01-31T12:00:00.000000Z","source":"purchase-svc",
//!  "correlation_id":"…","causation_id":"…","data":{…}}
//! ```

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{EventId, Timestamp};

/// An event type that travels in an [`EventEnvelope`].
pub trait DomainEvent: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The routing key and `type` field, e.g. `purchase.completed`.
    const TYPE: &'static str;
    /// The schema version this Rust type reads and writes.
    const VERSION: u32;
}

/// Metadata plus the event itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventEnvelope<T> {
    /// Unique per event; consumers deduplicate on it.
    pub id: EventId,
    /// The event type, also the routing key.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Schema version of `data`.
    pub version: u32,
    /// When the fact happened.
    pub occurred_at: Timestamp,
    /// The service that raised it.
    pub source: String,
    /// Ties together everything one client request caused. Read as `""`
    /// when a producer sends `null`.
    #[serde(deserialize_with = "null_as_empty")]
    pub correlation_id: String,
    /// The id of the request or message that directly caused this event.
    /// Read as `""` when a producer sends `null` (the first event of a chain
    /// has no cause, and other producers say so with `null`).
    #[serde(deserialize_with = "null_as_empty")]
    pub causation_id: String,
    /// The event itself.
    pub data: T,
}

/// Reads a string that may be `null`; tolerant in what it accepts from
/// other producers, so a `null` id of metadata never dead-letters a fact.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// An envelope whose `data` is still untyped JSON: what stores and buses carry.
pub type RawEnvelope = EventEnvelope<serde_json::Value>;

/// Why bytes could not be read as an event. Every variant means the message
/// can never be processed, so a consumer dead-letters it rather than retrying.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes are not an envelope (bad JSON or missing fields).
    #[error("malformed envelope: {0}")]
    Malformed(String),
    /// The envelope's `type` is not the one expected.
    #[error("unexpected event type {found:?}, expected {expected:?}")]
    UnexpectedType {
        /// What the envelope said.
        found: String,
        /// What the caller asked for.
        expected: &'static str,
    },
    /// The envelope's `version` is not one this consumer understands.
    #[error("unsupported version {found} of {event_type}, supported: {supported}")]
    UnsupportedVersion {
        /// The event type.
        event_type: String,
        /// What the envelope said.
        found: u32,
        /// What the consumer reads.
        supported: u32,
    },
    /// The envelope is fine but `data` does not match the event's schema.
    #[error("invalid data for {event_type}: {reason}")]
    InvalidData {
        /// The event type.
        event_type: String,
        /// What serde reported.
        reason: String,
    },
}

impl<T> EventEnvelope<T> {
    /// The same envelope around other data (the typed and the JSON form of
    /// one event).
    fn with_data<U>(self, data: U) -> EventEnvelope<U> {
        EventEnvelope {
            id: self.id,
            event_type: self.event_type,
            version: self.version,
            occurred_at: self.occurred_at,
            source: self.source,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            data,
        }
    }
}

impl<T: DomainEvent> EventEnvelope<T> {
    /// Wraps a new event with a fresh v7 id.
    pub fn new(
        data: T,
        source: impl Into<String>,
        correlation_id: impl Into<String>,
        causation_id: impl Into<String>,
    ) -> Self {
        Self {
            id: EventId::new(),
            event_type: T::TYPE.to_owned(),
            version: T::VERSION,
            occurred_at: Timestamp::now(),
            source: source.into(),
            correlation_id: correlation_id.into(),
            causation_id: causation_id.into(),
            data,
        }
    }

    /// Turns `data` into JSON, for storage or transport.
    pub fn into_raw(self) -> RawEnvelope {
        let data = serde_json::to_value(&self.data)
            .expect("domain events serialize to JSON: they hold no maps with non-string keys");
        self.with_data(data)
    }

    /// Reads a typed envelope from bytes, checking type and version.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        RawEnvelope::decode(bytes)?.into_typed()
    }
}

impl RawEnvelope {
    /// Reads an untyped envelope from bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
    }

    /// The JSON bytes of this envelope.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a JSON value always serializes")
    }

    /// Checks type and version, then reads `data` as `T`.
    pub fn into_typed<T: DomainEvent>(self) -> Result<EventEnvelope<T>, DecodeError> {
        let data = self.data_as::<T>()?;
        Ok(self.with_data(data))
    }

    /// Checks type and version, then reads `data` as `T`, leaving the
    /// envelope as it is: what a projection needs, without the copy of the
    /// whole envelope that `clone().into_typed()` makes.
    pub fn data_as<T: DomainEvent>(&self) -> Result<T, DecodeError> {
        if self.event_type != T::TYPE {
            return Err(DecodeError::UnexpectedType {
                found: self.event_type.clone(),
                expected: T::TYPE,
            });
        }
        if self.version != T::VERSION {
            return Err(DecodeError::UnsupportedVersion {
                event_type: self.event_type.clone(),
                found: self.version,
                supported: T::VERSION,
            });
        }
        T::deserialize(&self.data).map_err(|e| DecodeError::InvalidData {
            event_type: self.event_type.clone(),
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventLine, Money, ProductId, PurchaseCompleted, PurchaseId, Quantity, StoreId};

    fn purchase() -> EventEnvelope<PurchaseCompleted> {
        EventEnvelope::new(
            PurchaseCompleted {
                purchase_id: PurchaseId::new(),
                store_id: StoreId::main(),
                purchased_at: Timestamp::now(),
                lines: vec![EventLine {
                    product_id: ProductId::parse("p1").unwrap(),
                    quantity: Quantity::new(3).unwrap(),
                    unit_price: Money::from_minor(100).unwrap(),
                }],
                supplier: None,
            },
            "purchase-svc",
            "corr",
            "cause",
        )
    }

    #[test]
    fn round_trips_through_bytes_with_the_contract_field_names() {
        let env = purchase();
        let bytes = env.clone().into_raw().encode();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        for field in [
            "id",
            "type",
            "version",
            "occurred_at",
            "source",
            "correlation_id",
            "causation_id",
            "data",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        assert_eq!(json["type"], "purchase.completed");
        assert_eq!(json["version"], 1);
        let back = EventEnvelope::<PurchaseCompleted>::decode(&bytes).unwrap();
        assert_eq!(back, env);
    }

    #[test]
    fn reads_null_correlation_and_causation_ids_as_empty() {
        let mut json = serde_json::to_value(purchase().into_raw()).unwrap();
        json["causation_id"] = serde_json::Value::Null;
        json["correlation_id"] = serde_json::Value::Null;
        let back = EventEnvelope::<PurchaseCompleted>::decode(&serde_json::to_vec(&json).unwrap())
            .unwrap();
        assert_eq!(
            (back.correlation_id.as_str(), back.causation_id.as_str()),
            ("", "")
        );
        json.as_object_mut().unwrap().remove("causation_id");
        assert!(matches!(
            RawEnvelope::decode(&serde_json::to_vec(&json).unwrap()),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn rejects_garbage_other_types_and_unknown_versions() {
        assert!(matches!(
            RawEnvelope::decode(b"{not json"),
            Err(DecodeError::Malformed(_))
        ));
        let mut raw = purchase().into_raw();
        raw.version = 2;
        assert!(matches!(
            EventEnvelope::<PurchaseCompleted>::decode(&raw.encode()),
            Err(DecodeError::UnsupportedVersion { found: 2, .. })
        ));
        let raw = purchase().into_raw();
        assert!(matches!(
            raw.into_typed::<crate::SaleCompleted>(),
            Err(DecodeError::UnexpectedType { .. })
        ));
        let mut raw = purchase().into_raw();
        raw.data["lines"][0]["quantity"] = serde_json::json!(0);
        assert!(matches!(
            raw.into_typed::<PurchaseCompleted>(),
            Err(DecodeError::InvalidData { .. })
        ));
    }

    #[test]
    fn data_as_reads_the_data_in_place_with_the_same_checks() {
        let typed = purchase();
        let raw = typed.clone().into_raw();
        assert_eq!(raw.data_as::<PurchaseCompleted>().unwrap(), typed.data);
        assert!(matches!(
            raw.data_as::<crate::SaleCompleted>(),
            Err(DecodeError::UnexpectedType { .. })
        ));
        let mut newer = raw.clone();
        newer.version = 2;
        assert!(matches!(
            newer.data_as::<PurchaseCompleted>(),
            Err(DecodeError::UnsupportedVersion { found: 2, .. })
        ));
        let mut bad = raw;
        bad.data["lines"][0]["quantity"] = serde_json::json!(0);
        assert!(matches!(
            bad.data_as::<PurchaseCompleted>(),
            Err(DecodeError::InvalidData { .. })
        ));
    }
}
