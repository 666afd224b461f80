//! Money as integer minor units plus an ISO 4217 currency, and decimal quantities.
//!
//! No floats anywhere: every operation is checked and an overflow is an error, never a
//! wrap. Rounding (for a price times a fractional quantity, or a tax rate) is half away
//! from zero, as GST invoices round.

use std::{fmt, str::FromStr};

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::http::{Invalid, PlatformCode};

/// `quantity` units at `unit_cost` (minor units, possibly fractional), in whole minor
/// units rounded half away from zero: how stock and goods received are valued everywhere.
pub fn value_minor(quantity: Decimal, unit_cost: Decimal) -> i64 {
    let value =
        (quantity * unit_cost).round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(value.mantissa() / 10i128.pow(value.scale())).unwrap_or(i64::MAX)
}

/// Why a money or quantity value or operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The result does not fit in the representation.
    #[error("amount out of range")]
    Overflow,
    /// A quantity at or above [`MAX_QUANTITY`].
    #[error("{0:?} is too large: a quantity is below 1,000,000,000")]
    QuantityTooLarge(String),
    /// Amounts in different currencies were combined.
    #[error("currency mismatch: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    /// The code is not an ISO 4217 currency Bazaar supports.
    #[error("unknown currency {0:?}")]
    UnknownCurrency(String),
    /// The text is not a decimal number.
    #[error("{0:?} is not a decimal number")]
    NotANumber(String),
    /// The value has more decimal places than allowed.
    #[error("{value} has more than {allowed} decimal places")]
    TooManyDecimals {
        /// The value as given.
        value: String,
        /// Decimal places allowed.
        allowed: u32,
    },
}

impl MoneyError {
    /// The stable problem code a request field with this error is refused with.
    pub fn code(&self) -> PlatformCode {
        match self {
            MoneyError::Overflow => PlatformCode::AmountOutOfRange,
            MoneyError::QuantityTooLarge(_) => PlatformCode::QuantityTooLarge,
            MoneyError::CurrencyMismatch(..) => PlatformCode::CurrencyMismatch,
            MoneyError::UnknownCurrency(_) => PlatformCode::UnknownCurrency,
            MoneyError::NotANumber(_) => PlatformCode::InvalidQuantity,
            MoneyError::TooManyDecimals { .. } => PlatformCode::TooManyDecimals,
        }
    }

    /// The same error as the 422 of request field `field`.
    pub fn at(&self, field: impl Into<String>) -> Invalid {
        Invalid::new(field, self.code(), self.to_string())
    }
}

/// Adds minor units (or any integer amounts) with overflow as an error: the one way a
/// list of amounts is totalled, so no sum can wrap.
pub fn checked_sum(amounts: impl IntoIterator<Item = i64>) -> Result<i64, MoneyError> {
    amounts
        .into_iter()
        .try_fold(0_i64, |sum, amount| sum.checked_add(amount))
        .ok_or(MoneyError::Overflow)
}

/// [`checked_sum`] for a request field: overflow is a 422 naming `field`.
pub fn sum_field(field: &str, amounts: impl IntoIterator<Item = i64>) -> Result<i64, Invalid> {
    checked_sum(amounts).map_err(|e| e.at(field))
}

/// The largest amount one price, discount, payment or document line may carry, in minor
/// units: ₹10,000 crore. A bill of the most lines any document takes at this bound, with
/// the highest tax rates, still totals far inside `i64`, and every total is also summed
/// with [`checked_sum`].
pub const MAX_AMOUNT_MINOR: i64 = 10_000_000_000_000;

/// An amount a request names for `field`: from zero to [`MAX_AMOUNT_MINOR`]
/// (`negative_amount`, `amount_too_large`).
pub fn amount_field(field: &str, minor: i64) -> Result<i64, Invalid> {
    if minor < 0 {
        Err(Invalid::new(
            field,
            PlatformCode::NegativeAmount,
            "cannot be negative",
        ))
    } else if minor > MAX_AMOUNT_MINOR {
        Err(Invalid::new(
            field,
            PlatformCode::AmountTooLarge,
            format!("at most {MAX_AMOUNT_MINOR} minor units"),
        ))
    } else {
        Ok(minor)
    }
}

