//! Quantities and money. Both are integers: money counts minor units (cents),
//! so sums never pick up floating-point error.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Why a number is not a valid [`Quantity`] or [`Money`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountError {
    /// A quantity below 1.
    #[error("must be at least 1")]
    BelowOne,
    /// A quantity above [`Quantity::MAX`].
    #[error("must be at most {max}")]
    TooLarge {
        /// The largest value accepted.
        max: i64,
    },
    /// A negative amount of money.
    #[error("must not be negative")]
    Negative,
    /// A computed total that does not fit.
    #[error("total is too large")]
    Overflow,
}

/// A number of units: an integer from 1 to [`Quantity::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(u32);

impl Quantity {
    /// The largest quantity one line may carry. Bounded so that a line total
    /// (quantity × unit price) and a store's stock cannot overflow an `i64`.
    pub const MAX: i64 = 1_000_000_000;

    /// Parses a quantity.
    pub fn new(n: i64) -> Result<Self, AmountError> {
        match n {
            n if n < 1 => Err(AmountError::BelowOne),
            n if n > Self::MAX => Err(AmountError::TooLarge { max: Self::MAX }),
            n => Ok(Self(n as u32)),
        }
    }

    /// The quantity as a signed number, ready for stock arithmetic.
    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Quantity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "integer", "minimum": 1, "maximum": Quantity::MAX})
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An amount of money in minor units (for example cents). Never negative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    /// Zero, the neutral element of [`Money::checked_add`].
    pub const ZERO: Money = Money(0);

    /// Parses an amount in minor units; 0 is allowed.
    pub fn from_minor(n: i64) -> Result<Self, AmountError> {
        if n < 0 {
            Err(AmountError::Negative)
        } else {
            Ok(Self(n))
        }
    }

    /// The amount in minor units.
    pub fn minor(self) -> i64 {
        self.0
    }

    /// `self × quantity`, or [`AmountError::Overflow`].
    pub fn checked_mul(self, q: Quantity) -> Result<Money, AmountError> {
        self.0
            .checked_mul(q.get())
            .map(Money)
            .ok_or(AmountError::Overflow)
    }

    /// `self + other`, or [`AmountError::Overflow`].
    pub fn checked_add(self, other: Money) -> Result<Money, AmountError> {
        self.0
            .checked_add(other.0)
            .map(Money)
            .ok_or(AmountError::Overflow)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::from_minor(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Money {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Money".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "minimum": 0,
            "description": "An amount in minor units (e.g. cents)"
        })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_is_at_least_one_and_bounded() {
        assert_eq!(Quantity::new(0), Err(AmountError::BelowOne));
        assert_eq!(Quantity::new(-3), Err(AmountError::BelowOne));
        assert_eq!(Quantity::new(1).unwrap().get(), 1);
        assert_eq!(Quantity::new(Quantity::MAX).unwrap().get(), Quantity::MAX);
        assert!(matches!(
            Quantity::new(Quantity::MAX + 1),
            Err(AmountError::TooLarge { .. })
        ));
        assert!(serde_json::from_str::<Quantity>("0").is_err());
    }

    #[test]
    fn money_is_non_negative_and_arithmetic_is_checked() {
        assert_eq!(Money::from_minor(-1), Err(AmountError::Negative));
        let price = Money::from_minor(250).unwrap();
        let q = Quantity::new(4).unwrap();
        assert_eq!(price.checked_mul(q).unwrap().minor(), 1000);
        let huge = Money::from_minor(i64::MAX).unwrap();
        assert_eq!(huge.checked_mul(q), Err(AmountError::Overflow));
        assert_eq!(huge.checked_add(price), Err(AmountError::Overflow));
        assert_eq!(Money::from_minor(0).unwrap(), Money::ZERO);
    }
}
