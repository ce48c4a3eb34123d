//! Timestamps with one canonical text form.
//!
//! Every instant is written as RFC 3339 in UTC with exactly six fractional
//! digits (`2026-11-26T20:12:32.123456Z`). One fixed-width form means the text
//! order equals the time order, so stores can filter and sort dates as strings
//! whatever their native date support.

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text is not a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z")]
pub struct TimestampError;

/// A UTC instant with microsecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The current time, truncated to microseconds.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Wraps a chrono instant, truncated to microseconds.
    pub fn from_datetime(dt: DateTime<Utc>) -> Self {
        let micros = dt.timestamp_micros();
        Self(DateTime::from_timestamp_micros(micros).unwrap_or(dt))
    }

    /// Parses RFC 3339 with any offset; the result is in UTC.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        DateTime::parse_from_rfc3339(s)
            .map(|dt| Self::from_datetime(dt.with_timezone(&Utc)))
            .map_err(|_| TimestampError)
    }

    /// Parses a bound of a date range: an RFC 3339 timestamp, or a plain date
    /// `YYYY-MM-DD`, which means the day's first instant for a lower bound and
    /// its last for an upper bound, so `to=2026-01-31` includes that whole day.
    ///
    /// A bound comes from a query string, where an unencoded `+` of an offset
    /// (`…T10:00:00+02:00`) arrives as a space; that space is read back as `+`.
    pub fn parse_bound(s: &str, upper: bool) -> Result<Self, TimestampError> {
        if let Ok(ts) = Self::parse(s) {
            return Ok(ts);
        }
        if let Some((time, offset)) = s.rsplit_once(' ')
            && let Ok(ts) = Self::parse(&format!("{time}+{offset}"))
        {
            return Ok(ts);
        }
        let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| TimestampError)?;
        let time = if upper {
            date.and_hms_micro_opt(23, 59, 59, 999_999)
        } else {
            date.and_hms_opt(0, 0, 0)
        };
        time.map(|t| Self(t.and_utc())).ok_or(TimestampError)
    }

    /// The chrono value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "format": "date-time"})
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_reads_a_space_before_the_offset_as_the_plus_a_query_string_lost() {
        let ts = Timestamp::parse_bound("2026-01-31T14:00:00 02:00", false).unwrap();
        assert_eq!(ts.to_string(), "2026-01-31T12:00:00.000000Z");
        assert!(Timestamp::parse_bound("2026-01-31T14:00:00 junk", false).is_err());
        assert!(Timestamp::parse("2026-01-31T14:00:00 02:00").is_err());
    }

    #[test]
    fn canonical_form_is_utc_with_six_digits() {
        let ts = Timestamp::parse("2026-01-31T14:00:00.5+02:00").unwrap();
        assert_eq!(ts.to_string(), "2026-01-31T12:00:00.500000Z");
    }

    #[test]
    fn text_order_equals_time_order() {
        let a = Timestamp::parse("2026-01-31T12:00:00Z").unwrap();
        let b = Timestamp::parse("2026-01-31T12:00:00.000001Z").unwrap();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }

    #[test]
    fn date_bounds_cover_the_whole_day() {
        let from = Timestamp::parse_bound("2026-01-31", false).unwrap();
        let to = Timestamp::parse_bound("2026-01-31", true).unwrap();
        assert_eq!(from.to_string(), "2026-01-31T00:00:00.000000Z");
        assert_eq!(to.to_string(), "2026-01-31T23:59:59.999999Z");
        assert!(Timestamp::parse_bound("31/01/2026", false).is_err());
        assert!(Timestamp::parse("2026-01-31").is_err());
    }
}