/// The largest magnitude (exclusive) of any quantity Bazaar takes: far above any real
/// stock or sale, well inside the ledgers' NUMERIC(18, 3).
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// Which signs a quantity field admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// Strictly above zero: what is sold, received, moved or returned.
    Positive,
    /// Zero or above: a count that found nothing.
    NonNegative,
}

/// The integer and fraction digits of `text` when it is a plain decimal: an optional
/// `-`, digits, and optionally `.` and digits. Exponents, `+`, underscores and inner
/// spaces, which `Decimal::from_str` would take, are not numbers a person typed.
fn plain_decimal(text: &str) -> Option<(&str, Option<&str>)> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    (digits(whole) && fraction.is_none_or(digits)).then_some((whole, fraction))
}

/// An ISO 4217 currency with the number of digits of its minor unit.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

/// The currencies of the markets Bazaar serves, with their minor-unit digits.
const CURRENCIES: &[(&str, u8)] = &[
    ("INR", 2),
    ("SGD", 2),
    ("MYR", 2),
    ("IDR", 2),
    ("THB", 2),
    ("PHP", 2),
    ("VND", 0),
    ("LKR", 2),
    ("BDT", 2),
    ("NPR", 2),
    ("AED", 2),
    ("AUD", 2),
    ("HKD", 2),
    ("JPY", 0),
    ("USD", 2),
    ("EUR", 2),
    ("GBP", 2),
];

/// A currency code in Bazaar's own tables or events that names no currency: corrupt data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored currency code {0:?} names no currency")]
pub struct CorruptCurrency(pub String);

/// The currency of a code read back from Bazaar's own tables or events: one that names
/// none is corrupt data (an internal error), never a default. Rows that hold the column
/// as a [`Currency`] get this from the database driver.
pub fn stored_currency(code: &str) -> Result<Currency, CorruptCurrency> {
    Currency::from_code(code).map_err(|_| CorruptCurrency(code.to_owned()))
}

// A currency column reads as a `Currency`: a stored code that names none fails the row
// (an internal error, logged), never a default. Rows that build money hold this type, so
// no reader can fall back to rupees.
impl sqlx::Type<sqlx::Postgres> for Currency {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for Currency {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let code = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(Currency::from_code(code)?)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Currency {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.code, buf)
    }
}

impl Currency {
    /// Indian rupee.
    pub const INR: Currency = Currency {
        code: "INR",
        exponent: 2,
    };

