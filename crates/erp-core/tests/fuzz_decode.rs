//! Fuzzing event decoding (bounded: proptest's case count): any bytes, and
//! any JSON shaped roughly like an envelope, decode to a value or a typed
//! error, never a panic.

use erp_core::{EventEnvelope, PurchaseCompleted, RawEnvelope, SaleCompleted};
use proptest::prelude::*;
use serde_json::{Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = RawEnvelope::decode(&bytes);
        let _ = EventEnvelope::<PurchaseCompleted>::decode(&bytes);
    }

    #[test]
    fn envelope_shaped_json_never_panics(data in json_value(), version in any::<u32>(), kind in prop_oneof![Just("purchase.completed".to_owned()), Just("sale.completed".to_owned()), ".{0,12}"]) {
        let envelope = json!({
            "id": "01936f3e-8a2b-7c4d-9e0f-123456789abc",
            "type": kind,
            "version": version,
            "occurred_at": "2026-01-31T12:00:00Z",
            "source": "fuzz",
            "correlation_id": "c",
            "causation_id": "c",
            "data": data,
        });
        let bytes = serde_json::to_vec(&envelope).unwrap();
        let _ = EventEnvelope::<PurchaseCompleted>::decode(&bytes);
        let _ = EventEnvelope::<SaleCompleted>::decode(&bytes);
    }
}
