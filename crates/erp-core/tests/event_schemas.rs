//! The committed event schemas are the contract with consumers.
//!
//! - `generated_schemas_match_the_committed_ones`: a change to an event type
//!   changes its schema and fails here. Published versions are frozen: add a
//!   new version instead. (`UPDATE_SCHEMAS=1` rewrites the files, for a new
//!   version or a deliberate, reviewed change.)
//! - `recorded_v1_messages_still_decode`: messages as producers of v1 wrote
//!   them must stay readable by the current types.

use std::{fs, path::PathBuf};

use erp_core::{
    EventEnvelope, PurchaseCompleted, SaleCompleted, StockChanged, schema::event_schemas,
};
use serde_json::Value;

/// Descriptions come from doc comments; rewording them breaks nobody.
fn without_descriptions(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| k != "description")
                .map(|(k, v)| (k, without_descriptions(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_descriptions).collect()),
        other => other,
    }
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/events")
}

#[test]
fn generated_schemas_match_the_committed_ones() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    for (file, schema) in event_schemas() {
        let path = dir().join(&file);
        let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if update {
            fs::create_dir_all(dir()).unwrap();
            fs::write(&path, &generated).unwrap();
            continue;
        }
        let committed = fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} is missing; run with UPDATE_SCHEMAS=1 for a new version",
                path.display()
            )
        });
        let committed: Value = serde_json::from_str(&committed).unwrap();
        assert_eq!(
            without_descriptions(committed),
            without_descriptions(schema),
            "the schema of {file} changed. Published versions are frozen: bump the event's VERSION \
             (new file) rather than changing it, or rewrite deliberately with UPDATE_SCHEMAS=1"
        );
    }
}

#[test]
fn recorded_v1_messages_still_decode() {
    let read = |name: &str| fs::read(dir().join("examples").join(name)).unwrap();
    let p =
        EventEnvelope::<PurchaseCompleted>::decode(&read("purchase.completed.v1.json")).unwrap();
    assert_eq!(p.data.lines.len(), 2);
    assert_eq!(p.data.lines[0].quantity.get(), 10);
    let s = EventEnvelope::<SaleCompleted>::decode(&read("sale.completed.v1.json")).unwrap();
    assert_eq!(s.data.lines[0].unit_price.minor(), 400);
    let c = EventEnvelope::<StockChanged>::decode(&read("stock.changed.v1.json")).unwrap();
    assert_eq!((c.data.delta, c.data.on_hand), (-3, 7));
    assert_eq!(c.data.cause_event_id, s.id);
}