    /// Looks a currency up by its ISO 4217 code.
    pub fn from_code(code: &str) -> Result<Self, MoneyError> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(code, exponent)| Currency { code, exponent })
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))
    }

    /// The three-letter code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point of one major unit (2 for INR, 0 for VND).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Currency::from_code(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: integer minor units (paise, cents) of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Minor units; negative for refunds and credits.
    pub amount_minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in minor units.
    pub fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }

    /// Nothing, in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// The amount in major units with the currency's minor digits: `1299.50`.
    pub fn major(&self) -> Decimal {
        Decimal::new(self.amount_minor, u32::from(self.currency.exponent))
    }

    /// Parses a major-unit decimal such as `"1299.50"`; more decimals than the currency
    /// has minor digits is an error, not a silent rounding.
    pub fn parse(major: &str, currency: Currency) -> Result<Self, MoneyError> {
        let value = plain_decimal(major.trim())
            .and_then(|_| Decimal::from_str(major.trim()).ok())
            .ok_or_else(|| MoneyError::NotANumber(major.to_owned()))?;
        let allowed = u32::from(currency.exponent);
        if value.normalize().scale() > allowed {
            return Err(MoneyError::TooManyDecimals {
                value: major.to_owned(),
                allowed,
            });
        }
        let minor = value
            .checked_mul(Decimal::from(10_i64.pow(allowed)))
            .and_then(|m| i64::try_from(m).ok())
            .ok_or(MoneyError::Overflow)?;
        Ok(Self::new(minor, currency))
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    /// `self + other`, same currency only.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let sum = self
            .amount_minor
            .checked_add(other.amount_minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(sum, self.currency))
    }

    /// `self - other`, same currency only.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let difference = self
            .amount_minor
            .checked_sub(other.amount_minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(difference, self.currency))
    }

    /// A unit price times a quantity, rounded half away from zero to the minor unit.
    pub fn times(self, quantity: Quantity) -> Result<Money, MoneyError> {
        let product = Decimal::from(self.amount_minor)
            .checked_mul(quantity.0)
            .ok_or(MoneyError::Overflow)?
            .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
        let minor = i64::try_from(product).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// A rate in basis points of this amount (GST 18% is 1800), rounded half away
    /// from zero to the minor unit.
    pub fn rate_bp(self, basis_points: u32) -> Result<Money, MoneyError> {
        let scaled = i128::from(self.amount_minor) * i128::from(basis_points);
        let (quotient, remainder) = (scaled / 10_000, scaled % 10_000);
        let rounded = if remainder.abs() * 2 >= 10_000 {
            quotient + scaled.signum()
        } else {
            quotient
        };
        let minor = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    /// Adds up amounts of one currency; an empty list is zero of `currency`.
    pub fn sum(
        currency: Currency,
        amounts: impl IntoIterator<Item = Money>,
    ) -> Result<Money, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let major = Decimal::new(self.amount_minor, u32::from(self.currency.exponent));
        write!(f, "{} {}", self.currency, major)
    }
}

