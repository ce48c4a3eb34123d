//! Every constraint each service publishes in `/openapi.json` is the rule
//! the server enforces: for each one this walks the document and sends its
//! valid boundary (accepted: no validation refusal) and its invalid
//! neighbour (refused with the documented status and error code, naming the
//! field). Values come from the document's keywords alone (`minimum`,
//! `maxLength`, `pattern`, `enum`, `format`, `minItems`, `required`,
//! `additionalProperties`), so a rule changed on one side only fails here.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Map, Number, Value, json};

use crate::helpers::{Sys, spawn};

/// Codes of a refusal for invalid input; anything else counts as accepted.
const VALIDATION_CODES: [&str; 3] = [
    "validation_failed",
    "invalid_query",
    "invalid_idempotency_key",
];

static UNIQUE: AtomicUsize = AtomicUsize::new(0);

fn unique() -> usize {
    UNIQUE.fetch_add(1, Ordering::Relaxed)
}

/// A probe: one value in one place, and whether the document allows it.
#[derive(Debug, Clone)]
struct Probe {
    place: Place,
    /// `None` removes the field or parameter.
    value: Option<Value>,
    allowed: bool,
    why: String,
}

/// Whether a value may be left out.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Presence {
    Required,
    Optional,
    /// The body itself, or an array item: always there.
    Always,
}

#[derive(Debug, Clone, PartialEq)]
enum Place {
    Query(String),
    Header(String),
    /// A JSON pointer into the body, and the field name the server reports.
    Body {
        pointer: String,
        field: String,
    },
}

struct Doc<'a>(&'a Value);

