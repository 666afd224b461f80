//! Sales rules without I/O: financial years, invoice numbers, pricing a bill with its
//! discounts and GST, and checking its payments.

use crate::Code;
use bazaar_gst::{LineTax, Rates, Supply};
use bazaar_platform::http::PlatformCode;
use bazaar_platform::{
    auth::Role,
    http::{line_count, Invalid},
    money::{amount_field, checked_sum, sum_field, MoneyError, MAX_AMOUNT_MINOR},
};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

/// The Indian financial year (April to March) a date falls in, by its first year:
/// 2026-11-21 is in 2026 (FY 2026-27), 2027-02-01 too.
pub fn financial_year(date: NaiveDate) -> i32 {
    if date.month() >= 4 {
        date.year()
    } else {
        date.year() - 1
    }
}

/// A terminal's id: 1 to 4 capitals or digits (it is part of every invoice number).
pub fn terminal(field: &str, raw: &str) -> Result<String, Invalid> {
    let t = raw.trim();
    if (1..=4).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        Ok(t.to_owned())
    } else {
        Err(Invalid::new(
            field,
            Code::InvalidTerminal,
            "1 to 4 capitals or digits",
        ))
    }
}

/// An invoice number: store code, terminal, the financial year's last two digits and a
/// six-digit serial; at most 16 characters, as GST requires. `BLR1T1` `26` `000042`.
pub fn invoice_number(store: &str, terminal: &str, financial_year: i32, serial: i64) -> String {
    format!(
        "{store}{terminal}{:02}{serial:06}",
        financial_year.rem_euclid(100)
    )
}

/// One line to price.
#[derive(Debug, Clone)]
pub struct LineInput {
    /// How many.
    pub quantity: Decimal,
    /// Price per unit, as the product is priced (with or without GST).
    pub unit_price: i64,
    /// Discount on the line, before tax.
    pub discount: i64,
    /// The product's GST and cess.
    pub rates: Rates,
    /// Whether `unit_price` includes GST.
    pub inclusive: bool,
}

/// A priced line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricedLine {
    /// Quantity times price.
    pub gross: i64,
    /// The line's discount and its share of the bill discount.
    pub discount: i64,
    /// Its taxes.
    pub tax: LineTax,
}

/// A priced bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bill {
    /// Per line.
    pub lines: Vec<PricedLine>,
    /// Sum of the lines' gross values.
    pub subtotal: i64,
    /// Line discounts and the bill discount.
    pub discount: i64,
    /// Sum of taxable values.
    pub taxable: i64,
    /// Sum of taxes.
    pub tax: i64,
    /// To the rupee, when asked.
    pub round_off: i64,
    /// What the customer pays.
    pub total: i64,
}

/// Prices a bill: each line's discount and its share of `bill_discount` come off before
/// tax; GST per line; the total optionally rounded to the rupee with a round-off line.
/// Every price, discount and line value is bounded by [`MAX_AMOUNT_MINOR`] and every
/// total is a checked sum, so nothing wraps: out of range is a 422 naming the field.
pub fn price(
    lines: &[LineInput],
    bill_discount: i64,
    supply: Supply,
    round_to_rupee: bool,
) -> Result<Bill, Invalid> {
    line_count("lines", lines.len())?;
    let mut nets = Vec::with_capacity(lines.len());
    let mut grosses = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        let field = |name: &str| format!("lines[{index}].{name}");
        amount_field(&field("unit_price_minor"), line.unit_price)?;
        let gross = bazaar_gst::net(line.quantity, line.unit_price, 0)
            .filter(|gross| *gross <= MAX_AMOUNT_MINOR)
            .ok_or_else(|| {
                Invalid::new(
                    field("quantity"),
                    PlatformCode::AmountTooLarge,
                    format!("quantity times price is above {MAX_AMOUNT_MINOR} minor units"),
                )
            })?;
        if line.discount < 0 || line.discount > gross {
            return Err(Invalid::new(
                field("discount_minor"),
                Code::InvalidDiscount,
                "from zero to the line's value",
            ));
        }
        grosses.push(gross);
        nets.push(gross - line.discount);
    }
    let net_total = sum_field("lines", nets.iter().copied())?;
    if bill_discount < 0 || bill_discount > net_total {
        return Err(Invalid::new(
            "bill_discount_minor",
            Code::InvalidDiscount,
            "from zero to the bill's value after line discounts",
        ));
    }
    let shares = bazaar_gst::apportion(bill_discount, &nets)
        .ok_or_else(|| MoneyError::Overflow.at("lines"))?;
    let priced: Vec<PricedLine> = lines
        .iter()
        .zip(grosses.iter().zip(nets.iter().zip(&shares)))
        .map(|(line, (gross, (net, share)))| PricedLine {
            gross: *gross,
            discount: line.discount + share,
            tax: bazaar_gst::line(net - share, line.inclusive, line.rates, supply),
        })
        .collect();
    let before = sum_field("lines", priced.iter().map(|l| l.tax.total()))?;
    let round_off = if round_to_rupee {
        bazaar_gst::round_off(before)
    } else {
        0
    };
    let total = before
        .checked_add(round_off)
        .ok_or_else(|| MoneyError::Overflow.at("lines"))?;
    // A bill no payment could pay is refused before anyone tries.
    if total > MAX_AMOUNT_MINOR {
        return Err(Invalid::new(
            "lines",
            PlatformCode::AmountTooLarge,
            format!("the bill's total is above {MAX_AMOUNT_MINOR} minor units"),
        ));
    }
    Ok(Bill {
        subtotal: sum_field("lines", grosses.iter().copied())?,
        discount: sum_field("lines", priced.iter().map(|l| l.discount))?,
        taxable: sum_field("lines", priced.iter().map(|l| l.tax.taxable))?,
        tax: sum_field("lines", priced.iter().map(|l| l.tax.tax()))?,
        round_off,
        total,
        lines: priced,
    })
}

