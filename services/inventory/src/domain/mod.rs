//! Inventory rules without I/O: quantities, adjustment reasons, batches drawn first-expiry
//! first-out, and the moving-average cost.

use crate::Code;
use bazaar_platform::{
    http::Invalid,
    money::{Quantity, Sign},
};
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

pub mod transfer;

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
            Code::InvalidBatch,
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
            Code::BatchExpired,
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
                    Code::UnknownReason,
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

/// A location's stock of one product: how much is on hand, its book value in whole minor
/// units, and the unit cost (four places of a minor unit) it moves out at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Level {
    /// On hand, all batches; below zero where the location allows negative stock.
    pub on_hand: Decimal,
    /// What the books hold for it: the sum of its movements' values.
    pub value: i64,
    /// Moving-average unit cost in minor units.
    pub average_cost: Decimal,
}

impl Level {
    /// The level after `quantity` units move (in, or negative, out) at `unit_cost`, and
    /// that movement's exact change in book value, which is what the books post:
    /// - the movement that leaves nothing on hand takes all the value left, so no paisa of
    ///   rounding stays behind on no stock;
    /// - stock coming into an item that had none, or was short, is worth its own cost: the
    ///   units sold short at an older average are revalued, and the difference is part of
    ///   this movement's value (cost of goods sold absorbs it in the books);
    /// - otherwise quantity times cost, to the minor unit.
    ///
    /// Leaving at the average keeps the average; anything else re-averages what is left.
    pub fn moved(self, quantity: Decimal, unit_cost: Decimal) -> (Level, i64) {
        let on_hand = self.on_hand + quantity;
        let refilled = quantity > Decimal::ZERO && self.on_hand <= Decimal::ZERO;
        let value = if on_hand.is_zero() {
            0
        } else if refilled {
            value_minor(on_hand, unit_cost)
        } else {
            self.value.saturating_add(value_minor(quantity, unit_cost))
        };
        let average_cost = if refilled {
            unit_cost
        } else if on_hand > Decimal::ZERO
            && (quantity > Decimal::ZERO || unit_cost != self.average_cost)
        {
            (Decimal::from(value) / on_hand)
                .round_dp_with_strategy(COST_DECIMALS, RoundingStrategy::MidpointAwayFromZero)
        } else {
            self.average_cost
        };
        let after = Level {
            on_hand,
            value,
            average_cost,
        };
        (after, value.saturating_sub(self.value))
    }
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

    fn moves(start: Level, steps: &[(&str, &str)]) -> (Level, Vec<i64>) {
        let mut level = start;
        let mut values = Vec::new();
        for (quantity, cost) in steps {
            let cost = if cost.is_empty() {
                level.average_cost
            } else {
                d(cost)
            };
            let (after, value) = level.moved(d(quantity), cost);
            level = after;
            values.push(value);
        }
        (level, values)
    }

    #[test]
    fn the_average_weighs_old_and_new_stock() {
        // 10 at 100.00 and 30 at 120.00: 115.00.
        let (level, _) = moves(Level::default(), &[("10", "10000"), ("30", "12000")]);
        assert_eq!((level.average_cost, level.value), (d("11500"), 460_000));
        // 3 at 10.00 and 1 at 11.01: 10.2525, kept to four places of a paisa.
        let (level, _) = moves(Level::default(), &[("3", "1000"), ("1", "1101")]);
        assert_eq!(level.average_cost, d("1025.25"));
        // 10 at ₹40 and 10 at ₹60 average ₹50; the ₹60 ones going back leave ₹40.
        let (level, _) = moves(
            Level::default(),
            &[("10", "4000"), ("10", "6000"), ("-10", "6000")],
        );
        assert_eq!((level.average_cost, level.value), (d("4000"), 40_000));
        // Selling at the average keeps it.
        let (level, values) = moves(Level::default(), &[("3", "333.3333"), ("-1", "")]);
        assert_eq!((level.average_cost, values[1]), (d("333.3333"), -333));
    }

    #[test]
    fn the_last_unit_out_takes_the_value_left() {
        // ₹550.00 for 3: sold one by one at ₹183.3333, the last takes the remainder, so
        // the sales add up to what was received and nothing stays on no stock.
        let (level, values) = moves(
            Level::default(),
            &[("3", "18333.3333"), ("-1", ""), ("-1", ""), ("-1", "")],
        );
        assert_eq!(values, [55_000, -18_333, -18_333, -18_334]);
        assert_eq!((level.on_hand, level.value), (d("0"), 0));
    }

    #[test]
    fn a_receipt_into_negative_stock_revalues_what_was_sold_short() {
        // Receive 10 at ₹10, sell 15, sell 5 (-10 at ₹10), receive 15 at ₹15: 5 on hand
        // worth ₹75. The receipt is worth ₹225 at its price; the ₹50 between is the
        // shortfall's revaluation, and the movement's value says so.
        let (level, values) = moves(
            Level::default(),
            &[("10", "1000"), ("-15", ""), ("-5", ""), ("15", "1500")],
        );
        assert_eq!(values, [10_000, -15_000, -5_000, 17_500]);
        assert_eq!(
            (level.on_hand, level.value, level.average_cost),
            (d("5"), 7_500, d("1500"))
        );
        assert_eq!(values.iter().sum::<i64>(), level.value);
        // Covering only part of the shortfall revalues what is still short.
        let (level, values) = moves(Level::default(), &[("-4", "1000"), ("2", "1500")]);
        assert_eq!(
            (level.on_hand, level.value, values[1]),
            (d("-2"), -3_000, 1_000)
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

    mod valuation {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Whatever came in before, goods sold at the average and all brought back at
            /// the cost they left at restore the quantity and the value exactly; and the
            /// movements' values always add up to the item's.
            #[test]
            fn a_full_return_restores_stock_exactly(
                receipts in prop::collection::vec((1_i64..500, 1_i64..1_000_000), 1..8),
                sold_share in 1_u32..=100,
            ) {
                let mut level = Level::default();
                let mut sum = 0;
                for (quantity, cost) in &receipts {
                    let (after, value) = level.moved(Decimal::from(*quantity), Decimal::from(*cost));
                    level = after;
                    sum += value;
                }
                prop_assert_eq!(sum, level.value);
                let before = level;
                let sold = (level.on_hand * Decimal::from(sold_share) / Decimal::from(100)).ceil();
                let cost = level.average_cost;
                let (after_sale, _) = level.moved(-sold, cost);
                let (after_return, _) = after_sale.moved(sold, cost);
                prop_assert_eq!(after_return.on_hand, before.on_hand);
                prop_assert_eq!(after_return.value, before.value);
            }
        }
    }
}
