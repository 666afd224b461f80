//! Catalog rules without I/O: SKUs, units, GST rates, HSN codes, prices and barcodes.

use bazaar_platform::http::ProblemCode;
use bazaar_platform::money::{Currency, Money, Quantity, Sign};

use crate::Code;
pub use bazaar_platform::http::Invalid;
use bazaar_platform::http::PlatformCode;

fn invalid(
    field: &'static str,
    code: impl Into<ProblemCode>,
    message: impl Into<String>,
) -> Invalid {
    Invalid::new(field, code, message)
}

/// A unit of measure and the decimals a quantity of it may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Counted items.
    Piece,
    /// Kilograms, to the gram.
    Kg,
    /// Grams.
    Gram,
    /// Litres, to the millilitre.
    Litre,
    /// Millilitres.
    Ml,
    /// Metres, to the centimetre.
    Metre,
    /// Packs.
    Pack,
}

/// Every unit, by code.
const UNITS: [(&str, Unit, u32); 7] = [
    ("piece", Unit::Piece, 0),
    ("kg", Unit::Kg, 3),
    ("g", Unit::Gram, 0),
    ("litre", Unit::Litre, 3),
    ("ml", Unit::Ml, 0),
    ("metre", Unit::Metre, 2),
    ("pack", Unit::Pack, 0),
];

impl Unit {
    /// Parses a unit code.
    pub fn parse(code: &str) -> Result<Self, Invalid> {
        UNITS
            .iter()
            .find(|(c, _, _)| *c == code)
            .map(|(_, unit, _)| *unit)
            .ok_or_else(|| {
                let known: Vec<&str> = UNITS.iter().map(|(c, _, _)| *c).collect();
                invalid(
                    "unit",
                    Code::UnknownUnit,
                    format!("{code:?} is not a unit; known: {}", known.join(", ")),
                )
            })
    }

    /// The unit's code.
    pub fn code(self) -> &'static str {
        UNITS
            .iter()
            .find(|(_, u, _)| *u == self)
            .map(|(c, _, _)| *c)
            .unwrap_or("piece")
    }

    /// Decimal places a quantity may have.
    pub fn decimals(self) -> u32 {
        UNITS
            .iter()
            .find(|(_, u, _)| *u == self)
            .map(|(_, _, d)| *d)
            .unwrap_or(0)
    }
}

/// GST rates in basis points.
pub const GST_RATES_BP: [i32; 5] = [0, 500, 1200, 1800, 2800];

/// Checks a GST rate given in percent as a decimal string ("18", "5") and returns basis
/// points.
pub fn gst_rate_bp(percent: &str) -> Result<i32, Invalid> {
    let bp = percent_to_bp(percent).filter(|bp| GST_RATES_BP.contains(bp));
    bp.ok_or_else(|| {
        invalid(
            "gst_rate",
            Code::InvalidGstRate,
            format!("{percent:?} is not a GST rate; use 0, 5, 12, 18 or 28"),
        )
    })
}

/// A cess rate in percent (0 to 300, two decimals at most), in basis points.
pub fn cess_rate_bp(percent: &str) -> Result<i32, Invalid> {
    percent_to_bp(percent)
        .filter(|bp| (0..=30_000).contains(bp))
        .ok_or_else(|| {
            invalid(
                "cess_rate",
                Code::InvalidCessRate,
                format!("{percent:?} is not a cess rate (0 to 300 percent)"),
            )
        })
}

fn percent_to_bp(percent: &str) -> Option<i32> {
    use rust_decimal::prelude::ToPrimitive;
    // Two decimals of a percent are whole basis points.
    let bp = Quantity::parse(percent, 2).ok()?.value() * rust_decimal::Decimal::from(100);
    bp.to_i32()
}

/// Checks an SKU: 1 to 64 letters, digits and `-_./`.
pub fn sku(raw: &str) -> Result<String, Invalid> {
    let sku = raw.trim();
    let ok = (1..=64).contains(&sku.len())
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    ok.then(|| sku.to_owned()).ok_or_else(|| {
        invalid(
            "sku",
            Code::InvalidSku,
            "1 to 64 letters, digits and - _ . /",
        )
    })
}