/// How far one role may discount without anyone's approval: per line and per bill, as a
/// share of what the discount comes off (basis points) and as an amount (`None`: no
/// amount limit). Configured per tenant and store; [`DiscountLimit::built_in`] otherwise.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct DiscountLimit {
    /// Of a line's value, in basis points (500 is 5 %).
    pub line_bp: u32,
    /// Of a line, in minor units.
    pub line_minor: Option<i64>,
    /// Of the bill's value after line discounts, in basis points.
    pub bill_bp: u32,
    /// Of the bill, in minor units.
    pub bill_minor: Option<i64>,
}

impl DiscountLimit {
    /// No discount at all.
    pub const NONE: DiscountLimit = DiscountLimit {
        line_bp: 0,
        line_minor: Some(0),
        bill_bp: 0,
        bill_minor: Some(0),
    };

    /// What a role may give before any tenant sets otherwise: a cashier 10 %, a store
    /// manager 30 %, the owner and admins anything; other roles do not sell.
    pub fn built_in(role: Role) -> DiscountLimit {
        let share = |bp| DiscountLimit {
            line_bp: bp,
            line_minor: None,
            bill_bp: bp,
            bill_minor: None,
        };
        match role {
            Role::Owner | Role::Admin => share(10_000),
            Role::StoreManager => share(3_000),
            Role::Cashier => share(1_000),
            Role::Accountant | Role::Hr => DiscountLimit::NONE,
        }
    }

    /// The most generous of two limits, part by part: a user with several roles has the
    /// widest of them.
    pub fn widest(self, other: DiscountLimit) -> DiscountLimit {
        let amount = |a: Option<i64>, b: Option<i64>| a.zip(b).map(|(a, b)| a.max(b));
        DiscountLimit {
            line_bp: self.line_bp.max(other.line_bp),
            line_minor: amount(self.line_minor, other.line_minor),
            bill_bp: self.bill_bp.max(other.bill_bp),
            bill_minor: amount(self.bill_minor, other.bill_minor),
        }
    }

    /// The most of `base` this limit allows off, in basis points and amount.
    fn allows(bp: u32, amount: Option<i64>, base: i64) -> i64 {
        // base is a bounded line or bill value, so the product fits in i128 and the
        // share fits back in i64.
        let share = (i128::from(base) * i128::from(bp) / 10_000) as i64;
        amount.map_or(share, |amount| share.min(amount))
    }
}

/// What kind of authority a sale went beyond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionKind {
    /// A unit price other than the catalog's.
    PriceDeviation,
    /// A line discount beyond the policy.
    LineDiscount,
    /// A bill discount beyond the policy.
    BillDiscount,
}

impl ExceptionKind {
    /// As stored, in events and in the API.
    pub fn code(self) -> &'static str {
        match self {
            ExceptionKind::PriceDeviation => "price_deviation",
            ExceptionKind::LineDiscount => "line_discount",
            ExceptionKind::BillDiscount => "bill_discount",
        }
    }
}

