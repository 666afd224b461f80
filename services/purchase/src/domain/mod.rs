//! Purchase rules without I/O: GST on a purchase line, the receipt tolerance, the
//! three-way match, and how much to reorder.

pub mod purchase_order;

pub use bazaar_gst::LineTax;
use bazaar_gst::{Rates, Supply};
use bazaar_platform::http::PlatformCode;
use bazaar_platform::{
    http::Invalid,
    money::{amount_field, MAX_AMOUNT_MINOR},
};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// How far a receipt may exceed what was ordered: 5 %, for goods sold by weight or
/// packed a little over.
pub const RECEIPT_TOLERANCE_BP: i64 = 500;

/// How far an invoiced unit price may exceed the ordered one before the invoice is held:
/// 1 %.
pub const PRICE_TOLERANCE_BP: i64 = 100;

/// The GST on `quantity` at `unit_price` (minor units, before GST), bought within the
/// vendor's state or across states. The price is bounded and the line's value checked,
/// so a line out of range is a 422 naming `field`'s price or quantity, never a wrap.
pub fn line_tax(
    field: &str,
    quantity: Decimal,
    unit_price: i64,
    gst_rate_bp: i32,
    cess_rate_bp: i32,
    intra_state: bool,
) -> Result<LineTax, Invalid> {
    amount_field(&format!("{field}.unit_price_minor"), unit_price)?;
    let rates = Rates {
        gst_bp: gst_rate_bp.max(0) as u32,
        cess_bp: cess_rate_bp.max(0) as u32,
    };
    let supply = if intra_state {
        Supply::IntraState
    } else {
        Supply::InterState
    };
    let value = bazaar_gst::net(quantity, unit_price, 0)
        .filter(|value| *value <= MAX_AMOUNT_MINOR)
        .ok_or_else(|| {
            Invalid::new(
                format!("{field}.quantity"),
                PlatformCode::AmountTooLarge,
                format!("quantity times price is above {MAX_AMOUNT_MINOR} minor units"),
            )
        })?;
    Ok(bazaar_gst::on_taxable(value, rates, supply))
}

/// The most that may be received of `ordered`, tolerance included.
pub fn receivable(ordered: Decimal) -> Decimal {
    ordered + ordered * Decimal::from(RECEIPT_TOLERANCE_BP) / Decimal::from(10_000)
}

/// Why an invoice line does not match its order and receipts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Mismatch {
    /// The product's SKU.
    pub sku: String,
    /// `price_above_order`, `quantity_above_received`.
    pub code: String,
    /// What differs.
    pub message: String,
}

/// Matches one invoice line: its price against the order's (within
/// [`PRICE_TOLERANCE_BP`]) and its quantity against what was received and not yet
/// invoiced.
pub fn match_line(
    sku: &str,
    invoiced_quantity: Decimal,
    invoiced_price: i64,
    ordered_price: i64,
    uninvoiced: Decimal,
) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    let ceiling = ordered_price + ordered_price * PRICE_TOLERANCE_BP / 10_000;
    if invoiced_price > ceiling {
        mismatches.push(Mismatch {
            sku: sku.to_owned(),
            code: "price_above_order".to_owned(),
            message: format!(
                "invoiced at {invoiced_price}, ordered at {ordered_price} (minor units)"
            ),
        });
    }
    if invoiced_quantity > uninvoiced {
        mismatches.push(Mismatch {
            sku: sku.to_owned(),
            code: "quantity_above_received".to_owned(),
            message: format!(
                "{invoiced_quantity} invoiced, {uninvoiced} received and not yet invoiced"
            ),
        });
    }
    mismatches
}

/// How much to order of a product: enough for `cover_days` of its recent daily sales,
/// and at least back up to twice its reorder level, less what is on hand; rounded up to
/// whole units of `decimals` places.
pub fn suggested_quantity(
    on_hand: Decimal,
    reorder_level: Decimal,
    daily_sales: Decimal,
    cover_days: u32,
    decimals: u32,
) -> Decimal {
    let target = (daily_sales * Decimal::from(cover_days)).max(reorder_level * Decimal::TWO);
    (target - on_hand)
        .max(Decimal::ZERO)
        .round_dp_with_strategy(decimals, RoundingStrategy::AwayFromZero)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn purchase_lines_are_taxed_within_or_across_states() {
        // 12 kg at ₹45.50: ₹546.00 at 5 %: ₹13.65 each way, ₹27.30 across states.
        let intra = line_tax("l", d("12"), 4_550, 500, 0, true).unwrap();
        assert_eq!(
            (intra.taxable, intra.cgst, intra.sgst, intra.igst),
            (54_600, 1_365, 1_365, 0)
        );
        let inter = line_tax("l", d("12"), 4_550, 500, 0, false).unwrap();
        assert_eq!((inter.igst, inter.total()), (2_730, 57_330));
    }

    #[test]
    fn receipts_may_exceed_the_order_by_five_percent() {
        assert_eq!(receivable(d("100")), d("105"));
        assert_eq!(receivable(d("2.5")), d("2.625"));
    }

    #[test]
    fn invoice_lines_match_price_and_quantity() {
        assert!(match_line("RICE", d("10"), 10_100, 10_000, d("10")).is_empty());
        let dear = match_line("RICE", d("10"), 10_101, 10_000, d("10"));
        assert_eq!(dear[0].code, "price_above_order");
        let more = match_line("RICE", d("11"), 9_000, 10_000, d("10"));
        assert_eq!(more.len(), 1);
        assert_eq!(more[0].code, "quantity_above_received");
    }

    #[test]
    fn reorder_covers_recent_sales_or_twice_the_level() {
        // 4 a day for 30 days, 20 on hand: 100.
        assert_eq!(
            suggested_quantity(d("20"), d("10"), d("4"), 30, 0),
            d("100")
        );
        // Slow seller: back up to twice the level.
        assert_eq!(
            suggested_quantity(d("3"), d("10"), d("0.1"), 30, 0),
            d("17")
        );
        // Weighed goods round up to the gram.
        assert_eq!(
            suggested_quantity(d("1.2345"), d("5"), d("0"), 30, 3),
            d("8.766")
        );
        assert_eq!(suggested_quantity(d("50"), d("10"), d("1"), 30, 0), d("0"));
    }
}
