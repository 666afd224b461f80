//! Indian GST on invoice lines, as pure functions over minor units (paise).
//!
//! - Within a state the rate is split into CGST and SGST, each computed at half the rate
//!   and rounded on its own; across states it is IGST. Compensation cess is on top.
//! - An exclusive price is the taxable value; taxes are added.
//! - An inclusive price (MRP) already holds the taxes: the taxable value is backed out
//!   of it, and the line still totals exactly what the customer was quoted.
//! - Discounts come off before tax. A bill discount is shared across lines in proportion
//!   to their value, to the paisa.
//! - Every amount is rounded half away from zero, as GST invoices round.

use rust_decimal::{prelude::ToPrimitive, Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Whether a supply stays within the supplier's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supply {
    /// CGST + SGST.
    IntraState,
    /// IGST.
    InterState,
}

impl Supply {
    /// Intra-state when the supplier's state is the place of supply.
    pub fn between(supplier_state: &str, place_of_supply: &str) -> Self {
        if supplier_state == place_of_supply {
            Supply::IntraState
        } else {
            Supply::InterState
        }
    }
}

/// A product's rates in basis points: GST 18 % is 1800.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// GST: 0, 500, 1200, 1800 or 2800.
    pub gst_bp: u32,
    /// Compensation cess.
    pub cess_bp: u32,
}

/// The taxes of one line, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LineTax {
    /// The value GST is charged on.
    pub taxable: i64,
    /// Central tax, within a state.
    pub cgst: i64,
    /// State tax, within a state.
    pub sgst: i64,
    /// Integrated tax, across states.
    pub igst: i64,
    /// Compensation cess.
    pub cess: i64,
}

impl LineTax {
    /// Every tax of the line.
    pub fn tax(&self) -> i64 {
        self.cgst + self.sgst + self.igst + self.cess
    }

    /// What the line costs the buyer.
    pub fn total(&self) -> i64 {
        self.taxable + self.tax()
    }
}

fn round(value: Decimal) -> i64 {
    value
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i64()
        .unwrap_or(i64::MAX)
}

fn share(amount: i64, basis_points: u32, divisor: u32) -> i64 {
    round(Decimal::from(amount) * Decimal::from(basis_points) / Decimal::from(divisor))
}

/// The taxes on a taxable value.
pub fn on_taxable(taxable: i64, rates: Rates, supply: Supply) -> LineTax {
    let (cgst, sgst, igst) = match supply {
        Supply::IntraState => {
            let half = share(taxable, rates.gst_bp, 20_000);
            (half, half, 0)
        }
        Supply::InterState => (0, 0, share(taxable, rates.gst_bp, 10_000)),
    };
    LineTax {
        taxable,
        cgst,
        sgst,
        igst,
        cess: share(taxable, rates.cess_bp, 10_000),
    }
}

/// The taxes inside a tax-inclusive amount. The taxes are those of the backed-out
/// taxable value; the taxable value then takes whatever paisa rounding left, so the
/// line totals `gross` exactly.
pub fn within(gross: i64, rates: Rates, supply: Supply) -> LineTax {
    let backed_out = round(
        Decimal::from(gross) * Decimal::from(10_000)
            / Decimal::from(10_000 + rates.gst_bp + rates.cess_bp),
    );
    let mut tax = on_taxable(backed_out, rates, supply);
    tax.taxable = gross - (tax.cgst + tax.sgst + tax.igst + tax.cess);
    tax
}

/// A line's value before tax: quantity times unit price, rounded to the paisa, less its
/// discount; `None` when it does not fit in minor units.
pub fn net(quantity: Decimal, unit_price: i64, discount: i64) -> Option<i64> {
    quantity
        .checked_mul(Decimal::from(unit_price))?
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i64()?
        .checked_sub(discount)
}

/// One line's taxes: `amount` is its net value (after discounts), tax-inclusive or not.
pub fn line(amount: i64, inclusive: bool, rates: Rates, supply: Supply) -> LineTax {
    if inclusive {
        within(amount, rates, supply)
    } else {
        on_taxable(amount, rates, supply)
    }
}

/// Shares `amount` across `weights` in proportion, to the unit, the remainder going to
/// the largest fractions (then the earliest lines): how a bill discount spreads over
/// lines. Every share is at most its weight when `amount` is at most their sum; `None`
/// when the weights' sum does not fit in minor units.
pub fn apportion(amount: i64, weights: &[i64]) -> Option<Vec<i64>> {
    let total = weights
        .iter()
        .try_fold(0_i64, |sum, w| sum.checked_add(*w))?;
    if total <= 0 || amount == 0 {
        return Some(vec![0; weights.len()]);
    }
    let exact: Vec<Decimal> = weights
        .iter()
        .map(|w| Decimal::from(amount) * Decimal::from(*w) / Decimal::from(total))
        .collect();
    let mut shares: Vec<i64> = exact
        .iter()
        .map(|e| e.floor().to_i64().unwrap_or(0))
        .collect();
    let mut left = amount - shares.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| {
        (exact[*b] - exact[*b].floor())
            .cmp(&(exact[*a] - exact[*a].floor()))
            .then(a.cmp(b))
    });
    for index in order {
        if left == 0 {
            break;
        }
        shares[index] += 1;
        left -= 1;
    }
    Some(shares)
}

