//! Inventory rules without I/O: quantities, adjustment reasons, batches drawn first-expiry
//! first-out, and the moving-average cost.

use bazaar_platform::{
    http::Invalid,
    money::{Quantity, Sign},
};
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

/// Decimal places of a unit cost in minor units: a moving average keeps four so that
/// it does not drift over thousands of receipts.
pub const COST_DECIMALS: u32 = 4;

/// A strictly positive quantity of a product whose unit allows `decimals` places, by the
/// platform's one grammar.
pub fn quantity(field: &str, text: &str, decimals: u32) -> Result<Decimal, Invalid> {
    Ok(Quantity::field(field, text, decimals, Sign::Positive)?.value())
}

/// A quantity that may be zero (a count that found nothing), never negative.
pub fn counted_quantity(field: &str, text: &str, decimals: u32) -> Result<Decimal, Invalid> {
    Ok(Quantity::field(field, text, decimals, Sign::NonNegative)?.value())
}

/// A batch number: up to 40 printable characters; empty means "no batch".
pub fn batch(field: &str, raw: Option<&str>) -> Result<String, Invalid> {
    let batch = raw.map(str::trim).unwrap_or_default();
    if batch.chars().count() > 40 || batch.chars().any(char::is_control) {
        return Err(Invalid::new(
            field,
            "invalid_batch",
            "at most 40 printable characters",
        ));
    }
    Ok(batch.to_owned())
}

/// Stock may not come in already expired.
pub fn receivable_expiry(
    field: &str,
    expiry: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<(), Invalid> {
    match expiry {
        Some(date) if date < today => Err(Invalid::new(
            field,
            "batch_expired",
            format!("the batch expired on {date}"),
        )),
        _ => Ok(()),
    }
}

/// Why stock was adjusted outside a sale, purchase, transfer or count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Broken or spoiled: stock out, written off.
    Damage,
    /// Stolen or missing: stock out, written off.
    Theft,
    /// Past its expiry date: stock out, written off.
    ExpiryWriteOff,
    /// Found in the store: stock in.
    Found,
    /// The stock a location starts with: stock in, at a stated cost.
    OpeningStock,
}

const REASONS: [(&str, Reason); 5] = [
    ("damage", Reason::Damage),
    ("theft", Reason::Theft),
    ("expiry_write_off", Reason::ExpiryWriteOff),
    ("found", Reason::Found),
    ("opening_stock", Reason::OpeningStock),
];

impl Reason {
    /// Parses a reason code.
    pub fn parse(code: &str) -> Result<Self, Invalid> {
        REASONS
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, reason)| *reason)
            .ok_or_else(|| {
                Invalid::new(
                    "reason",
                    "unknown_reason",
                    format!(
                        "{code:?}: use one of {}",
                        REASONS.map(|(c, _)| c).join(", ")
                    ),
                )
            })
    }

    /// The reason's code.
    pub fn code(self) -> &'static str {
        REASONS
            .iter()
            .find(|(_, r)| *r == self)
            .map(|(c, _)| *c)
            .unwrap_or("damage")
    }

    /// True when the adjustment removes stock (and writes its cost off).
    pub fn removes_stock(self) -> bool {
        matches!(
            self,
            Reason::Damage | Reason::Theft | Reason::ExpiryWriteOff
        )
    }
}

/// Stock of one batch at a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchStock {
    /// Batch number; empty for unbatched stock.
    pub batch: String,
    /// Expiry date, if the batch has one.
    pub expiry: Option<NaiveDate>,
    /// Quantity on hand.
    pub on_hand: Decimal,
}

/// Takes `wanted` from `batches` first-expiry first-out (batches without an expiry
/// last). What the batches cannot cover is taken from the unbatched stock, which then
/// goes negative: the caller has already decided whether that is allowed.
pub fn draw(batches: &[BatchStock], wanted: Decimal) -> Vec<BatchStock> {
    let mut order: Vec<&BatchStock> = batches
        .iter()
        .filter(|b| b.on_hand > Decimal::ZERO)
        .collect();
    order.sort_by(|a, b| {
        (a.expiry.is_none(), a.expiry, &a.batch).cmp(&(b.expiry.is_none(), b.expiry, &b.batch))
    });
    let mut left = wanted;
    let mut taken = Vec::new();
    for stock in order {
        if left <= Decimal::ZERO {
            break;
        }
        let take = left.min(stock.on_hand);
        taken.push(BatchStock {
            on_hand: take,
            ..stock.clone()
        });
        left -= take;
    }
    if left > Decimal::ZERO {
        match taken.iter_mut().find(|t| t.batch.is_empty()) {
            Some(unbatched) => unbatched.on_hand += left,
            None => taken.push(BatchStock {
                batch: String::new(),
                expiry: None,
                on_hand: left,
            }),
        }
    }
    taken
}