impl Doc<'_> {
    fn resolve<'b>(&'b self, schema: &'b Value) -> &'b Value {
        match schema["$ref"].as_str() {
            Some(r) => {
                let name = r.trim_start_matches("#/components/schemas/");
                &self.0["components"]["schemas"][name]
            }
            None => schema,
        }
    }

    /// A valid value for `schema`, unique where it is an id.
    fn example(&self, schema: &Value) -> Value {
        let s = self.resolve(schema);
        match main_type(s).as_deref() {
            Some("object") => {
                let mut o = Map::new();
                for name in s["required"].as_array().into_iter().flatten() {
                    let name = name.as_str().unwrap();
                    o.insert(name.into(), self.example(&s["properties"][name]));
                }
                Value::Object(o)
            }
            Some("array") => {
                let n = s["minItems"].as_u64().unwrap_or(1).max(1);
                Value::Array((0..n).map(|_| self.example(&s["items"])).collect())
            }
            Some("integer") => json!(s["minimum"].as_i64().unwrap_or(0).max(1)),
            Some("string") => {
                if let Some(first) = s["enum"].get(0) {
                    first.clone()
                } else if s["format"] == "date-time" {
                    json!("2026-01-31T12:00:00Z")
                } else {
                    json!(format!("w{}", unique()))
                }
            }
            _ if s["anyOf"].is_array() => self.example(&s["anyOf"][0]),
            other => panic!("no example for type {other:?} in {s}"),
        }
    }

    /// Probes of every constraint of `schema` at `place`, recursing into
    /// objects and arrays of the body.
    fn probes(&self, schema: &Value, place: Place, presence: Presence, out: &mut Vec<Probe>) {
        let s = self.resolve(schema);
        let probe = |value: Option<Value>, allowed: bool, why: String| Probe {
            place: place.clone(),
            value,
            allowed,
            why,
        };
        match presence {
            Presence::Required => out.push(probe(None, false, "required, absent".into())),
            Presence::Optional => out.push(probe(None, true, "optional, absent".into())),
            Presence::Always => {}
        }
        if allows_null(s) {
            out.push(probe(Some(Value::Null), true, "null allowed".into()));
        }
        if let Some(branches) = s["anyOf"].as_array() {
            for b in branches {
                for v in format_values(self.resolve(b), true) {
                    out.push(probe(Some(v), true, "a branch of anyOf".into()));
                }
            }
            for v in ["noon", "2026-02-30"] {
                out.push(probe(Some(json!(v)), false, "no branch of anyOf".into()));
            }
            return;
        }
        match main_type(s).as_deref() {
            Some("integer") => {
                let min = s["minimum"].as_i64().map(i128::from);
                let max = s["maximum"].as_i64().map(i128::from);
                for (bound, step) in [(min, -1), (max, 1)] {
                    let Some(b) = bound else { continue };
                    out.push(probe(Some(number(b)), true, format!("boundary {b}")));
                    out.push(probe(Some(number(b + step)), false, format!("beyond {b}")));
                }
                out.push(probe(Some(json!(1.5)), false, "a fraction".into()));
                if matches!(place, Place::Body { .. }) {
                    out.push(probe(Some(json!("1")), false, "a string".into()));
                }
            }
            Some("string") => self.string_probes(s, &probe, out),
            Some("array") => {
                let items = &s["items"];
                for (n, allowed) in [
                    (s["minItems"].as_u64(), true),
                    (s["maxItems"].as_u64(), true),
                    (s["minItems"].as_u64().map(|n| n.wrapping_sub(1)), false),
                    (s["maxItems"].as_u64().map(|n| n + 1), false),
                ] {
                    let Some(n) = n.filter(|n| *n != u64::MAX) else {
                        continue;
                    };
                    let v = (0..n).map(|_| self.example(items)).collect();
                    out.push(probe(Some(Value::Array(v)), allowed, format!("{n} items")));
                }
                if let Place::Body { pointer, field } = &place {
                    let item = Place::Body {
                        pointer: format!("{pointer}/0"),
                        field: format!("{field}[0]"),
                    };
                    self.probes(items, item, Presence::Always, out);
                }
            }
            Some("object") => {
                let Place::Body { pointer, field } = &place else {
                    panic!("object outside a body")
                };
                let required: Vec<&str> = s["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for (name, prop) in s["properties"].as_object().into_iter().flatten() {
                    let child = Place::Body {
                        pointer: format!("{pointer}/{name}"),
                        field: join(field, name),
                    };
                    let presence = if required.contains(&name.as_str()) {
                        Presence::Required
                    } else {
                        Presence::Optional
                    };
                    self.probes(prop, child, presence, out);
                }
                if s["additionalProperties"] == json!(false) {
                    out.push(Probe {
                        place: Place::Body {
                            pointer: format!("{pointer}/unexpected"),
                            field: join(field, "unexpected"),
                        },
                        value: Some(json!(1)),
                        allowed: false,
                        why: "additionalProperties: false".into(),
                    });
                }
            }
            other => panic!("unhandled type {other:?} in {s}"),
        }
    }

    fn string_probes(
        &self,
        s: &Value,
        probe: &dyn Fn(Option<Value>, bool, String) -> Probe,
        out: &mut Vec<Probe>,
    ) {
        if let Some(choices) = s["enum"].as_array() {
            for c in choices {
                out.push(probe(Some(c.clone()), true, "an enum value".into()));
            }
            let outside = format!("{}x", choices[0].as_str().unwrap());
            out.push(probe(
                Some(json!(outside)),
                false,
                "outside the enum".into(),
            ));
            return;
        }
        for v in format_values(s, true) {
            out.push(probe(Some(v), true, "its format".into()));
        }
        for v in format_values(s, false) {
            out.push(probe(Some(v), false, "not its format".into()));
        }
        let pattern = s["pattern"]
            .as_str()
            .map(|p| regex::Regex::new(p).expect("the pattern compiles"));
        let fits = |v: &str| pattern.as_ref().is_none_or(|p| p.is_match(v));
        if let Some(max) = s["maxLength"].as_u64() {
            let at = "a".repeat(max as usize);
            assert!(fits(&at), "{at:?} should match {:?}", s["pattern"]);
            out.push(probe(Some(json!(at)), true, format!("{max} characters")));
            let over = "a".repeat(max as usize + 1);
            out.push(probe(
                Some(json!(over)),
                false,
                format!("{} characters", max + 1),
            ));
        }
        if let Some(min) = s["minLength"].as_u64().filter(|m| *m > 0) {
            let under = "a".repeat(min as usize - 1);
            out.push(probe(
                Some(json!(under)),
                false,
                format!("{} characters", min - 1),
            ));
        }
        if pattern.is_some() {
            // The shortest text of an allowed length that the pattern refuses.
            let bad = [" ", "-a", "a b", " \t", "é"]
                .into_iter()
                .find(|c| !fits(c))
                .expect("some text breaks the pattern");
            out.push(probe(Some(json!(bad)), false, "breaks the pattern".into()));
        }
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

fn number(n: i128) -> Value {
    match (i64::try_from(n), u64::try_from(n)) {
        (Ok(i), _) => Value::Number(i.into()),
        (_, Ok(u)) => Value::Number(Number::from(u)),
        _ => panic!("{n} is no JSON integer here"),
    }
}

fn main_type(s: &Value) -> Option<String> {
    match &s["type"] {
        Value::String(t) => Some(t.clone()),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .map(str::to_owned),
        _ => None,
    }
}

fn allows_null(s: &Value) -> bool {
    s["type"]
        .as_array()
        .is_some_and(|ts| ts.iter().any(|t| t == "null"))
}

/// Values of the schema's `format` (valid ones or not).
fn format_values(s: &Value, valid: bool) -> Vec<Value> {
    let v: &[&str] = match (s["format"].as_str(), valid) {
        (Some("date-time"), true) => &["2026-01-31T12:00:00Z", "2026-01-31T12:00:00.5+02:00"],
        (Some("date-time"), false) => &["2026-01-31", "2026-02-30T00:00:00Z", "noon"],
        (Some("date"), true) => &["2026-01-31"],
        (Some("date"), false) => &["2026-02-30"],
        _ => &[],
    };
    v.iter().map(|s| json!(s)).collect()
}

/// One request: the operation's base (valid) request with one probe applied.
struct Request {
    method: Method,
    url: String,
    query: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    body: Option<Value>,
}

fn as_param(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn apply(base: &Request, probe: &Probe) -> Request {
    let mut r = Request {
        method: base.method.clone(),
        url: base.url.clone(),
        query: base.query.clone(),
        headers: base.headers.clone(),
        body: base.body.clone(),
    };
    match (&probe.place, &probe.value) {
        (Place::Query(n), Some(v)) => {
            r.query.insert(n.clone(), as_param(v));
        }
        (Place::Query(n), None) => {
            r.query.remove(n);
        }
        (Place::Header(n), Some(v)) => {
            r.headers.insert(n.clone(), as_param(v));
        }
        (Place::Header(n), None) => {
            r.headers.remove(n);
        }
        (Place::Body { pointer, .. }, value) => {
            let body = r.body.as_mut().expect("a body");
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let parent = body.pointer_mut(parent).expect("the parent exists");
            match (parent, value) {
                (Value::Object(o), Some(v)) => {
                    o.insert(key.into(), v.clone());
                }
                (Value::Object(o), None) => {
                    o.remove(key);
                }
                (Value::Array(a), Some(v)) => a[key.parse::<usize>().unwrap()] = v.clone(),
                (parent, _) => panic!("cannot apply {probe:?} to {parent}"),
            }
        }
    }
    r
}

async fn send(sys: &Sys, r: &Request) -> (StatusCode, Value) {
    let mut req = sys.client.request(r.method.clone(), &r.url).query(&r.query);
    for (k, v) in &r.headers {
        req = req.header(k, v);
    }
    if let Some(b) = &r.body {
        req = req.json(b);
    }
    crate::helpers::read(req.send().await.unwrap()).await
}

/// Path parameters filled with what exists: `main` and a registered product.
fn fill_path(path: &str, product: &str) -> Option<String> {
    let filled = path
        .replace("{store_id}", "main")
        .replace("{product_id}", product);
    // Unknown ids there answer 404 by design; no constraint to walk.
    (!filled.contains('{')).then_some(filled)
}

#[tokio::test]
async fn every_published_constraint_is_the_servers_rule() {
    let sys = spawn().await;
    let product = "walk-p";
    sys.product(product).await;
    let mut walked = 0;
    for base_url in [&sys.purchase, &sys.sales, &sys.inventory] {
        let (_, doc) = sys.get(&format!("{base_url}/openapi.json")).await;
        let d = Doc(&doc);
        for (path, item) in doc["paths"].as_object().unwrap() {
            if path.starts_with("/health/") || path.starts_with("/admin/") || path == "/metrics" {
                continue;
            }
            let Some(filled) = fill_path(path, product) else {
                continue;
            };
            for (method, op) in item.as_object().unwrap() {
                let method: Method = method.to_uppercase().parse().unwrap();
                let mut probes = Vec::new();
                let mut base = Request {
                    method: method.clone(),
                    url: format!("{base_url}{filled}"),
                    query: BTreeMap::new(),
                    headers: BTreeMap::new(),
                    body: None,
                };
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let name = p["name"].as_str().unwrap().to_owned();
                    let required = p["required"] == json!(true);
                    let place = match p["in"].as_str().unwrap() {
                        "query" => Place::Query(name.clone()),
                        "header" => Place::Header(name.clone()),
                        _ => continue,
                    };
                    let presence = if required {
                        base.query.insert(name, as_param(&d.example(&p["schema"])));
                        Presence::Required
                    } else {
                        Presence::Optional
                    };
                    d.probes(&p["schema"], place, presence, &mut probes);
                }
                if let Some(schema) = op["requestBody"]["content"]["application/json"]["schema"]
                    .as_object()
                    .map(|_| &op["requestBody"]["content"]["application/json"]["schema"])
                {
                    base.body = Some(d.example(schema));
                    let root = Place::Body {
                        pointer: String::new(),
                        field: String::new(),
                    };
                    d.probes(schema, root, Presence::Always, &mut probes);
                }
                for probe in probes {
                    // Keys must not collide with another body's.
                    let mut probe = probe;
                    if probe.place == Place::Header("Idempotency-Key".into())
                        && probe.allowed
                        && let Some(Value::String(k)) = &mut probe.value
                    {
                        let tag = format!("{}", unique());
                        k.replace_range(..tag.len(), &tag);
                    }
                    let r = apply(&base, &probe);
                    let (status, body) = send(&sys, &r).await;
                    let code = body["error"]["code"].as_str().unwrap_or("");
                    let what = format!(
                        "{method} {path} {:?} = {:?} ({})",
                        probe.place, probe.value, probe.why
                    );
                    assert!(status.as_u16() < 500, "{what}: {status} {body}");
                    if probe.allowed {
                        assert!(
                            !VALIDATION_CODES.contains(&code),
                            "{what} is allowed by the document but refused: {status} {body}"
                        );
                    } else {
                        assert!(
                            VALIDATION_CODES.contains(&code),
                            "{what} is outside the document but not refused: {status} {body}"
                        );
                        let documented = &op["responses"][status.as_str()];
                        assert!(documented.is_object(), "{what}: {status} is not documented");
                        let field = match &probe.place {
                            Place::Query(n) | Place::Header(n) => n.clone(),
                            Place::Body { field, .. } => field.clone(),
                        };
                        let named = body["error"]["details"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|d| d["field"] == json!(field));
                        assert!(
                            named || code == "invalid_idempotency_key",
                            "{what}: the refusal does not name {field}: {body}"
                        );
                    }
                    walked += 1;
                }
            }
        }
    }
    // Every service has constraints; a walk that found few broke somewhere.
    assert!(walked > 150, "only {walked} probes");
}