/// Checks an HSN code: 4, 6 or 8 digits.
pub fn hsn(raw: &str) -> Result<String, Invalid> {
    let hsn = raw.trim();
    let ok = matches!(hsn.len(), 4 | 6 | 8) && hsn.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| hsn.to_owned())
        .ok_or_else(|| invalid("hsn_code", Code::InvalidHsnCode, "4, 6 or 8 digits"))
}

/// The longest product description, in characters.
pub const DESCRIPTION_MAX: usize = 2_000;
/// The longest brand, in characters.
pub const BRAND_MAX: usize = 100;

/// Checks an optional text field of at most `max` characters (`too_long`).
pub fn bounded<'a>(field: &'static str, raw: &'a str, max: usize) -> Result<&'a str, Invalid> {
    if raw.chars().count() > max {
        Err(invalid(
            field,
            PlatformCode::TooLong,
            format!("at most {max} characters"),
        ))
    } else {
        Ok(raw)
    }
}

/// Checks a required text field: trimmed, 1 to `max` characters.
pub fn text(field: &'static str, raw: &str, max: usize) -> Result<String, Invalid> {
    let text = raw.trim();
    (!text.is_empty() && text.chars().count() <= max)
        .then(|| text.to_owned())
        .ok_or_else(|| invalid(field, Code::InvalidText, format!("1 to {max} characters")))
}

/// MRP and selling price: one currency, not negative, selling price at most the MRP
/// (selling above MRP is illegal in India).
pub fn prices(mrp: Money, selling: Money) -> Result<(Currency, i64, i64), Invalid> {
    if mrp.currency != selling.currency {
        return Err(invalid(
            "selling_price",
            PlatformCode::CurrencyMismatch,
            "mrp and selling_price must be in one currency",
        ));
    }
    if mrp.amount_minor < 0 || selling.amount_minor < 0 {
        return Err(invalid(
            "mrp",
            Code::NegativePrice,
            "prices cannot be negative",
        ));
    }
    bazaar_platform::money::amount_field("mrp", mrp.amount_minor)?;
    if selling.amount_minor > mrp.amount_minor {
        return Err(invalid(
            "selling_price",
            Code::PriceAboveMrp,
            "the selling price cannot exceed the MRP",
        ));
    }
    Ok((mrp.currency, mrp.amount_minor, selling.amount_minor))
}

/// The audit record of a price change: the same facts, kept on the tenant's audit trail.
pub fn price_audited(
    changed: &bazaar_schemas::events::catalog::PriceChanged,
) -> bazaar_schemas::events::audit::PriceChangeAudited {
    let c = changed.clone();
    bazaar_schemas::events::audit::PriceChangeAudited {
        tenant_id: c.tenant_id,
        product_id: c.product_id,
        sku: c.sku,
        currency: c.currency,
        mrp_minor_before: c.mrp_minor_before,
        mrp_minor: c.mrp_minor,
        selling_price_minor_before: c.selling_price_minor_before,
        selling_price_minor: c.selling_price_minor,
        changed_by: c.changed_by,
        changed_at: c.changed_at,
    }
}

/// A reorder level in the product's unit.
pub fn reorder_level(raw: &str, unit: Unit) -> Result<Quantity, Invalid> {
    Quantity::field("reorder_level", raw, unit.decimals(), Sign::NonNegative)
}

/// Which kind of barcode a code is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarcodeKind {
    /// EAN-13 from a supplier.
    Ean13,
    /// UPC-A from a supplier.
    UpcA,
    /// EAN-13 generated from the tenant's prefix.
    Generated,
}

impl BarcodeKind {
    /// As stored and in events.
    pub fn code(self) -> &'static str {
        match self {
            Self::Ean13 => "ean13",
            Self::UpcA => "upca",
            Self::Generated => "generated",
        }
    }
}