/// The moving-average unit cost after `quantity` units come in (or, negative, leave) at
/// `unit_cost`. Stock at or below zero carries no cost to average with, so the moving
/// units set it.
pub fn moving_average(
    on_hand: Decimal,
    average: Decimal,
    quantity: Decimal,
    unit_cost: Decimal,
) -> Decimal {
    let total = on_hand + quantity;
    if on_hand <= Decimal::ZERO || total <= Decimal::ZERO {
        return unit_cost;
    }
    ((on_hand * average + quantity * unit_cost) / total)
        .round_dp_with_strategy(COST_DECIMALS, RoundingStrategy::MidpointAwayFromZero)
}

pub use bazaar_platform::money::value_minor;

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn stock(batch: &str, expiry: Option<&str>, on_hand: &str) -> BatchStock {
        BatchStock {
            batch: batch.to_owned(),
            expiry: expiry.map(|e| e.parse().unwrap()),
            on_hand: d(on_hand),
        }
    }

    #[test]
    fn quantities_respect_the_unit_and_sign() {
        assert_eq!(quantity("q", "2.5", 3).unwrap(), d("2.5"));
        assert_eq!(
            quantity("q", "2.5", 0).unwrap_err().code,
            "too_many_decimals"
        );
        assert_eq!(quantity("q", "0", 0).unwrap_err().code, "invalid_quantity");
        assert_eq!(quantity("q", "-1", 0).unwrap_err().code, "invalid_quantity");
        assert_eq!(
            quantity("q", "ten", 0).unwrap_err().code,
            "invalid_quantity"
        );
        assert_eq!(
            quantity("q", "1000000000", 0).unwrap_err().code,
            "quantity_too_large"
        );
        assert_eq!(
            quantity("q", "1_000", 0).unwrap_err().code,
            "invalid_quantity"
        );
        assert_eq!(counted_quantity("q", "0", 0).unwrap(), Decimal::ZERO);
        assert_eq!(
            quantity("lines[1].quantity", "x", 0).unwrap_err().field,
            "lines[1].quantity"
        );
    }

    #[test]
    fn draws_the_earliest_expiry_first_and_the_rest_from_unbatched() {
        let batches = [
            stock("B2", Some("2027-03-01"), "5"),
            stock("", None, "2"),
            stock("B1", Some("2027-01-01"), "3"),
            stock("B0", Some("2026-12-01"), "0"),
        ];
        assert_eq!(
            draw(&batches, d("4")),
            vec![
                stock("B1", Some("2027-01-01"), "3"),
                stock("B2", Some("2027-03-01"), "1")
            ]
        );
        // Short: everything, then the unbatched stock goes below zero.
        assert_eq!(
            draw(&batches, d("12")),
            vec![
                stock("B1", Some("2027-01-01"), "3"),
                stock("B2", Some("2027-03-01"), "5"),
                stock("", None, "4"),
            ]
        );
        assert_eq!(draw(&[], d("1")), vec![stock("", None, "1")]);
    }

    #[test]
    fn moving_average_weights_old_and_new_stock() {
        // 10 at 100.00 and 30 at 120.00: 115.00.
        assert_eq!(
            moving_average(d("10"), d("10000"), d("30"), d("12000")),
            d("11500")
        );
        // 3 at 10.00 and 1 at 11.00: 10.25, kept to four places of a paisa.
        assert_eq!(
            moving_average(d("3"), d("1000"), d("1"), d("1101")),
            d("1025.25")
        );
        assert_eq!(moving_average(d("1"), d("1"), d("2"), d("2")), d("1.6667"));
        // Nothing (or less) on hand: the new cost.
        assert_eq!(moving_average(d("0"), d("500"), d("5"), d("700")), d("700"));
        // 10 at ₹40 and 10 at ₹60 average ₹50; the ₹60 ones going back leave ₹40.
        assert_eq!(
            moving_average(d("20"), d("5000"), d("-10"), d("6000")),
            d("4000")
        );
        assert_eq!(
            moving_average(d("-2"), d("500"), d("5"), d("700")),
            d("700")
        );
    }

    #[test]
    fn values_round_half_away_from_zero_to_a_minor_unit() {
        assert_eq!(value_minor(d("3"), d("1666.6667")), 5000);
        assert_eq!(value_minor(d("0.5"), d("3")), 2);
        assert_eq!(value_minor(d("-0.5"), d("3")), -2);
    }

    #[test]
    fn reasons_say_which_way_stock_goes() {
        assert!(Reason::parse("damage").unwrap().removes_stock());
        assert!(!Reason::parse("found").unwrap().removes_stock());
        assert_eq!(
            Reason::parse("expiry_write_off").unwrap().code(),
            "expiry_write_off"
        );
        assert_eq!(Reason::parse("gift").unwrap_err().code, "unknown_reason");
    }

    #[test]
    fn expired_batches_cannot_be_received() {
        let today: NaiveDate = "2026-11-21".parse().unwrap();
        assert!(receivable_expiry("expiry_date", Some(today), today).is_ok());
        let past = "2026-11-20".parse().ok();
        assert_eq!(
            receivable_expiry("expiry_date", past, today)
                .unwrap_err()
                .code,
            "batch_expired"
        );
    }
}
