//! Evaluating [`Filter`]s and sort keys on JSON with MongoDB's path rules,
//! so the in-memory read model answers queries exactly as the MongoDB one.

use std::cmp::Ordering;

use serde_json::Value;

use crate::{Filter, Order};

/// Every value at `path`; a path through an array visits each element.
pub(super) fn values_at<'a>(doc: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![doc];
    for key in path.split('.') {
        let mut next = Vec::new();
        for v in current {
            match v {
                Value::Object(map) => next.extend(map.get(key)),
                Value::Array(items) => next.extend(
                    items
                        .iter()
                        .filter_map(|item| item.as_object().and_then(|m| m.get(key))),
                ),
                _ => {}
            }
        }
        current = next;
    }
    // A path ending on an array matches its elements too, as in MongoDB.
    current
        .into_iter()
        .flat_map(|v| match v {
            Value::Array(items) => items.iter().collect::<Vec<_>>(),
            other => vec![other],
        })
        .collect()
}

/// Compares two scalars of the same JSON type; `None` across types.
pub(super) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

pub(super) fn matches(doc: &Value, filter: &Filter) -> bool {
    let (path, want, ok): (&str, &Value, fn(Ordering) -> bool) = match filter {
        Filter::Eq(p, v) => (p, v, |o| o == Ordering::Equal),
        Filter::Gte(p, v) => (p, v, |o| o != Ordering::Less),
        Filter::Lte(p, v) => (p, v, |o| o != Ordering::Greater),
    };
    values_at(doc, path)
        .into_iter()
        .any(|have| compare(have, want).is_some_and(ok))
}

/// A document's sort key: the first value at each key's path, if any.
/// Taken once per document, so that sorting compares these, not paths.
pub(super) fn sort_key(doc: &Value, keys: &[(String, Order)]) -> Vec<Option<Value>> {
    keys.iter()
        .map(|(path, _)| values_at(doc, path).into_iter().next().cloned())
        .collect()
}

/// Orders two [`sort_key`]s of `keys`; missing fields sort first.
pub(super) fn order_by(
    a: &[Option<Value>],
    b: &[Option<Value>],
    keys: &[(String, Order)],
) -> Ordering {
    for ((x, y), (_, order)) in a.iter().zip(b).zip(keys) {
        let o = match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => compare(x, y).unwrap_or(Ordering::Equal),
        };
        let o = if *order == Order::Desc {
            o.reverse()
        } else {
            o
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_fan_out_over_arrays() {
        let doc = json!({"lines": [{"p": "a"}, {"p": "b"}], "tags": ["x", "y"]});
        assert!(matches(&doc, &Filter::Eq("lines.p".into(), json!("b"))));
        assert!(!matches(&doc, &Filter::Eq("lines.p".into(), json!("c"))));
        assert!(matches(&doc, &Filter::Eq("tags".into(), json!("y"))));
    }

    #[test]
    fn ranges_compare_within_one_type_only() {
        let doc = json!({"n": 5, "s": "2026-01-02"});
        assert!(matches(&doc, &Filter::Gte("n".into(), json!(5))));
        assert!(!matches(&doc, &Filter::Lte("n".into(), json!(4))));
        assert!(matches(&doc, &Filter::Lte("s".into(), json!("2026-01-03"))));
        assert!(!matches(&doc, &Filter::Gte("n".into(), json!("5"))));
    }

    #[test]
    fn sorts_by_keys_in_order_of_significance() {
        let a = json!({"t": 1, "id": "a"});
        let b = json!({"t": 1, "id": "b"});
        let order =
            |keys: &[(String, Order)]| order_by(&sort_key(&a, keys), &sort_key(&b, keys), keys);
        let keys = vec![("t".to_owned(), Order::Desc), ("id".to_owned(), Order::Asc)];
        assert_eq!(order(&keys), Ordering::Less);
        let keys = vec![("id".to_owned(), Order::Desc)];
        assert_eq!(order(&keys), Ordering::Greater);
        let keys = vec![
            ("missing".to_owned(), Order::Asc),
            ("id".to_owned(), Order::Desc),
        ];
        assert_eq!(order(&keys), Ordering::Greater);
    }
}