/// The round-off that brings `total` to a whole rupee (100 minor units): between -50 and
/// +49, half a rupee rounding up.
pub fn round_off(total: i64) -> i64 {
    let paise = total.rem_euclid(100);
    if paise >= 50 {
        100 - paise
    } else {
        -paise
    }
}

#[cfg(test)]
// Amounts in paise are written rupees_paise (118_00 is ₹118.00).
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    const FIVE: Rates = Rates {
        gst_bp: 500,
        cess_bp: 0,
    };
    const EIGHTEEN: Rates = Rates {
        gst_bp: 1800,
        cess_bp: 0,
    };

    #[test]
    fn exclusive_prices_at_every_rate_within_and_across_states() {
        // ₹1,000 taxable.
        for (gst_bp, half, whole) in [
            (0, 0, 0),
            (500, 25_00, 50_00),
            (1200, 60_00, 120_00),
            (1800, 90_00, 180_00),
            (2800, 140_00, 280_00),
        ] {
            let rates = Rates { gst_bp, cess_bp: 0 };
            let intra = on_taxable(1_000_00, rates, Supply::IntraState);
            assert_eq!(
                (intra.cgst, intra.sgst, intra.igst),
                (half, half, 0),
                "{gst_bp}"
            );
            let inter = on_taxable(1_000_00, rates, Supply::InterState);
            assert_eq!(
                (inter.cgst, inter.sgst, inter.igst),
                (0, 0, whole),
                "{gst_bp}"
            );
            assert_eq!(intra.total(), inter.total());
        }
        // Halves round on their own: ₹0.75 at 5 % is 1.875 paise each way -> 2 + 2, where
        // IGST is 3.75 -> 4.
        let odd = on_taxable(75, FIVE, Supply::IntraState);
        assert_eq!((odd.cgst, odd.sgst), (2, 2));
        assert_eq!(on_taxable(75, FIVE, Supply::InterState).igst, 4);
    }

    #[test]
    fn inclusive_prices_back_the_tax_out_and_keep_the_total() {
        // An MRP of ₹118 at 18 %: ₹100 + ₹9 + ₹9.
        let tax = within(118_00, EIGHTEEN, Supply::IntraState);
        assert_eq!(
            (tax.taxable, tax.cgst, tax.sgst, tax.total()),
            (100_00, 9_00, 9_00, 118_00)
        );
        // ₹99 at 12 %: 88.392... -> ₹88.39 taxable, 5.30 + 5.30; taxable takes the paisa
        // so the customer pays exactly ₹99.
        let twelve = Rates {
            gst_bp: 1200,
            cess_bp: 0,
        };
        let tax = within(99_00, twelve, Supply::IntraState);
        assert_eq!((tax.taxable, tax.cgst, tax.sgst), (88_40, 5_30, 5_30));
        assert_eq!(tax.total(), 99_00);
        let inter = within(99_00, twelve, Supply::InterState);
        assert_eq!(
            (inter.taxable, inter.igst, inter.total()),
            (88_39, 10_61, 99_00)
        );
    }

    #[test]
    fn cess_comes_on_top_of_gst() {
        // An aerated drink: 28 % + 12 % cess on ₹40 taxable.
        let drink = Rates {
            gst_bp: 2800,
            cess_bp: 1200,
        };
        let tax = on_taxable(40_00, drink, Supply::InterState);
        assert_eq!((tax.igst, tax.cess, tax.total()), (11_20, 4_80, 56_00));
        // The same at an MRP of ₹56: backed out exactly.
        let inside = within(56_00, drink, Supply::IntraState);
        assert_eq!(
            (inside.taxable, inside.cgst, inside.sgst, inside.cess),
            (40_00, 5_60, 5_60, 4_80)
        );
    }

    #[test]
    fn discounts_come_off_before_tax() {
        // 3 x ₹250 less a ₹50 line discount, exclusive at 18 %: tax on ₹700.
        let amount = net(d("3"), 250_00, 50_00).unwrap();
        assert_eq!(amount, 700_00);
        assert_eq!(
            line(amount, false, EIGHTEEN, Supply::IntraState).total(),
            826_00
        );
        // 1.25 kg at ₹79.90: 99.875 -> ₹99.88.
        assert_eq!(net(d("1.25"), 79_90, 0), Some(99_88));
        // Out of range is no value, never a saturated one.
        assert_eq!(net(d("3"), i64::MAX / 2, 0), None);
    }

    #[test]
    fn a_bill_discount_is_shared_to_the_paisa() {
        let shares = |amount, weights: &[i64]| apportion(amount, weights).unwrap();
        assert_eq!(shares(100_00, &[300_00, 700_00]), [30_00, 70_00]);
        // ₹1 over three equal lines: 34 + 33 + 33.
        assert_eq!(shares(100, &[500, 500, 500]), [34, 33, 33]);
        assert_eq!(shares(0, &[1, 2]), [0, 0]);
        assert_eq!(shares(999, &[1_234, 5_678, 91]).iter().sum::<i64>(), 999);
        assert_eq!(apportion(1, &[i64::MAX, 1]), None);
    }

    #[test]
    fn totals_round_off_to_the_rupee() {
        assert_eq!(round_off(1_234_49), -49);
        assert_eq!(round_off(1_234_50), 50);
        assert_eq!(round_off(1_234_99), 1);
        assert_eq!(round_off(1_234_00), 0);
    }
}