/// One way a sale went beyond what the catalog and the seller's policy allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// The request field: `lines[2].unit_price_minor`, `bill_discount_minor`.
    pub field: String,
    /// What it is.
    pub kind: ExceptionKind,
    /// What the catalog or the policy allowed (a unit price, or a discount).
    pub allowed: i64,
    /// What was given.
    pub given: i64,
    /// What the customer got beyond the allowed, in minor units (negative for a price
    /// above the catalog's).
    pub amount: i64,
}

/// Every way a priced `bill` goes beyond `catalog` prices (one per line: the price the
/// seller could have known) and the discount `limit`. Price deviations are listed
/// whoever sells; whether the seller may make them is the caller's to decide.
pub fn exceptions(
    lines: &[LineInput],
    catalog: &[i64],
    bill_discount: i64,
    bill: &Bill,
    limit: DiscountLimit,
) -> Vec<Exception> {
    let mut found = Vec::new();
    for (index, ((line, priced), catalog)) in lines.iter().zip(&bill.lines).zip(catalog).enumerate()
    {
        if line.unit_price != *catalog {
            let at_catalog = bazaar_gst::net(line.quantity, *catalog, 0).unwrap_or(i64::MAX);
            found.push(Exception {
                field: format!("lines[{index}].unit_price_minor"),
                kind: ExceptionKind::PriceDeviation,
                allowed: *catalog,
                given: line.unit_price,
                amount: at_catalog.saturating_sub(priced.gross),
            });
        }
        let allowed = DiscountLimit::allows(limit.line_bp, limit.line_minor, priced.gross);
        if line.discount > allowed {
            found.push(Exception {
                field: format!("lines[{index}].discount_minor"),
                kind: ExceptionKind::LineDiscount,
                allowed,
                given: line.discount,
                amount: line.discount - allowed,
            });
        }
    }
    let line_discounts = checked_sum(lines.iter().map(|l| l.discount)).unwrap_or(i64::MAX);
    let after_lines = bill.subtotal.saturating_sub(line_discounts);
    let allowed = DiscountLimit::allows(limit.bill_bp, limit.bill_minor, after_lines);
    if bill_discount > allowed {
        found.push(Exception {
            field: "bill_discount_minor".to_owned(),
            kind: ExceptionKind::BillDiscount,
            allowed,
            given: bill_discount,
            amount: bill_discount - allowed,
        });
    }
    found
}

/// The share of a sold line that `returned` of its `sold` quantity carries back: the
/// line's total and its taxable value in proportion, rounded to the paisa, and the taxes
/// in proportion, trimmed so that they add up to the difference (half of a ₹3,135 line
/// refunds ₹1,567.50, not a paisa more). Returning all of it gives back exactly what was
/// charged.
pub fn returned_part(line: LineTax, sold: Decimal, returned: Decimal) -> LineTax {
    if returned >= sold {
        return line;
    }
    let part = |amount: i64| -> i64 {
        (Decimal::from(amount) * returned / sold)
            .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
            .try_into()
            .unwrap_or(0)
    };
    let mut back = LineTax {
        taxable: part(line.taxable),
        cgst: part(line.cgst),
        sgst: part(line.sgst),
        igst: part(line.igst),
        cess: part(line.cess),
    };
    // Rounding each tax on its own can leave them a paisa or two off the total's share;
    // the largest tax absorbs it.
    let excess = back.taxable + back.tax() - part(line.total());
    let largest = [
        &mut back.cgst,
        &mut back.sgst,
        &mut back.igst,
        &mut back.cess,
    ]
    .into_iter()
    .max_by_key(|tax| **tax);
    if let Some(tax) = largest {
        *tax -= excess;
    }
    back
}

/// What a return of `quantity` of a line carries back, `back` being what its earlier
/// returns (`already` of the `sold` quantity) carried: its share, and for the return that
/// completes the line everything still unreturned of each tax. However many parts a line
/// comes back in, they refund exactly what it charged, tax by tax.
pub fn return_of(
    line: LineTax,
    sold: Decimal,
    already: Decimal,
    back: LineTax,
    quantity: Decimal,
) -> LineTax {
    if already + quantity < sold {
        return returned_part(line, sold, quantity);
    }
    LineTax {
        taxable: line.taxable - back.taxable,
        cgst: line.cgst - back.cgst,
        sgst: line.sgst - back.sgst,
        igst: line.igst - back.igst,
        cess: line.cess - back.cess,
    }
}

