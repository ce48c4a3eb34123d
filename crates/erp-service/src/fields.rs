//! Reading fields of a JSON object into domain types while collecting every
//! problem, so one 422 lists all of them.
//!
//! Each function takes the [`Problems`] collector and the field's path
//! (`lines[2].quantity`), records what is wrong and returns `None` then.
//! A JSON `null` counts as absent.

use std::fmt::Display;

use erp_core::Problems;
use serde_json::{Map, Value};

/// The field `key` of `obj`; `None` when absent or null.
pub fn get<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// A required field: records "is required" when absent.
pub fn required<'a>(p: &mut Problems, path: &str, v: Option<&'a Value>) -> Option<&'a Value> {
    if v.is_none() {
        p.add(path, "is required");
    }
    v
}

/// A non-empty string of at most `max_chars` characters, trimmed.
pub fn text(p: &mut Problems, path: &str, v: &Value, max_chars: usize) -> Option<String> {
    let Some(s) = v.as_str() else {
        p.add(path, "must be a string");
        return None;
    };
    let s = s.trim();
    if s.is_empty() {
        p.add(path, "must not be empty");
        None
    } else if s.chars().count() > max_chars {
        p.add(path, format!("must be at most {max_chars} characters"));
        None
    } else {
        Some(s.to_owned())
    }
}

/// A string parsed by `parse` (an id, a timestamp, …).
pub fn parsed<T, E: Display>(
    p: &mut Problems,
    path: &str,
    v: &Value,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<T> {
    match v.as_str() {
        Some(s) => p.check(path, parse(s)),
        None => {
            p.add(path, "must be a string");
            None
        }
    }
}

/// An integer parsed by `parse` (a quantity, an amount of money, …).
/// Fractions and numbers beyond `i64` are refused.
pub fn integer<T, E: Display>(
    p: &mut Problems,
    path: &str,
    v: &Value,
    parse: impl FnOnce(i64) -> Result<T, E>,
) -> Option<T> {
    match v.as_i64() {
        Some(n) => p.check(path, parse(n)),
        None if v.is_number() => {
            p.add(path, "must be a whole number within range");
            None
        }
        None => {
            p.add(path, "must be an integer");
            None
        }
    }
}

/// An array with `min..=max` items.
pub fn array<'a>(
    p: &mut Problems,
    path: &str,
    v: &'a Value,
    min: usize,
    max: usize,
) -> Option<&'a Vec<Value>> {
    let Some(items) = v.as_array() else {
        p.add(path, "must be an array");
        return None;
    };
    if items.len() < min || items.len() > max {
        p.add(path, format!("must have {min} to {max} items"));
        return None;
    }
    Some(items)
}

/// A JSON object.
pub fn object<'a>(p: &mut Problems, path: &str, v: &'a Value) -> Option<&'a Map<String, Value>> {
    let o = v.as_object();
    if o.is_none() {
        p.add(path, "must be an object");
    }
    o
}

#[cfg(test)]
mod tests {
    use erp_core::Quantity;
    use serde_json::json;

    use super::*;

    #[test]
    fn collects_a_problem_per_bad_field() {
        let body = json!({"name": " ", "qty": 1.5, "id": "a b", "lines": [], "n": null});
        let obj = body.as_object().unwrap();
        let mut p = Problems::default();
        assert!(text(&mut p, "name", &obj["name"], 10).is_none());
        assert!(integer(&mut p, "qty", &obj["qty"], Quantity::new).is_none());
        assert!(parsed(&mut p, "id", &obj["id"], erp_core::ProductId::parse).is_none());
        assert!(array(&mut p, "lines", &obj["lines"], 1, 100).is_none());
        assert!(required(&mut p, "n", get(obj, "n")).is_none());
        let err = p.finish(Some(())).unwrap_err();
        let fields: Vec<_> = err.problems().iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["name", "qty", "id", "lines", "n"]);
    }

    #[test]
    fn accepts_good_values() {
        let mut p = Problems::default();
        assert_eq!(text(&mut p, "a", &json!(" x "), 5).as_deref(), Some("x"));
        assert_eq!(
            integer(&mut p, "b", &json!(3), Quantity::new).map(Quantity::get),
            Some(3)
        );
        assert!(integer(&mut p, "c", &json!("3"), Quantity::new).is_none());
        assert_eq!(p.finish(Some(())).unwrap_err().problems().len(), 1);
    }
}
