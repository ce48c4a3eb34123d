//! Identifiers. Text ids (products, stores) are chosen by users and must match
//! `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`; record ids (purchases, sales, events)
//! are UUIDs, v7 when we mint them so that they sort by creation time.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why a text did not parse into an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The text is empty.
    #[error("must not be empty")]
    Empty,
    /// The text is longer than 64 characters.
    #[error("must be at most 64 characters")]
    TooLong,
    /// The text has a character outside `[A-Za-z0-9._-]` or starts with `.`, `_` or `-`.
    #[error("must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$")]
    BadCharacter,
    /// The text is not a UUID.
    #[error("must be a UUID")]
    NotUuid,
}

/// The rule for text ids as a regular expression, for schemas and docs; the
/// parser below checks the same rule without a regex engine. A proptest in
/// this module holds the two together.
pub const TEXT_ID_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";
/// The longest text id, in characters (all ASCII).
pub const TEXT_ID_MAX_LEN: usize = 64;

fn check_text_id(s: &str) -> Result<(), IdError> {
    let mut chars = s.chars();
    let first = chars.next().ok_or(IdError::Empty)?;
    if s.len() > TEXT_ID_MAX_LEN {
        return Err(IdError::TooLong);
    }
    if !first.is_ascii_alphanumeric() {
        return Err(IdError::BadCharacter);
    }
    if chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        Ok(())
    } else {
        Err(IdError::BadCharacter)
    }
}

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parses a user-supplied id.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                check_text_id(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                // Event schemas are published and frozen: this keeps
                // exactly the v1 form (the pattern implies the length).
                schemars::json_schema!({
                    "type": "string",
                    "pattern": TEXT_ID_PATTERN
                })
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                check_text_id(&s).map_err(serde::de::Error::custom)?;
                Ok(Self(s))
            }
        }
    };
}

text_id!(
    /// A product's id, chosen when the product is registered in inventory.
    ProductId
);
text_id!(
    /// A store's id. The store `main` always exists.
    StoreId
);

impl StoreId {
    /// The store that always exists and is used when a request names none.
    pub fn main() -> Self {
        Self("main".to_owned())
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses the hyphenated text form.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                Uuid::parse_str(s).map(Self).map_err(|_| IdError::NotUuid)
            }

            /// The id for this UUID, e.g. one derived from an
            /// `Idempotency-Key` so that every retry names the same resource.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({"type": "string", "format": "uuid"})
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A purchase's id.
    PurchaseId
);
uuid_id!(
    /// A sale's id.
    SaleId
);
uuid_id!(
    /// An event's id: the unit of idempotency for consumers.
    EventId
);

impl EventId {
    /// The id of an event that follows from this one, the same every time
    /// for the same `name`: a consumer that raises events while handling a
    /// message may be redelivered that message, and must then raise the
    /// same ids so that its own consumers deduplicate them.
    ///
    /// Still a v7 id that sorts with its cause: the first 48 bits (the
    /// millisecond timestamp of a v7 cause) are copied, the random bits come
    /// from a name-based (v5, SHA-1) UUID of `name` in this id's namespace.
    pub fn derive(&self, name: &str) -> Self {
        let hashed = Uuid::new_v5(&self.0, name.as_bytes()).into_bytes();
        let mut bytes = self.0.into_bytes();
        bytes[6..].copy_from_slice(&hashed[6..]);
        Self(
            uuid::Builder::from_bytes(bytes)
                .with_version(uuid::Version::SortRand)
                .with_variant(uuid::Variant::RFC4122)
                .into_uuid(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_event_ids_are_stable_distinct_v7_and_sort_with_their_cause() {
        let cause = EventId::new();
        let a = cause.derive("main/p1");
        assert_eq!(a, cause.derive("main/p1"));
        assert_ne!(a, cause.derive("main/p2"));
        assert_ne!(a, EventId::new().derive("main/p1"));
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert_eq!(a.as_uuid().as_bytes()[..6], cause.as_uuid().as_bytes()[..6]);
    }

    #[test]
    fn accepts_ids_matching_the_contract() {
        for ok in ["a", "A1", "main", "p-1.x_y", &"x".repeat(64)] {
            assert!(ProductId::parse(ok).is_ok(), "{ok} should parse");
        }
    }

    #[test]
    fn rejects_ids_outside_the_contract() {
        assert_eq!(ProductId::parse(""), Err(IdError::Empty));
        assert_eq!(ProductId::parse(&"x".repeat(65)), Err(IdError::TooLong));
        for bad in ["-a", ".a", "_a", "a b", "a/b", "é", "a\n"] {
            assert_eq!(StoreId::parse(bad), Err(IdError::BadCharacter), "{bad:?}");
        }
    }

    #[test]
    fn deserializing_an_invalid_id_fails() {
        assert!(serde_json::from_str::<ProductId>("\"a b\"").is_err());
        assert_eq!(
            serde_json::from_str::<ProductId>("\"ok\"")
                .unwrap()
                .as_str(),
            "ok"
        );
    }

    #[test]
    fn minted_uuids_are_v7_and_ordered() {
        let a = EventId::new();
        let b = EventId::new();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b);
        assert_eq!(
            PurchaseId::parse(&a.to_string()).unwrap().as_uuid(),
            a.as_uuid()
        );
        assert_eq!(SaleId::parse("nope"), Err(IdError::NotUuid));
    }

    proptest::proptest! {
        /// The published pattern and the parser are one rule: every string
        /// the pattern generates parses, and whatever parses matches it.
        #[test]
        fn the_pattern_and_the_parser_agree(
            // proptest generates from a pattern without its anchors.
            generated in proptest::string::string_regex(
                TEXT_ID_PATTERN.trim_start_matches('^').trim_end_matches('$'),
            ).unwrap(),
            any in "\\PC{0,70}|[A-Za-z0-9._ -]{0,70}|[A-Za-z0-9][A-Za-z0-9._-]{62,65}",
        ) {
            let pattern = regex::Regex::new(TEXT_ID_PATTERN).unwrap();
            proptest::prop_assert!(ProductId::parse(&generated).is_ok(), "{generated:?}");
            proptest::prop_assert_eq!(ProductId::parse(&any).is_ok(), pattern.is_match(&any), "{:?}", any);
        }
    }
}
