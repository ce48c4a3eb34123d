//! Each input rule once: the check the server runs and the JSON Schema the
//! OpenAPI document publishes come from the same value here, so a generated
//! client never sends what the server refuses, nor the reverse.
//!
//! Rules of the domain newtypes (ids, quantities, money, timestamps) come
//! from their constants in `erp-core`; the rules of free text, integer
//! ranges and choices, which have no newtype, are values of this module.
//! `examples/tests/openapi_rules.rs` walks every constraint of the published
//! documents against the running services.

use erp_core::{
    Problems, Quantity,
    id::{TEXT_ID_MAX_LEN, TEXT_ID_PATTERN},
};
use serde_json::{Value, json};
use utoipa::openapi::schema::{
    AnyOfBuilder, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};

/// Free text: 1 to `max_chars` characters as sent, at least one of them not
/// ASCII whitespace; stored without surrounding ASCII whitespace.
///
/// The length counts the text as sent, not trimmed, and "blank" means ASCII
/// whitespace only (space, tab, LF, FF, CR): both are what JSON Schema's
/// `maxLength` and a character-class `pattern` say in every regex dialect,
/// so the published rule and this check cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    /// The most characters (Unicode scalar values) accepted.
    pub max_chars: usize,
}

/// At least one character that is not ASCII whitespace (unanchored).
pub const NOT_BLANK: &str = "[^ \\t\\n\\f\\r]";

impl Text {
    /// Text of at most `max_chars` characters.
    pub const fn max(max_chars: usize) -> Self {
        Self { max_chars }
    }

    /// Reads `v` at `path`, recording what is wrong.
    pub fn read(self, p: &mut Problems, path: &str, v: &Value) -> Option<String> {
        let Some(s) = v.as_str() else {
            p.add(path, "must be a string");
            return None;
        };
        let trimmed = s.trim_matches(|c: char| c.is_ascii_whitespace());
        if trimmed.is_empty() {
            p.add(path, "must have a character that is not whitespace");
            None
        } else if s.chars().count() > self.max_chars {
            p.add(
                path,
                format!("must be at most {} characters", self.max_chars),
            );
            None
        } else {
            Some(trimmed.to_owned())
        }
    }

    /// The JSON Schema of this rule.
    pub fn schema(self) -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(self.max_chars))
            .pattern(Some(NOT_BLANK))
            .description(Some(format!(
                "1–{} characters, not all whitespace; surrounding whitespace is removed",
                self.max_chars
            )))
            .build()
    }
}

/// A whole number from `min` to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Whole {
    /// The least accepted.
    pub min: i64,
    /// The most accepted.
    pub max: i64,
}

impl Whole {
    /// `min..=max`.
    pub const fn range(min: i64, max: i64) -> Self {
        Self { min, max }
    }

    /// The problem with `n`, if any.
    pub fn check(self, n: i64) -> Result<i64, String> {
        if (self.min..=self.max).contains(&n) {
            Ok(n)
        } else {
            Err(self.problem())
        }
    }

    /// Parses a query-string value (digits, optionally signed).
    pub fn parse(self, raw: &str) -> Result<i64, String> {
        raw.parse::<i64>()
            .map_err(|_| self.problem())
            .and_then(|n| self.check(n))
    }

    fn problem(self) -> String {
        format!("must be an integer from {} to {}", self.min, self.max)
    }

    /// The JSON Schema of this rule, with `default` when there is one.
    pub fn schema(self, default: Option<i64>) -> Object {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(self.min))
            .maximum(Some(self.max))
            .default(default.map(|d| json!(d)))
            .build()
    }
}

/// One of a fixed set of words.
pub fn choice_schema(choices: &[&str], default: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(choices.iter().copied()))
        .default(Some(json!(default)))
        .build()
}

/// `schema`, or `null`: body fields where `null` means absent. Type-specific
/// keywords (`pattern`, `minimum`) apply to the non-null values only.
pub fn or_null(mut schema: Object) -> Object {
    if let SchemaType::Type(t) = schema.schema_type {
        schema.schema_type = SchemaType::Array(vec![t, Type::Null]);
    }
    schema
}

/// An optional product or store id in a body (`null` means absent).
pub fn optional_text_id_schema() -> Object {
    or_null(text_id_schema())
}

/// An optional timestamp in a body (`null` means absent).
pub fn optional_timestamp_schema() -> Object {
    or_null(timestamp_schema())
}

/// A product or store id ([`erp_core::ProductId`], [`erp_core::StoreId`]).
pub fn text_id_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(TEXT_ID_MAX_LEN))
        .pattern(Some(TEXT_ID_PATTERN))
        .build()
}

/// A record id (purchase, sale, event): a UUID.
pub fn uuid_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uuid".into())))
        .build()
}

/// A [`Quantity`]: 1 to [`Quantity::MAX`].
pub fn quantity_schema() -> Object {
    Whole::range(1, Quantity::MAX).schema(None)
}

/// An amount of [`erp_core::Money`] in minor units: 0 to `i64::MAX`.
pub fn money_schema() -> Object {
    Whole::range(0, i64::MAX).schema(None)
}

/// An [`erp_core::Timestamp`]: RFC 3339.
pub fn timestamp_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .build()
}

/// A bound of a date range ([`erp_core::Timestamp::parse_bound`]): an RFC
/// 3339 timestamp, or a date meaning that whole day.
pub fn date_bound_schema() -> Schema {
    let date = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)));
    AnyOfBuilder::new()
        .item(timestamp_schema())
        .item(date)
        .description(Some("RFC 3339 timestamp, or YYYY-MM-DD for that whole day"))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_counts_as_sent_and_refuses_only_blank() {
        let rule = Text::max(3);
        let mut p = Problems::default();
        assert_eq!(rule.read(&mut p, "a", &json!(" x ")).as_deref(), Some("x"));
        assert_eq!(
            rule.read(&mut p, "b", &json!("\u{a0}")).as_deref(),
            Some("\u{a0}")
        );
        assert!(rule.read(&mut p, "c", &json!(" \t\r\n")).is_none());
        assert!(rule.read(&mut p, "d", &json!(" xyz")).is_none());
        assert!(rule.read(&mut p, "e", &json!(1)).is_none());
        let err = p.finish(Some(())).unwrap_err();
        let fields: Vec<_> = err.problems().iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["c", "d", "e"]);
    }

    #[test]
    fn the_not_blank_pattern_is_the_check() {
        let pattern = regex::Regex::new(NOT_BLANK).unwrap();
        for s in ["x", " x", "\u{a0}", "\u{b}", " \t\n\u{c}\r", "", "  "] {
            let mut p = Problems::default();
            let accepted = Text::max(10).read(&mut p, "t", &json!(s)).is_some();
            assert_eq!(accepted, pattern.is_match(s), "{s:?}");
        }
    }

    #[test]
    fn whole_numbers_hold_their_range() {
        let r = Whole::range(1, 500);
        assert_eq!(r.parse("500"), Ok(500));
        assert!(r.parse("0").is_err());
        assert!(r.parse("501").is_err());
        assert!(r.parse("1.0").is_err());
        assert!(r.check(-1).is_err());
    }
}