/// The GS1 check digit of `digits` (the code without its last digit).
pub fn check_digit(digits: &[u8]) -> u8 {
    // Weights 3 and 1 alternate from the rightmost digit.
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Checks an existing EAN-13 or UPC-A code, check digit included.
pub fn barcode(raw: &str) -> Result<(String, BarcodeKind), Invalid> {
    let code = raw.trim();
    let kind = match code.len() {
        13 => BarcodeKind::Ean13,
        12 => BarcodeKind::UpcA,
        _ => {
            return Err(invalid(
                "barcode",
                Code::InvalidBarcode,
                "an EAN-13 (13 digits) or UPC-A (12 digits) code",
            ))
        }
    };
    let digits: Option<Vec<u8>> = code
        .bytes()
        .map(|b| b.is_ascii_digit().then(|| b - b'0'))
        .collect();
    let digits = digits.ok_or_else(|| invalid("barcode", Code::InvalidBarcode, "digits only"))?;
    let (body, check) = digits.split_at(digits.len() - 1);
    if check_digit(body) != check[0] {
        return Err(invalid(
            "barcode",
            Code::InvalidBarcodeCheckDigit,
            format!("{code}: the check digit should be {}", check_digit(body)),
        ));
    }
    Ok((code.to_owned(), kind))
}

/// The EAN-13 for item number `item` under `prefix` (3 to 10 digits); `None` when the
/// prefix's item numbers are used up.
pub fn generate_ean13(prefix: &str, item: i64) -> Option<String> {
    let width = 12usize.checked_sub(prefix.len())?;
    let item = format!("{item:0width$}");
    if item.len() > width || item.starts_with('-') {
        return None;
    }
    let body = format!("{prefix}{item}");
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    Some(format!("{body}{}", check_digit(&digits)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_barcodes_pass_and_a_wrong_check_digit_is_named() {
        assert_eq!(barcode("8901030865275").unwrap().1, BarcodeKind::Ean13);
        assert_eq!(barcode("036000291452").unwrap().1, BarcodeKind::UpcA);
        let err = barcode("8901030865271").unwrap_err();
        assert_eq!(err.code, "invalid_barcode_check_digit");
        assert!(err.message.contains("should be 5"));
        for bad in ["", "12345", "89010308652a8", "89010308652759"] {
            assert!(barcode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_codes_are_valid_ean13() {
        let code = generate_ean13("200", 42).unwrap();
        assert_eq!(code.len(), 13);
        assert!(code.starts_with("200000000042"));
        assert_eq!(barcode(&code).unwrap().1, BarcodeKind::Ean13);
        assert_eq!(generate_ean13("2001234567", 999), None);
    }

    #[test]
    fn gst_rates_are_the_five_slabs() {
        assert_eq!(gst_rate_bp("18").unwrap(), 1800);
        assert_eq!(gst_rate_bp("5.0").unwrap(), 500);
        assert_eq!(gst_rate_bp("0").unwrap(), 0);
        for bad in ["7", "18.5", "-5", "x", "100"] {
            assert_eq!(
                gst_rate_bp(bad).unwrap_err().code,
                "invalid_gst_rate",
                "{bad}"
            );
        }
        assert_eq!(cess_rate_bp("12.5").unwrap(), 1250);
        assert!(cess_rate_bp("301").is_err());
    }

    #[test]
    fn prices_cannot_exceed_mrp_or_mix_currencies() {
        let inr = |m| Money::new(m, Currency::INR);
        assert!(prices(inr(100), inr(90)).is_ok());
        assert_eq!(
            prices(inr(100), inr(101)).unwrap_err().code,
            "price_above_mrp"
        );
        assert_eq!(prices(inr(-1), inr(-1)).unwrap_err().code, "negative_price");
    }

    #[test]
    fn units_bound_decimals() {
        assert_eq!(Unit::parse("kg").unwrap().decimals(), 3);
        assert_eq!(Unit::parse("piece").unwrap().code(), "piece");
        assert!(reorder_level("1.5", Unit::Piece).is_err());
        assert!(reorder_level("1.500", Unit::Kg).is_ok());
        assert_eq!(Unit::parse("bushel").unwrap_err().code, "unknown_unit");
    }

    #[test]
    fn skus_and_hsn_codes() {
        assert_eq!(sku(" RICE-5KG ").unwrap(), "RICE-5KG");
        assert!(sku("rice 5kg").is_err());
        assert!(sku(&"x".repeat(65)).is_err());
        assert!(hsn("1006").is_ok() && hsn("100630").is_ok());
        assert!(hsn("10063").is_err());
    }
}
