//! JSON Schemas of every event version, generated from the Rust types.
//!
//! The generated files are committed under `schemas/events/` and the test
//! `tests/event_schemas.rs` fails when the types drift from them: a
//! published version is frozen, so a change that could break consumers
//! needs a new version (a new `VERSION` and a new file) instead.

use schemars::JsonSchema;
use serde_json::Value;

use crate::{DomainEvent, EventEnvelope, PurchaseCompleted, SaleCompleted, StockChanged};

fn schema_of<E: DomainEvent + JsonSchema>() -> (String, Value) {
    let mut schema = schemars::schema_for!(EventEnvelope<E>);
    schema.insert(
        "title".into(),
        format!("{} v{}", E::TYPE, E::VERSION).into(),
    );
    (
        format!("{}.v{}.json", E::TYPE, E::VERSION),
        schema.to_value(),
    )
}

/// `(file name, schema)` for every event this crate defines.
pub fn event_schemas() -> Vec<(String, Value)> {
    vec![
        schema_of::<PurchaseCompleted>(),
        schema_of::<SaleCompleted>(),
        schema_of::<StockChanged>(),
    ]
}
