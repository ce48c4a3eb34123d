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
/// As in JSON Schema, a number with a zero fraction (`3.0`, `1e3`) is an
/// integer; fractions and numbers beyond `i64` are refused. (Above 2^53 a
/// number written with a fraction or exponent has already been rounded to
/// the nearest double by the JSON parser; integers written plainly never are.)
pub fn integer<T, E: Display>(
    p: &mut Problems,
    path: &str,
    v: &Value,
    parse: impl FnOnce(i64) -> Result<T, E>,
) -> Option<T> {
    match v.as_i64().or_else(|| whole_float(v)) {
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

/// A float without a fraction, within `i64`.
fn whole_float(v: &Value) -> Option<i64> {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    let f = v.as_f64().filter(|_| v.is_f64())?;
    // Within ±2^63 a double with no fraction converts to i64 exactly.
    (f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f)).then_some(f as i64)
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

/// Records "unknown field" for each member of `obj` not in `known`, so a
/// misspelt optional field is refused rather than silently ignored. `prefix`
/// is the object's path (`lines[2]`), empty for the body itself.
pub fn only(p: &mut Problems, prefix: &str, obj: &Map<String, Value>, known: &[&str]) {
    for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        p.add(path, "unknown field");
    }
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
        let body = json!({"qty": 1.5, "id": "a b", "lines": [], "n": null, "typo": 1});
        let obj = body.as_object().unwrap();
        let mut p = Problems::default();
        only(&mut p, "", obj, &["qty", "id", "lines", "n"]);
        assert!(integer(&mut p, "qty", &obj["qty"], Quantity::new).is_none());
        assert!(parsed(&mut p, "id", &obj["id"], erp_core::ProductId::parse).is_none());
        assert!(array(&mut p, "lines", &obj["lines"], 1, 100).is_none());
        assert!(required(&mut p, "n", get(obj, "n")).is_none());
        let err = p.finish(Some(())).unwrap_err();
        let fields: Vec<_> = err.problems().iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["typo", "qty", "id", "lines", "n"]);
    }

    #[test]
    fn accepts_good_values() {
        let mut p = Problems::default();
        only(&mut p, "x", json!({"b": 1}).as_object().unwrap(), &["b"]);
        assert_eq!(
            integer(&mut p, "b", &json!(3), Quantity::new).map(Quantity::get),
            Some(3)
        );
        assert!(integer(&mut p, "c", &json!("3"), Quantity::new).is_none());
        assert_eq!(
            integer(&mut p, "d", &json!(999_999_999.0), Quantity::new).map(Quantity::get),
            Some(999_999_999)
        );
        assert_eq!(
            integer(&mut p, "e", &json!(-2.0), Ok::<_, String>),
            Some(-2)
        );
        assert!(integer(&mut p, "f", &json!(1.5), Quantity::new).is_none());
        assert!(integer(&mut p, "g", &json!(9.3e18), Ok::<_, String>).is_none());
        let fields: Vec<_> = p
            .finish(Some(()))
            .unwrap_err()
            .problems()
            .iter()
            .map(|p| p.field.clone())
            .collect();
        assert_eq!(fields, ["c", "f", "g"]);
    }
}