/// A decimal quantity (pieces, kilograms, litres). Travels as a string in JSON and
/// events ("1.250"), never as a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(Decimal);

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity(Decimal::ZERO);

    /// Parses the one quantity grammar every service takes: an optional `-`, digits, and
    /// optionally `.` and digits (no exponent, `+`, underscores or inner spaces). More
    /// significant places than `max_decimals` (a "piece" allows 0, "kg" 3) and any
    /// magnitude from [`MAX_QUANTITY`] up are errors, never a rounding.
    pub fn parse(text: &str, max_decimals: u32) -> Result<Self, MoneyError> {
        let not_a_number = || MoneyError::NotANumber(text.to_owned());
        let trimmed = text.trim();
        let (whole, fraction) = plain_decimal(trimmed).ok_or_else(not_a_number)?;
        if whole.trim_start_matches('0').len() > 9 {
            return Err(MoneyError::QuantityTooLarge(text.to_owned()));
        }
        let places = fraction.map_or(0, |f| f.trim_end_matches('0').len());
        // A place beyond the unit's is refused even when the text is long enough to
        // round: "1.0000…1" is not 1.
        if places > max_decimals as usize || fraction.is_some_and(|f| f.len() > 18) {
            return Err(MoneyError::TooManyDecimals {
                value: text.to_owned(),
                allowed: max_decimals,
            });
        }
        let value = Decimal::from_str(trimmed).map_err(|_| not_a_number())?;
        Ok(Self(value.normalize()))
    }

    /// [`Quantity::parse`] for request field `field`, with the sign it admits: the one
    /// parser of quantities in requests, so every service answers the same input with
    /// the same code (`invalid_quantity`, `too_many_decimals`, `quantity_too_large`).
    pub fn field(field: &str, text: &str, max_decimals: u32, sign: Sign) -> Result<Self, Invalid> {
        let quantity = Self::parse(text, max_decimals).map_err(|e| e.at(field))?;
        let refused = match sign {
            Sign::Positive if !quantity.is_positive() => Some("must be greater than zero"),
            Sign::NonNegative if quantity.0.is_sign_negative() && !quantity.0.is_zero() => {
                Some("cannot be negative")
            }
            _ => None,
        };
        match refused {
            Some(message) => Err(Invalid::new(field, PlatformCode::InvalidQuantity, message)),
            None => Ok(quantity),
        }
    }

    /// The decimal value.
    pub fn value(self) -> Decimal {
        self.0
    }

    /// `self + other`.
    pub fn checked_add(self, other: Quantity) -> Result<Quantity, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(Quantity)
            .ok_or(MoneyError::Overflow)
    }

    /// `self - other`; may be negative (stock can be allowed to go below zero).
    pub fn checked_sub(self, other: Quantity) -> Result<Quantity, MoneyError> {
        self.0
            .checked_sub(other.0)
            .map(Quantity)
            .ok_or(MoneyError::Overflow)
    }

    /// True when strictly above zero.
    pub fn is_positive(self) -> bool {
        self.0 > Decimal::ZERO
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// Accepts only strings in [`Quantity::parse`]'s grammar: a JSON number may already
    /// have lost precision as a float.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Quantity::parse(&text, 18).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inr(minor: i64) -> Money {
        Money::new(minor, Currency::INR)
    }

    fn qty(text: &str) -> Quantity {
        Quantity::parse(text, 3).unwrap()
    }

    #[test]
    fn addition_overflow_is_an_error_not_a_wrap() {
        assert_eq!(inr(i64::MAX).checked_add(inr(1)), Err(MoneyError::Overflow));
        assert_eq!(inr(i64::MIN).checked_sub(inr(1)), Err(MoneyError::Overflow));
    }

    #[test]
    fn multiplication_overflow_is_an_error() {
        assert_eq!(inr(i64::MAX).times(qty("2")), Err(MoneyError::Overflow));
        assert_eq!(inr(i64::MAX).rate_bp(20_000), Err(MoneyError::Overflow));
    }

    #[test]
    fn currencies_do_not_mix() {
        let sgd = Money::new(100, Currency::from_code("SGD").unwrap());
        assert!(matches!(
            inr(100).checked_add(sgd),
            Err(MoneyError::CurrencyMismatch(_, _))
        ));
    }

    #[test]
    fn price_times_fractional_quantity_rounds_half_away_from_zero() {
        // ₹49.99 per kg × 1.25 kg = 6248.75 paise, rounded to 6249.
        assert_eq!(inr(4999).times(qty("1.25")).unwrap(), inr(6249));
        assert_eq!(inr(-4999).times(qty("1.25")).unwrap(), inr(-6249));
        assert_eq!(inr(333).times(qty("3")).unwrap(), inr(999));
    }

    #[test]
    fn gst_rate_rounds_half_away_from_zero() {
        // 18% of ₹10.25 = 184.5 paise → 185.
        assert_eq!(inr(1025).rate_bp(1800).unwrap(), inr(185));
        assert_eq!(inr(-1025).rate_bp(1800).unwrap(), inr(-185));
        assert_eq!(inr(1000).rate_bp(500).unwrap(), inr(50));
    }

    #[test]
    fn parsing_major_units_refuses_extra_decimals() {
        assert_eq!(
            Money::parse("1299.50", Currency::INR).unwrap(),
            inr(129_950)
        );
        assert!(matches!(
            Money::parse("1.005", Currency::INR),
            Err(MoneyError::TooManyDecimals { allowed: 2, .. })
        ));
        let vnd = Currency::from_code("VND").unwrap();
        assert_eq!(Money::parse("25000", vnd).unwrap(), Money::new(25_000, vnd));
        assert!(Money::parse("1e400", Currency::INR).is_err());
        assert!(Money::parse("1_000.00", Currency::INR).is_err());
        assert!(Money::parse("99999999999999999999", Currency::INR).is_err());
    }

    #[test]
    fn unknown_currency_is_refused() {
        assert_eq!(
            Currency::from_code("XXX"),
            Err(MoneyError::UnknownCurrency("XXX".into()))
        );
    }

    #[test]
    fn money_round_trips_through_json_as_integers() {
        let json = serde_json::to_string(&inr(129_950)).unwrap();
        assert_eq!(json, r#"{"amount_minor":129950,"currency":"INR"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), inr(129_950));
        assert!(serde_json::from_str::<Money>(r#"{"amount_minor":1.5,"currency":"INR"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount_minor":1,"currency":"ABC"}"#).is_err());
    }

    #[test]
    fn quantities_travel_as_strings_never_as_floats() {
        assert_eq!(serde_json::to_string(&qty("1.250")).unwrap(), r#""1.25""#);
        assert_eq!(
            serde_json::from_str::<Quantity>(r#""2.5""#).unwrap(),
            qty("2.5")
        );
        assert!(serde_json::from_str::<Quantity>("2.5").is_err());
        assert!(serde_json::from_str::<Quantity>(r#""two""#).is_err());
    }

    #[test]
    fn one_strict_grammar_for_quantities() {
        for text in [
            "1_000", "1e3", "1E3", "+1", "1.", ".5", "1 000", "", "-", "0x10", "1.2.3",
        ] {
            assert_eq!(
                Quantity::parse(text, 3).unwrap_err().code(),
                "invalid_quantity",
                "{text:?}"
            );
        }
        assert_eq!(
            Quantity::parse("1000000000", 3).unwrap_err().code(),
            "quantity_too_large"
        );
        assert_eq!(
            Quantity::parse("99999999999999999999999999999999", 0)
                .unwrap_err()
                .code(),
            "quantity_too_large"
        );
        assert_eq!(qty("999999999.999"), qty(" 999999999.999 "));
        assert_eq!(qty("0001.500"), qty("1.5"));
        assert_eq!(
            Quantity::parse("1.0000000000000000000001", 3)
                .unwrap_err()
                .code(),
            "too_many_decimals"
        );
        assert_eq!(
            Quantity::parse("0.5", 0).unwrap_err().code(),
            "too_many_decimals"
        );
        let positive = |t| Quantity::field("q", t, 0, Sign::Positive).map_err(|e| e.code);
        assert_eq!(positive("0"), Err("invalid_quantity"));
        assert_eq!(positive("-1"), Err("invalid_quantity"));
        assert_eq!(positive("2").unwrap(), qty("2"));
        let counted = |t| Quantity::field("q", t, 0, Sign::NonNegative).map_err(|e| e.code);
        assert_eq!(counted("-0").unwrap(), Quantity::ZERO);
        assert_eq!(counted("-1"), Err("invalid_quantity"));
        assert!(serde_json::from_str::<Quantity>(r#""1_0""#).is_err());
    }

    #[test]
    fn sums_of_amounts_never_wrap() {
        assert_eq!(checked_sum([1, 2, 3]), Ok(6));
        assert_eq!(
            checked_sum([i64::MAX, i64::MAX, 105_000_002]),
            Err(MoneyError::Overflow)
        );
        let refused = sum_field("payments", [i64::MAX, 1]).unwrap_err();
        assert_eq!(
            (refused.field.as_str(), refused.code),
            ("payments", "amount_out_of_range")
        );
    }

    #[test]
    fn quantity_decimals_are_limited_by_the_unit() {
        assert!(Quantity::parse("1.5", 0).is_err());
        assert_eq!(Quantity::parse("2.000", 0).unwrap(), qty("2"));
        assert!(Quantity::parse("0.0005", 3).is_err());
    }

    #[test]
    fn sum_of_nothing_is_zero() {
        assert_eq!(Money::sum(Currency::INR, []).unwrap(), inr(0));
        assert_eq!(Money::sum(Currency::INR, [inr(1), inr(2)]).unwrap(), inr(3));
    }

    #[test]
    fn display_uses_major_units() {
        assert_eq!(inr(129_950).to_string(), "INR 1299.50");
    }
}