/// A credit note's number: store code, `C`, the financial year's last two digits and a
/// six-digit serial.
pub fn credit_note_number(store: &str, financial_year: i32, serial: i64) -> String {
    format!("{store}C{:02}{serial:06}", financial_year.rem_euclid(100))
}

/// One payment of a bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// cash, card, upi or credit.
    pub mode: String,
    /// What it pays.
    pub amount: i64,
    /// Cash handed over.
    pub tendered: Option<i64>,
    /// Card or UPI reference.
    pub reference: Option<String>,
    /// Loyalty points spent, for mode loyalty.
    pub points: Option<i64>,
}

/// The most payments one bill is split into.
pub const MAX_PAYMENTS: usize = 20;

/// Checks that `payments` pay `total` exactly and each is well formed; returns the change
/// due on cash.
pub fn check_payments(
    payments: &[Payment],
    total: i64,
    has_customer: bool,
) -> Result<i64, Invalid> {
    if payments.is_empty() {
        return Err(Invalid::new(
            "payments",
            Code::NoPayments,
            "a bill is paid somehow",
        ));
    }
    if payments.len() > MAX_PAYMENTS {
        return Err(Invalid::new(
            "payments",
            Code::TooManyPayments,
            format!("at most {MAX_PAYMENTS} payments"),
        ));
    }
    let mut change = 0_i64;
    for (index, p) in payments.iter().enumerate() {
        let field = |name: &str| format!("payments[{index}].{name}");
        if p.amount <= 0 {
            return Err(Invalid::new(
                field("amount_minor"),
                Code::InvalidAmount,
                "greater than zero",
            ));
        }
        amount_field(&field("amount_minor"), p.amount)?;
        if let Some(tendered) = p.tendered {
            amount_field(&field("tendered_minor"), tendered)?;
        }
        if let Some(points) = p.points {
            amount_field(&field("points"), points)?;
        }
        if p.tendered.is_some() && p.mode != "cash" {
            return Err(Invalid::new(
                field("tendered_minor"),
                Code::TenderedNotCash,
                "only cash is tendered; a card, UPI, credit or points pay the amount",
            ));
        }
        match p.mode.as_str() {
            "cash" => {
                let tendered = p.tendered.unwrap_or(p.amount);
                if tendered < p.amount {
                    return Err(Invalid::new(
                        field("tendered_minor"),
                        Code::TenderedShort,
                        "less than the cash amount",
                    ));
                }
                // Both are bounded, so neither the difference nor the sum of a few
                // can wrap; checked all the same.
                change = change
                    .checked_add(tendered - p.amount)
                    .ok_or_else(|| MoneyError::Overflow.at(field("tendered_minor")))?;
            }
            "card" | "upi" => {
                if p.reference.as_deref().is_none_or(|r| r.trim().is_empty()) {
                    return Err(Invalid::new(
                        field("reference"),
                        Code::ReferenceRequired,
                        "the card slip or UPI reference",
                    ));
                }
            }
            "credit" | "loyalty" if !has_customer => {
                return Err(Invalid::new(
                    field("mode"),
                    Code::CustomerRequired,
                    "credit and points need the customer",
                ))
            }
            "loyalty" if p.points.is_none_or(|points| points <= 0) => {
                return Err(Invalid::new(
                    field("points"),
                    Code::PointsRequired,
                    "the points to spend",
                ))
            }
            "credit" | "loyalty" => {}
            other => {
                return Err(Invalid::new(
                    field("mode"),
                    Code::UnknownPaymentMode,
                    format!("{other:?}: cash, card, upi, credit or loyalty"),
                ))
            }
        }
    }
    let paid = sum_field("payments", payments.iter().map(|p| p.amount))?;
    if paid != total {
        return Err(Invalid::new(
            "payments",
            Code::PaymentsDoNotMatchTotal,
            format!("the payments add up to {paid}, the total is {total} (minor units)"),
        ));
    }
    Ok(change)
}

