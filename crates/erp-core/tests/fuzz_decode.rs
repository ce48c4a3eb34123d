//! Fuzzing event decoding (bounded: proptest's case count): any bytes, and
//! any JSON shaped roughly like an envelope, decode to a value or a typed
//! error, never a panic; whatever decodes re-encodes to the same value; and
//! every valid event survives encode → decode unchanged.

use erp_core::{
    EventEnvelope, EventLine, Money, ProductId, PurchaseCompleted, PurchaseId, Quantity,
    RawEnvelope, SaleCompleted, SaleId, StoreId, Timestamp,
};
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

fn product_id() -> impl Strategy<Value = ProductId> {
    "[A-Za-z0-9][A-Za-z0-9._-]{0,15}".prop_map(|s| ProductId::parse(&s).unwrap())
}

fn store_id() -> impl Strategy<Value = StoreId> {
    "[A-Za-z0-9][A-Za-z0-9._-]{0,15}".prop_map(|s| StoreId::parse(&s).unwrap())
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (1..=28u32, 0..24u32, 0..60u32, 0..60u32, 0..1_000_000u32).prop_map(|(d, h, m, s, us)| {
        Timestamp::parse(&format!("2026-02-{d:02}T{h:02}:{m:02}:{s:02}.{us:06}Z")).unwrap()
    })
}

fn lines() -> impl Strategy<Value = Vec<EventLine>> {
    prop::collection::btree_map(product_id(), (1..=Quantity::MAX, 0..=10_000_000i64), 1..6)
        .prop_map(|m| {
            m.into_iter()
                .map(|(product_id, (q, price))| EventLine {
                    product_id,
                    quantity: Quantity::new(q).unwrap(),
                    unit_price: Money::from_minor(price).unwrap(),
                })
                .collect()
        })
}

fn purchase() -> impl Strategy<Value = PurchaseCompleted> {
    (
        store_id(),
        timestamp(),
        lines(),
        proptest::option::of(".{0,30}"),
    )
        .prop_map(
            |(store_id, purchased_at, lines, supplier)| PurchaseCompleted {
                purchase_id: PurchaseId::new(),
                store_id,
                purchased_at,
                lines,
                supplier,
            },
        )
}

fn sale() -> impl Strategy<Value = SaleCompleted> {
    (
        store_id(),
        timestamp(),
        lines(),
        proptest::option::of(".{0,30}"),
    )
        .prop_map(|(store_id, sold_at, lines, customer)| SaleCompleted {
            sale_id: SaleId::new(),
            store_id,
            sold_at,
            lines,
            customer,
        })
}

proptest! {
    #[test]
    fn every_valid_purchase_survives_encode_then_decode(event in purchase(), correlation in ".{0,40}") {
        let sent = EventEnvelope::new(event, "fuzz", correlation.clone(), correlation);
        let bytes = sent.clone().into_raw().encode();
        let got = EventEnvelope::<PurchaseCompleted>::decode(&bytes).map_err(|e| e.to_string());
        prop_assert_eq!(got, Ok(sent));
    }

    #[test]
    fn every_valid_sale_survives_encode_then_decode(event in sale()) {
        let sent = EventEnvelope::new(event, "fuzz", "c", "c");
        let bytes = sent.clone().into_raw().encode();
        let got = EventEnvelope::<SaleCompleted>::decode(&bytes).map_err(|e| e.to_string());
        prop_assert_eq!(got, Ok(sent));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = RawEnvelope::decode(&bytes);
        let _ = EventEnvelope::<PurchaseCompleted>::decode(&bytes);
    }

    #[test]
    fn envelope_shaped_json_decodes_to_a_fixed_point_or_an_error(data in json_value(), version in any::<u32>(), kind in prop_oneof![Just("purchase.completed".to_owned()), Just("sale.completed".to_owned()), ".{0,12}"]) {
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
        // What decodes is a fixed point: re-encoded, it decodes to itself.
        if let Ok(p) = EventEnvelope::<PurchaseCompleted>::decode(&bytes) {
            let again = EventEnvelope::<PurchaseCompleted>::decode(&p.clone().into_raw().encode())
                .map_err(|e| e.to_string());
            prop_assert_eq!(again, Ok(p));
        }
        if let Ok(s) = EventEnvelope::<SaleCompleted>::decode(&bytes) {
            let again = EventEnvelope::<SaleCompleted>::decode(&s.clone().into_raw().encode())
                .map_err(|e| e.to_string());
            prop_assert_eq!(again, Ok(s));
        }
        let raw = RawEnvelope::decode(&bytes).unwrap();
        prop_assert_eq!(RawEnvelope::decode(&raw.encode()).map_err(|e| e.to_string()), Ok(raw));
    }
}
