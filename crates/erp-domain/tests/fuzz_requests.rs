//! Fuzzing request parsing (bounded by proptest's case count): any JSON
//! body becomes a request or a 4xx listing problems, never a panic or a 5xx.

use erp_domain::trade::parse_request;
use erp_service::{JsonBody, body::parse_object, idempotency::fingerprint};
use proptest::prelude::*;
use serde_json::{Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,16}".prop_map(Value::String),
        Just(json!("main")),
        Just(json!("2026-01-31T12:00:00Z")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("product_id".to_owned()),
                    Just("quantity".to_owned()),
                    Just("unit_price".to_owned()),
                    "[a-z_]{1,10}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_trade_body_parses_or_is_a_client_error(store in json_value(), lines in json_value(), date in json_value(), party in json_value()) {
        let body = json!({"store_id": store, "lines": lines, "sold_at": date, "customer": party});
        let parsed = parse_request(&JsonBody(body.as_object().unwrap().clone()), "sold_at", "customer");
        if let Err(e) = parsed {
            prop_assert!(e.status().is_client_error(), "{:?}", e);
        }
    }

    #[test]
    fn any_bytes_are_an_object_or_a_client_error(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(e) = parse_object(&bytes) {
            prop_assert!(e.status().is_client_error());
        }
        let _ = fingerprint(&bytes);
    }
}