#[cfg(test)]
// Amounts in paise are written rupees_paise (118_00 is ₹118.00).
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn rates(gst_bp: u32) -> Rates {
        Rates { gst_bp, cess_bp: 0 }
    }

    #[test]
    fn financial_years_start_in_april() {
        let fy = |s: &str| financial_year(s.parse().unwrap());
        assert_eq!(
            (fy("2026-03-31"), fy("2026-04-01"), fy("2027-02-01")),
            (2025, 2026, 2026)
        );
        assert_eq!(invoice_number("BLR1", "T12", 2026, 42), "BLR1T1226000042");
        assert!(invoice_number("BLR1", "T123", 2026, 999_999).len() <= 16);
        assert_eq!(terminal("t", "t1").unwrap_err().code, "invalid_terminal");
    }

    #[test]
    fn a_bill_with_mrp_and_exclusive_lines_a_bill_discount_and_round_off() {
        // Soap at an MRP of ₹118 (18 %, inclusive) x 2, and 1.5 kg of rice at ₹60/kg
        // before 5 % GST with ₹5 off the line; ₹10 off the bill.
        let lines = [
            LineInput {
                quantity: d("2"),
                unit_price: 118_00,
                discount: 0,
                rates: rates(1800),
                inclusive: true,
            },
            LineInput {
                quantity: d("1.5"),
                unit_price: 60_00,
                discount: 5_00,
                rates: rates(500),
                inclusive: false,
            },
        ];
        let bill = price(&lines, 10_00, Supply::IntraState, true).unwrap();
        assert_eq!(bill.subtotal, 326_00);
        // ₹10 shared 236 : 85 -> 7.35 and 2.65.
        assert_eq!(
            (bill.lines[0].discount, bill.lines[1].discount),
            (7_35, 7_65)
        );
        // Soap: ₹228.65 inclusive -> taxable 193.77 + 17.44 + 17.44.
        assert_eq!(bill.lines[0].tax.total(), 228_65);
        // Rice: ₹82.35 + 2.06 + 2.06.
        assert_eq!(
            bill.lines[1].tax,
            LineTax {
                taxable: 82_35,
                cgst: 2_06,
                sgst: 2_06,
                igst: 0,
                cess: 0
            }
        );
        assert_eq!(bill.total - bill.round_off, 315_12);
        assert_eq!((bill.round_off, bill.total), (-12, 315_00));
        // Across states: IGST, same taxable values.
        let inter = price(&lines, 10_00, Supply::InterState, false).unwrap();
        assert_eq!(inter.lines[1].tax.igst, 4_12);
        assert_eq!(inter.round_off, 0);
    }

    #[test]
    fn discounts_cannot_exceed_what_they_discount() {
        let line = LineInput {
            quantity: d("1"),
            unit_price: 100_00,
            discount: 100_01,
            rates: rates(0),
            inclusive: false,
        };
        assert_eq!(
            price(std::slice::from_ref(&line), 0, Supply::IntraState, false)
                .unwrap_err()
                .code,
            "invalid_discount"
        );
        let line = LineInput {
            discount: 0,
            ..line
        };
        assert_eq!(
            price(&[line], 100_01, Supply::IntraState, false)
                .unwrap_err()
                .field,
            "bill_discount_minor"
        );
    }

    #[test]
    fn a_cashier_s_discount_beyond_policy_is_an_exception_naming_the_field() {
        // ₹180 of soap: ₹179 off the line, or the same off the bill, gave it for ₹1.
        let soap = LineInput {
            quantity: d("1"),
            unit_price: 180_00,
            discount: 179_00,
            rates: rates(0),
            inclusive: true,
        };
        let cashier = DiscountLimit::built_in(Role::Cashier);
        let bill = price(std::slice::from_ref(&soap), 0, Supply::IntraState, false).unwrap();
        let found = exceptions(std::slice::from_ref(&soap), &[180_00], 0, &bill, cashier);
        assert_eq!(
            found,
            [Exception {
                field: "lines[0].discount_minor".into(),
                kind: ExceptionKind::LineDiscount,
                allowed: 18_00,
                given: 179_00,
                amount: 161_00,
            }]
        );
        let whole = LineInput {
            discount: 0,
            ..soap.clone()
        };
        let bill = price(
            std::slice::from_ref(&whole),
            179_00,
            Supply::IntraState,
            false,
        )
        .unwrap();
        let found = exceptions(
            std::slice::from_ref(&whole),
            &[180_00],
            179_00,
            &bill,
            cashier,
        );
        assert_eq!(
            (found[0].field.as_str(), found[0].kind, found[0].amount),
            ("bill_discount_minor", ExceptionKind::BillDiscount, 161_00)
        );
        // Within 10 %: nothing to approve; a manager's 30 % covers ₹36.
        let small = LineInput {
            discount: 9_00,
            ..soap.clone()
        };
        let bill = price(std::slice::from_ref(&small), 0, Supply::IntraState, false).unwrap();
        assert!(exceptions(std::slice::from_ref(&small), &[180_00], 0, &bill, cashier).is_empty());
        let manager = DiscountLimit::built_in(Role::StoreManager);
        let fifth = LineInput {
            discount: 36_00,
            ..soap.clone()
        };
        let bill = price(std::slice::from_ref(&fifth), 0, Supply::IntraState, false).unwrap();
        assert!(exceptions(std::slice::from_ref(&fifth), &[180_00], 0, &bill, manager).is_empty());
        // An amount cap binds below the share; the widest of two roles' limits wins.
        let capped = DiscountLimit {
            line_minor: Some(5_00),
            ..manager
        };
        assert_eq!(
            exceptions(std::slice::from_ref(&fifth), &[180_00], 0, &bill, capped)[0].allowed,
            5_00
        );
        assert_eq!(capped.widest(manager), manager);
        // A price under the catalog's is a deviation worth the difference.
        let cheap = LineInput {
            unit_price: 1_00,
            discount: 0,
            quantity: d("2"),
            ..soap
        };
        let bill = price(std::slice::from_ref(&cheap), 0, Supply::IntraState, false).unwrap();
        let found = exceptions(std::slice::from_ref(&cheap), &[180_00], 0, &bill, cashier);
        assert_eq!(
            (
                found[0].kind,
                found[0].allowed,
                found[0].given,
                found[0].amount
            ),
            (ExceptionKind::PriceDeviation, 180_00, 1_00, 358_00)
        );
    }

    #[test]
    fn sums_that_would_wrap_are_refused_naming_the_field() {
        // Three lines near i64::MAX / 3 used to total 100 paise.
        let line = LineInput {
            quantity: d("1"),
            unit_price: i64::MAX / 3,
            discount: 0,
            rates: rates(0),
            inclusive: false,
        };
        let refused = price(
            &[line.clone(), line.clone(), line.clone()],
            0,
            Supply::IntraState,
            false,
        )
        .unwrap_err();
        assert_eq!(
            (refused.field.as_str(), refused.code),
            ("lines[0].unit_price_minor", "amount_too_large")
        );
        // A price in range times a large quantity is out of range too.
        let many = LineInput {
            quantity: d("999999999"),
            unit_price: MAX_AMOUNT_MINOR,
            ..line.clone()
        };
        let refused = price(&[many], 0, Supply::IntraState, false).unwrap_err();
        assert_eq!(
            (refused.field.as_str(), refused.code),
            ("lines[0].quantity", "amount_too_large")
        );
        let lots = vec![
            LineInput {
                unit_price: 1,
                ..line
            };
            bazaar_platform::http::MAX_LINES + 1
        ];
        assert_eq!(
            price(&lots, 0, Supply::IntraState, false).unwrap_err().code,
            "too_many_lines"
        );
        // Card i64::MAX + UPI i64::MAX + cash 105000002 wrapped to a total of 105000000.
        let pay = |mode: &str, amount| Payment {
            mode: mode.into(),
            amount,
            tendered: None,
            reference: Some("REF".into()),
            points: None,
        };
        let refused = check_payments(
            &[
                pay("card", i64::MAX),
                pay("upi", i64::MAX),
                pay("cash", 105_000_002),
            ],
            105_000_000,
            false,
        )
        .unwrap_err();
        assert_eq!(
            (refused.field.as_str(), refused.code),
            ("payments[0].amount_minor", "amount_too_large")
        );
        let tendered = Payment {
            tendered: Some(i64::MAX),
            ..pay("cash", 100)
        };
        assert_eq!(
            check_payments(&[tendered], 100, false).unwrap_err().code,
            "amount_too_large"
        );
    }

    #[test]
    fn returns_carry_back_their_share_of_each_tax() {
        let sold = LineTax {
            taxable: 193_77,
            cgst: 17_44,
            sgst: 17_44,
            igst: 0,
            cess: 0,
        };
        let one = returned_part(sold, d("2"), d("1"));
        assert_eq!(
            one,
            LineTax {
                taxable: 96_89,
                cgst: 8_72,
                sgst: 8_72,
                igst: 0,
                cess: 0
            }
        );
        assert_eq!(returned_part(sold, d("2"), d("2")), sold);
        assert_eq!(credit_note_number("BLR1", 2026, 7), "BLR1C26000007");

        // Two at ₹1,567.50 with 18 % inside: ₹2,656.78 taxable, ₹239.11 each way. Half
        // of each tax is ₹119.555, rounded up twice that would refund ₹1,567.51 for one
        // pack sold at ₹1,567.50.
        let sold = LineTax {
            taxable: 2_656_78,
            cgst: 239_11,
            sgst: 239_11,
            igst: 0,
            cess: 0,
        };
        let one = returned_part(sold, d("2"), d("1"));
        assert_eq!(
            one,
            LineTax {
                taxable: 1_328_39,
                cgst: 119_56,
                sgst: 119_55,
                igst: 0,
                cess: 0
            }
        );
        assert_eq!(one.total(), 1_567_50);
    }

    #[test]
    fn payments_must_pay_the_total_exactly() {
        let cash = |amount, tendered| Payment {
            mode: "cash".into(),
            amount,
            tendered,
            reference: None,
            points: None,
        };
        let upi = |amount, reference: Option<&str>| Payment {
            mode: "upi".into(),
            amount,
            tendered: None,
            reference: reference.map(Into::into),
            points: None,
        };
        assert_eq!(
            check_payments(&[cash(315_00, Some(500_00))], 315_00, false),
            Ok(185_00)
        );
        assert_eq!(
            check_payments(
                &[cash(115_00, None), upi(200_00, Some("UTR1"))],
                315_00,
                false
            ),
            Ok(0)
        );
        let short = check_payments(&[cash(300_00, None)], 315_00, false).unwrap_err();
        assert_eq!(short.code, "payments_do_not_match_total");
        assert_eq!(
            check_payments(&[upi(315_00, None)], 315_00, false)
                .unwrap_err()
                .code,
            "reference_required"
        );
        assert_eq!(
            check_payments(&[cash(315_00, Some(100_00))], 315_00, false)
                .unwrap_err()
                .code,
            "tendered_short"
        );
        // Change is given on cash only: a tendered card payment would show change due.
        let tendered_card = Payment {
            tendered: Some(500_00),
            ..upi(315_00, Some("UTR1"))
        };
        let refused = check_payments(&[tendered_card], 315_00, false).unwrap_err();
        assert_eq!(
            (refused.code, refused.field.as_str()),
            ("tendered_not_cash", "payments[0].tendered_minor")
        );
        let credit = Payment {
            mode: "credit".into(),
            amount: 315_00,
            tendered: None,
            reference: None,
            points: None,
        };
        let loyalty = Payment {
            mode: "loyalty".into(),
            ..credit.clone()
        };
        assert_eq!(
            check_payments(std::slice::from_ref(&loyalty), 315_00, true)
                .unwrap_err()
                .code,
            "points_required"
        );
        assert_eq!(
            check_payments(std::slice::from_ref(&credit), 315_00, false)
                .unwrap_err()
                .code,
            "customer_required"
        );
        assert_eq!(check_payments(&[credit], 315_00, true), Ok(0));
        assert_eq!(
            check_payments(&[], 0, false).unwrap_err().code,
            "no_payments"
        );
    }

    mod invariants {
        use proptest::prelude::*;

        use super::*;

        const SLABS: [u32; 5] = [0, 500, 1200, 1800, 2800];

        fn line() -> impl Strategy<Value = LineInput> {
            (
                1_i64..5_000_000,
                0_i64..10_000_000,
                0_usize..5,
                0_u32..2,
                any::<bool>(),
                0_u32..=100,
            )
                .prop_map(|(milli, unit_price, slab, cess, inclusive, off)| {
                    let quantity = Decimal::new(milli, 3);
                    let gross = bazaar_gst::net(quantity, unit_price, 0).unwrap();
                    LineInput {
                        quantity,
                        unit_price,
                        discount: gross * i64::from(off) / 100,
                        rates: Rates {
                            gst_bp: SLABS[slab],
                            cess_bp: cess * 1200,
                        },
                        inclusive,
                    }
                })
        }

        fn payments_of(total: i64, cuts: &[u8]) -> Vec<Payment> {
            // The total split into as many parts as there are cuts, each part at least 1.
            let mut left = total;
            let mut payments = Vec::new();
            for (n, cut) in cuts.iter().enumerate() {
                let share = if n + 1 == cuts.len() {
                    left
                } else {
                    (left * i64::from(*cut) / 255).clamp(1, (left - 1).max(1))
                };
                if share <= 0 || left - share < 0 {
                    break;
                }
                left -= share;
                payments.push(Payment {
                    mode: ["cash", "card", "upi"][n % 3].into(),
                    amount: share,
                    tendered: None,
                    reference: Some(format!("REF{n}")),
                    points: None,
                });
                if left == 0 {
                    break;
                }
            }
            payments
        }

        proptest! {
            #[test]
            fn a_priced_bill_adds_up_and_is_paid_exactly(
                lines in prop::collection::vec(line(), 1..30),
                bill_off in 0_u32..=100,
                round in any::<bool>(),
                inter in any::<bool>(),
                cuts in prop::collection::vec(any::<u8>(), 1..5),
            ) {
                let supply = if inter { Supply::InterState } else { Supply::IntraState };
                let nets: i64 = lines
                    .iter()
                    .map(|l| bazaar_gst::net(l.quantity, l.unit_price, l.discount).unwrap())
                    .sum();
                let bill = price(&lines, nets * i64::from(bill_off) / 100, supply, round).unwrap();
                let line_taxes: i64 = bill.lines.iter().map(|l| l.tax.tax()).sum();
                let line_taxable: i64 = bill.lines.iter().map(|l| l.tax.taxable).sum();
                prop_assert_eq!(bill.tax, line_taxes);
                prop_assert_eq!(bill.taxable, line_taxable);
                prop_assert_eq!(bill.total, bill.taxable + bill.tax + bill.round_off);
                for (priced, input) in bill.lines.iter().zip(&lines) {
                    prop_assert!(priced.discount <= priced.gross);
                    prop_assert!(priced.discount >= input.discount);
                    prop_assert!(priced.tax.taxable >= 0);
                }
                if bill.total > 0 {
                    let payments = payments_of(bill.total, &cuts);
                    prop_assert_eq!(check_payments(&payments, bill.total, false), Ok(0));
                    let mut over = payments.clone();
                    over[0].amount += 1;
                    prop_assert!(check_payments(&over, bill.total, false).is_err());
                }
            }

            #[test]
            fn returns_in_parts_give_back_exactly_what_was_charged(
                line in line(),
                parts in prop::collection::vec(1_i64..1_000, 1..6),
            ) {
                let bill = price(std::slice::from_ref(&line), 0, Supply::IntraState, false).unwrap();
                let sold_tax = bill.lines[0].tax;
                let sold = line.quantity;
                // Split the quantity sold in proportion to `parts`, to three places; the
                // last return takes what is left, as the till's returns do.
                let weight: i64 = parts.iter().sum();
                let mut already = Decimal::ZERO;
                let mut back = LineTax::default();
                for (n, part) in parts.iter().enumerate() {
                    let quantity = if n + 1 == parts.len() {
                        sold - already
                    } else {
                        (sold * Decimal::from(*part) / Decimal::from(weight)).round_dp(3)
                    };
                    if quantity <= Decimal::ZERO || already + quantity > sold {
                        continue;
                    }
                    let piece = return_of(sold_tax, sold, already, back, quantity);
                    back.taxable += piece.taxable;
                    back.cgst += piece.cgst;
                    back.sgst += piece.sgst;
                    back.igst += piece.igst;
                    back.cess += piece.cess;
                    already += quantity;
                }
                prop_assert_eq!(already, sold);
                prop_assert_eq!(back, sold_tax);
            }

            #[test]
            fn no_amount_wraps_whatever_the_input(
                prices in prop::collection::vec(any::<i64>(), 1..6),
                discount in any::<i64>(),
                amounts in prop::collection::vec(any::<i64>(), 1..6),
            ) {
                let lines: Vec<LineInput> = prices
                    .iter()
                    .map(|p| LineInput {
                        quantity: Decimal::from(7),
                        unit_price: *p,
                        discount: 0,
                        rates: Rates { gst_bp: 2800, cess_bp: 30_000 },
                        inclusive: false,
                    })
                    .collect();
                // Either refused naming a field, or every figure adds up.
                match price(&lines, discount, Supply::IntraState, true) {
                    Ok(bill) => {
                        prop_assert!(bill.total >= 0);
                        prop_assert_eq!(bill.total, bill.taxable + bill.tax + bill.round_off);
                    }
                    Err(refused) => prop_assert!(!refused.field.is_empty()),
                }
                let payments: Vec<Payment> = amounts
                    .iter()
                    .map(|a| Payment {
                        mode: "card".into(),
                        amount: *a,
                        tendered: None,
                        reference: Some("SLIP".into()),
                        points: None,
                    })
                    .collect();
                let wrapped = amounts.iter().fold(0_i64, |s, a| s.wrapping_add(*a));
                if check_payments(&payments, wrapped, false).is_ok() {
                    // Accepted only when the real sum is the total.
                    let real: i128 = amounts.iter().map(|a| i128::from(*a)).sum();
                    prop_assert_eq!(real, i128::from(wrapped));
                }
            }
        }
    }
}
