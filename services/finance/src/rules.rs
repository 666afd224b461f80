//! The posting rules: one pure function per event type that moves money, each turning the
//! event's payload into a balanced journal entry by account role. `RULES` lists every
//! event type of the topics finance reads and what it does with it; a type missing from
//! it is an error (the event goes to the DLQ), never silently ignored.

use bazaar_platform::money::checked_sum;
use bazaar_schemas::{events, Event as _};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::chart::Role;

/// What finance does with an event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Posts an entry from the payload.
    Post,
    /// Reverses the entry of the document it names.
    Reverse,
    /// Moves no money, or its money is posted from another event (named in the reason).
    Nothing(&'static str),
    /// Moves no money: master data finance keeps a copy of, to check the ids requests name.
    Record,
}

/// Every event type of the `sales`, `inventory`, `purchase`, `partners`, `finance` and
/// `identity` topics.
pub const RULES: &[(&str, Rule)] = &[
    (events::sales::InvoiceIssued::TYPE, Rule::Post),
    (events::sales::ReturnProcessed::TYPE, Rule::Post),
    (events::sales::InvoiceVoided::TYPE, Rule::Reverse),
    (
        events::sales::BillHeld::TYPE,
        Rule::Nothing("a held bill is not a sale"),
    ),
    (
        events::sales::BillClosed::TYPE,
        Rule::Nothing("a held bill is not a sale"),
    ),
    (
        events::sales::DayClosed::TYPE,
        Rule::Nothing("the Z report summarises invoices already posted"),
    ),
    (events::inventory::StockMoved::TYPE, Rule::Post),
    (events::inventory::SaleCosted::TYPE, Rule::Post),
    (events::inventory::StockAdjusted::TYPE, Rule::Post),
    (
        events::inventory::StockTransferred::TYPE,
        Rule::Nothing("posted from its stock.moved transfer_out movements"),
    ),
    (
        events::inventory::TransferReceived::TYPE,
        Rule::Nothing("posted from its stock.moved transfer_in movements"),
    ),
    (
        events::inventory::CountReconciled::TYPE,
        Rule::Nothing("posted from its stock.moved count_correction movements"),
    ),
    (
        events::inventory::ReservationCreated::TYPE,
        Rule::Nothing("a reservation moves no stock"),
    ),
    (
        events::inventory::ReservationReleased::TYPE,
        Rule::Nothing("a reservation moves no stock"),
    ),
    (events::inventory::LowStock::TYPE, Rule::Nothing("an alert")),
    (
        events::inventory::LocationAdded::TYPE,
        Rule::Nothing("master data"),
    ),
    (
        events::inventory::NegativeStock::TYPE,
        Rule::Nothing("an alert"),
    ),
    (
        events::inventory::BatchExpiring::TYPE,
        Rule::Nothing("an alert; the write-off is an adjustment"),
    ),
    (
        events::purchase::PurchaseOrderCreated::TYPE,
        Rule::Nothing("an order is a commitment, not a transaction"),
    ),
    (
        events::purchase::PurchaseOrderApproved::TYPE,
        Rule::Nothing("an order is a commitment, not a transaction"),
    ),
    (
        events::purchase::PurchaseOrderCancelled::TYPE,
        Rule::Nothing("an order is a commitment, not a transaction"),
    ),
    (
        events::purchase::PurchaseOrderClosed::TYPE,
        Rule::Nothing("an order is a commitment, not a transaction"),
    ),
    (
        events::purchase::GoodsReceived::TYPE,
        Rule::Nothing("posted from inventory's receipt movements, at the cost inventory carries"),
    ),
    (events::purchase::PurchaseInvoiceRecorded::TYPE, Rule::Post),
    (
        events::purchase::PurchaseInvoiceHeld::TYPE,
        Rule::Nothing("booked once approved, as purchase.invoice.recorded"),
    ),
    (events::purchase::PurchaseReturnProcessed::TYPE, Rule::Post),
    (events::partners::PaymentReceived::TYPE, Rule::Post),
    (events::partners::PaymentMade::TYPE, Rule::Post),
    (
        events::partners::CustomerCreated::TYPE,
        Rule::Nothing("master data"),
    ),
    (
        events::partners::CustomerUpdated::TYPE,
        Rule::Nothing("master data"),
    ),
    (
        events::partners::VendorCreated::TYPE,
        Rule::Nothing("master data"),
    ),
    (
        events::partners::VendorUpdated::TYPE,
        Rule::Nothing("master data"),
    ),
    (
        events::partners::LoyaltyEarned::TYPE,
        Rule::Nothing("points are costed when spent, on the invoice they pay"),
    ),
    (
        events::partners::LoyaltyRedeemed::TYPE,
        Rule::Nothing("posted from the invoice the points paid"),
    ),
    // Finance's own topic: the one place a manual entry is on a topic, so a rebuild
    // restates it; entries posted from events are restated from those events.
    (events::finance::EntryPosted::TYPE, Rule::Post),
    (
        events::finance::PeriodClosed::TYPE,
        Rule::Nothing("closing a month is the accountant's act, kept as it was"),
    ),
    // A report or a journal line names a store: one of these.
    (bazaar_platform::stores::OPENED, Rule::Record),
];

/// The rule for `event_type`, if it has one.
pub fn rule(event_type: &str) -> Option<Rule> {
    RULES.iter().find(|(t, _)| *t == event_type).map(|r| r.1)
}

/// One line of an entry being made: an account role, a store, a debit or a credit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The account, by role.
    pub role: Role,
    /// The store dimension; `None` is the head office.
    pub store: Option<Uuid>,
    /// Minor units debited.
    pub debit: i64,
    /// Minor units credited.
    pub credit: i64,
}

/// A journal entry before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    /// The business day it belongs to.
    pub date: NaiveDate,
    /// What happened, for people.
    pub narration: String,
    /// The document: an invoice, credit note, GRN or payment reference.
    pub document: Option<String>,
    /// ISO 4217 code.
    pub currency: String,
    /// Debits and credits.
    pub lines: Vec<Line>,
    /// An amount was given that cannot change sides (`i64::MIN`): the entry is refused.
    overflowed: bool,
}

impl Posting {
    fn new(date: NaiveDate, narration: String, document: Option<String>, currency: &str) -> Self {
        Self {
            date,
            narration,
            document,
            currency: currency.to_owned(),
            lines: Vec::new(),
            overflowed: false,
        }
    }

    /// Debits `amount` to `role` (a negative amount credits it); zero adds nothing.
    pub fn debit(&mut self, role: Role, store: Option<Uuid>, amount: i64) {
        match amount {
            0 => {}
            a if a > 0 => self.lines.push(Line {
                role,
                store,
                debit: a,
                credit: 0,
            }),
            a => match a.checked_neg() {
                Some(credit) => self.lines.push(Line {
                    role,
                    store,
                    debit: 0,
                    credit,
                }),
                None => self.overflowed = true,
            },
        }
    }

    /// Credits `amount` to `role` (a negative amount debits it).
    pub fn credit(&mut self, role: Role, store: Option<Uuid>, amount: i64) {
        match amount.checked_neg() {
            Some(debit) => self.debit(role, store, debit),
            None => self.overflowed = true,
        }
    }

    /// Debits and credits are equal and there are at least two lines; sums that would
    /// not fit balance nothing.
    pub fn balanced(&self) -> bool {
        let debits = checked_sum(self.lines.iter().map(|l| l.debit));
        let credits = checked_sum(self.lines.iter().map(|l| l.credit));
        !self.overflowed && self.lines.len() >= 2 && debits.is_ok() && debits == credits
    }
}

/// An event the rules cannot post.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The amounts of the event do not balance: a bug upstream, for a person to look at.
    #[error("{0}: debits and credits differ")]
    Unbalanced(String),
    /// A payment or refund mode with no account.
    #[error("no account for payment mode {0:?}")]
    UnknownMode(String),
    /// A quantity or cost that is not a decimal.
    #[error("invalid decimal {0:?}")]
    Decimal(String),
    /// A sum or difference of the event's amounts that does not fit in 64 bits.
    #[error("{0} does not fit")]
    Overflow(String),
}

fn checked(posting: Posting) -> Result<Posting, RuleError> {
    if posting.balanced() {
        Ok(posting)
    } else {
        Err(RuleError::Unbalanced(posting.narration))
    }
}

/// The UTC date of a timestamp in milliseconds.
pub(crate) fn day(millis: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .date_naive()
}

/// The account a till's or a partner's payment mode lands in.
pub fn payment_account(mode: &str) -> Result<Role, RuleError> {
    Ok(match mode {
        "cash" => Role::Cash,
        "card" => Role::CardClearing,
        "upi" => Role::UpiClearing,
        "credit" => Role::Receivables,
        "loyalty" => Role::LoyaltyCost,
        "store_credit" => Role::StoreCredit,
        "bank_transfer" | "cheque" => Role::Bank,
        other => return Err(RuleError::UnknownMode(other.to_owned())),
    })
}

/// Taxes of a line, as the sales and purchase events carry them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Taxes {
    /// Value GST is charged on.
    pub taxable_minor: i64,
    /// Central tax.
    pub cgst_minor: i64,
    /// State tax.
    pub sgst_minor: i64,
    /// Integrated tax.
    pub igst_minor: i64,
    /// Cess.
    pub cess_minor: i64,
}

impl Taxes {
    /// The lines' taxes added up; a sum that does not fit is refused, never wrapped.
    pub fn sum<'a, L: Taxed + 'a>(
        lines: impl IntoIterator<Item = &'a L>,
    ) -> Result<Taxes, RuleError> {
        let mut sum = Taxes::default();
        for line in lines {
            let t = line.taxes();
            sum = Taxes {
                taxable_minor: add(sum.taxable_minor, t.taxable_minor)?,
                cgst_minor: add(sum.cgst_minor, t.cgst_minor)?,
                sgst_minor: add(sum.sgst_minor, t.sgst_minor)?,
                igst_minor: add(sum.igst_minor, t.igst_minor)?,
                cess_minor: add(sum.cess_minor, t.cess_minor)?,
            };
        }
        Ok(sum)
    }

    /// Taxable value and every tax.
    pub fn total(&self) -> Result<i64, RuleError> {
        checked_sum([
            self.taxable_minor,
            self.cgst_minor,
            self.sgst_minor,
            self.igst_minor,
            self.cess_minor,
        ])
        .map_err(|_| RuleError::Overflow("a document's taxes".to_owned()))
    }
}

fn add(a: i64, b: i64) -> Result<i64, RuleError> {
    a.checked_add(b)
        .ok_or_else(|| RuleError::Overflow(format!("{a} + {b}")))
}

fn sub(a: i64, b: i64) -> Result<i64, RuleError> {
    a.checked_sub(b)
        .ok_or_else(|| RuleError::Overflow(format!("{a} - {b}")))
}

/// A document line that carries GST: the lines of invoices, returns and debit notes.
pub trait Taxed {
    /// Its taxable value and taxes.
    fn taxes(&self) -> Taxes;
}

macro_rules! taxed {
    ($($line:ty),* $(,)?) => {$(
        impl Taxed for $line {
            fn taxes(&self) -> Taxes {
                Taxes {
                    taxable_minor: self.taxable_minor,
                    cgst_minor: self.cgst_minor,
                    sgst_minor: self.sgst_minor,
                    igst_minor: self.igst_minor,
                    cess_minor: self.cess_minor,
                }
            }
        }
    )*};
}

taxed!(
    events::sales::InvoiceIssuedInvoiceLine,
    events::sales::ReturnProcessedReturnLine,
    events::purchase::PurchaseInvoiceRecordedPurchaseInvoiceLine,
    events::purchase::PurchaseReturnProcessedPurchaseReturnLine,
);

/// A sale: what was paid (cash, card and UPI to settle, credit to receivables, points at
/// their cost) against sales at taxable value, the output taxes and the round-off.
pub fn invoice_issued(i: &events::sales::InvoiceIssued) -> Result<Posting, RuleError> {
    let store = Some(i.store_id);
    let mut p = Posting::new(
        day(i.issued_at),
        format!("Sales invoice {}", i.invoice_number),
        Some(i.invoice_number.clone()),
        &i.currency,
    );
    for paid in &i.payments {
        p.debit(payment_account(&paid.mode)?, store, paid.amount_minor);
    }
    let taxes = Taxes::sum(&i.lines)?;
    p.credit(Role::Sales, store, taxes.taxable_minor);
    output_taxes(&mut p, store, &taxes, Side::Charged);
    p.credit(Role::RoundOff, store, i.round_off_minor);
    checked(p)
}

/// Whether a document charges its taxes or gives them back.
#[derive(Clone, Copy)]
enum Side {
    Charged,
    GivenBack,
}

fn output_taxes(p: &mut Posting, store: Option<Uuid>, taxes: &Taxes, side: Side) {
    let lines = [
        (Role::OutputCgst, taxes.cgst_minor),
        (Role::OutputSgst, taxes.sgst_minor),
        (Role::OutputIgst, taxes.igst_minor),
        (Role::OutputCess, taxes.cess_minor),
    ];
    for (role, amount) in lines {
        match side {
            Side::Charged => p.credit(role, store, amount),
            Side::GivenBack => p.debit(role, store, amount),
        }
    }
}

fn input_taxes(p: &mut Posting, taxes: &Taxes, side: Side) {
    let lines = [
        (Role::InputCgst, taxes.cgst_minor),
        (Role::InputSgst, taxes.sgst_minor),
        (Role::InputIgst, taxes.igst_minor),
        (Role::InputCess, taxes.cess_minor),
    ];
    for (role, amount) in lines {
        match side {
            Side::Charged => p.debit(role, None, amount),
            Side::GivenBack => p.credit(role, None, amount),
        }
    }
}

/// A return: sales returns at taxable value and the output taxes given back, against the
/// refund (or the customer's balance, or store credit).
pub fn return_processed(r: &events::sales::ReturnProcessed) -> Result<Posting, RuleError> {
    let store = Some(r.store_id);
    let mut p = Posting::new(
        day(r.processed_at),
        format!("Credit note {}", r.credit_note_number),
        Some(r.credit_note_number.clone()),
        &r.currency,
    );
    let taxes = Taxes::sum(&r.lines)?;
    p.debit(Role::SalesReturns, store, taxes.taxable_minor);
    output_taxes(&mut p, store, &taxes, Side::GivenBack);
    p.debit(Role::RoundOff, store, sub(r.total_minor, taxes.total()?)?);
    p.credit(payment_account(&r.refund_mode)?, store, r.total_minor);
    checked(p)
}

/// A sale's cost of goods sold, once per invoice: what its movements took out of stock
/// at the moving average, each rounded to the minor unit as the stock ledger values it.
pub fn sale_costed(c: &events::inventory::SaleCosted) -> Result<Option<Posting>, RuleError> {
    let mut p = Posting::new(
        day(c.costed_at),
        format!("Cost of goods sold on invoice {}", c.invoice_number),
        Some(c.invoice_number.clone()),
        &c.currency,
    );
    p.debit(Role::CostOfGoodsSold, c.store_id, c.cost_minor);
    p.credit(Role::Inventory, c.store_id, c.cost_minor);
    if p.lines.is_empty() {
        return Ok(None); // goods at no cost move no money
    }
    checked(p).map(Some)
}

pub use bazaar_platform::money::value_minor;

fn decimal(text: &str) -> Result<Decimal, RuleError> {
    text.parse()
        .map_err(|_| RuleError::Decimal(text.to_owned()))
}

/// A stock movement at the cost inventory carries: sales and returns to cost of goods
/// sold (a sale's movements since `inventory.sale.costed`: from it, once per invoice),
/// goods receipts to goods received not invoiced, transfers through stock in
/// transit, count corrections to shrinkage, goods sent back to the vendor against goods
/// received not invoiced. Adjustments are posted from `inventory.stock.adjusted`, which
/// carries the reason.
pub fn stock_moved(m: &events::inventory::StockMoved) -> Result<Option<Posting>, RuleError> {
    if m.costed_by.is_some() {
        return Ok(None); // posted with its document's other movements
    }
    let quantity = decimal(&m.quantity)?;
    // The counter-account takes the movement at its price (a receipt as the vendor will
    // bill it); inventory moves by the ledger's own value, which differs by the remainder
    // an emptied item leaves or the revaluation of stock sold short, and cost of goods
    // sold absorbs that difference.
    let priced = value_minor(quantity, decimal(&m.unit_cost_minor)?);
    let value = m.value_minor.unwrap_or(priced);
    let against = match (m.kind.as_str(), m.reference_type.as_deref()) {
        ("sale" | "return", _) => Role::CostOfGoodsSold,
        ("receipt", Some("purchase.grn")) => Role::GoodsReceivedNotInvoiced,
        ("purchase_return", _) => Role::GoodsReceivedNotInvoiced,
        ("transfer_out" | "transfer_in", _) => Role::StockInTransit,
        ("count_correction", _) => Role::Shrinkage,
        // Opening stock and adjustments: from inventory.stock.adjusted.
        _ => return Ok(None),
    };
    let mut p = Posting::new(
        day(m.recorded_at),
        format!(
            "Stock {} of {} {}",
            m.kind.replace('_', " "),
            m.quantity.trim_start_matches('-'),
            m.sku
        ),
        None,
        &m.currency,
    );
    p.debit(Role::Inventory, m.store_id, value);
    if against == Role::CostOfGoodsSold {
        p.credit(against, m.store_id, value);
    } else {
        p.credit(against, m.store_id, priced);
        p.credit(Role::CostOfGoodsSold, m.store_id, sub(value, priced)?);
    }
    if p.lines.is_empty() {
        return Ok(None); // stock at no cost moves no money
    }
    checked(p).map(Some)
}

/// An adjustment: write-offs (and stock found) through shrinkage; opening stock against
/// capital.
pub fn stock_adjusted(a: &events::inventory::StockAdjusted) -> Result<Option<Posting>, RuleError> {
    let against = if a.reason == "opening_stock" {
        Role::Capital
    } else {
        Role::Shrinkage
    };
    let mut p = Posting::new(
        day(a.adjusted_at),
        format!(
            "Stock {} of {} {}",
            a.reason.replace('_', " "),
            a.quantity,
            a.sku
        ),
        None,
        &a.currency,
    );
    p.debit(Role::Inventory, a.store_id, a.value_minor);
    p.credit(against, a.store_id, a.value_minor);
    if p.lines.is_empty() {
        return Ok(None);
    }
    checked(p).map(Some)
}

/// A vendor's invoice: goods received not invoiced cleared at taxable value and the input
/// taxes, against what the vendor is owed.
pub fn purchase_invoice(
    i: &events::purchase::PurchaseInvoiceRecorded,
) -> Result<Posting, RuleError> {
    let date = i
        .invoice_date
        .parse()
        .map_err(|_| RuleError::Decimal(i.invoice_date.clone()))?;
    let mut p = Posting::new(
        date,
        format!("Purchase invoice {}", i.vendor_invoice_number),
        Some(i.vendor_invoice_number.clone()),
        &i.currency,
    );
    let taxes = Taxes::sum(&i.lines)?;
    // Goods received not invoiced holds the goods at what they cost when received; the
    // vendor's price differs by the purchase price variance. Invoices from before lines
    // carried the received value clear it at the taxable value.
    let received: Option<Vec<i64>> = i.lines.iter().map(|l| l.received_value_minor).collect();
    let received = match received {
        Some(values) => {
            checked_sum(values).map_err(|_| RuleError::Overflow("the value received".to_owned()))?
        }
        None => taxes.taxable_minor,
    };
    p.debit(Role::GoodsReceivedNotInvoiced, None, received);
    p.debit(
        Role::PurchasePriceVariance,
        None,
        sub(taxes.taxable_minor, received)?,
    );
    input_taxes(&mut p, &taxes, Side::Charged);
    p.debit(Role::RoundOff, None, sub(i.total_minor, taxes.total()?)?);
    p.credit(Role::Payables, None, i.total_minor);
    checked(p)
}

/// A debit note: what the vendor is owed goes down by the total, against goods received
/// not invoiced (the stock left through it) and the input taxes reversed.
pub fn purchase_return(
    r: &events::purchase::PurchaseReturnProcessed,
) -> Result<Posting, RuleError> {
    let mut p = Posting::new(
        day(r.returned_at),
        format!("Debit note {}", r.debit_note_number),
        Some(r.debit_note_number.clone()),
        &r.currency,
    );
    let taxes = Taxes::sum(&r.lines)?;
    p.debit(Role::Payables, None, r.total_minor);
    p.credit(Role::GoodsReceivedNotInvoiced, None, taxes.taxable_minor);
    input_taxes(&mut p, &taxes, Side::GivenBack);
    p.credit(Role::RoundOff, None, sub(r.total_minor, taxes.total()?)?);
    checked(p)
}

/// A payment between the tenant and a partner, either way: both events carry these facts.
struct Payment<'a> {
    payment_id: Uuid,
    amount_minor: i64,
    currency: &'a str,
    mode: &'a str,
    reference: Option<&'a str>,
    paid_on: &'a str,
}

fn payment(pay: Payment<'_>, narration: &str, received: bool) -> Result<Posting, RuleError> {
    let date = pay
        .paid_on
        .parse()
        .map_err(|_| RuleError::Decimal(pay.paid_on.to_owned()))?;
    let document = pay
        .reference
        .map(str::to_owned)
        .or_else(|| Some(pay.payment_id.to_string()));
    let mut p = Posting::new(date, narration.to_owned(), document, pay.currency);
    let account = payment_account(pay.mode)?;
    if received {
        p.debit(account, None, pay.amount_minor);
        p.credit(Role::Receivables, None, pay.amount_minor);
    } else {
        p.debit(Role::Payables, None, pay.amount_minor);
        p.credit(account, None, pay.amount_minor);
    }
    checked(p)
}

/// A customer paid: cash or bank against receivables.
pub fn payment_received(pay: &events::partners::PaymentReceived) -> Result<Posting, RuleError> {
    let facts = Payment {
        payment_id: pay.payment_id,
        amount_minor: pay.amount_minor,
        currency: &pay.currency,
        mode: &pay.mode,
        reference: pay.reference.as_deref(),
        paid_on: &pay.paid_on,
    };
    payment(facts, "Payment received from a customer", true)
}

/// A vendor was paid: payables against cash or bank.
pub fn payment_made(pay: &events::partners::PaymentMade) -> Result<Posting, RuleError> {
    let facts = Payment {
        payment_id: pay.payment_id,
        amount_minor: pay.amount_minor,
        currency: &pay.currency,
        mode: &pay.mode,
        reference: pay.reference.as_deref(),
        paid_on: &pay.paid_on,
    };
    payment(facts, "Payment made to a vendor", false)
}

#[cfg(test)]
mod tests {
    use super::*;

    use bazaar_schemas::{events::inventory::*, events::partners::*, events::purchase::*, sample};
    use events::sales::{InvoiceIssued, InvoiceIssuedPayment, ReturnProcessed};

    /// A line of any taxed document with these taxes: each line type reads the fields it
    /// has from the same facts.
    fn taxed<L: serde::de::DeserializeOwned>(t: &Taxes) -> L {
        serde_json::from_value(serde_json::json!({
            "line_no": 1, "product_id": Uuid::nil(), "sku": "SOAP-1", "quantity": "1",
            "batch": "", "restock": true, "unit_price_minor": t.taxable_minor,
            "unit_cost_minor": t.taxable_minor, "discount_minor": 0,
            "taxable_minor": t.taxable_minor, "gst_rate_bp": 0, "cgst_minor": t.cgst_minor,
            "sgst_minor": t.sgst_minor, "igst_minor": t.igst_minor, "cess_minor": t.cess_minor,
            "total_minor": 0,
        }))
        .unwrap()
    }

    fn line<L: serde::de::DeserializeOwned>(taxable: i64, cgst: i64, sgst: i64, igst: i64) -> L {
        taxed(&Taxes {
            taxable_minor: taxable,
            cgst_minor: cgst,
            sgst_minor: sgst,
            igst_minor: igst,
            cess_minor: 0,
        })
    }

    fn lines<L: serde::de::DeserializeOwned>(taxes: &[Taxes]) -> Vec<L> {
        taxes.iter().map(taxed).collect()
    }

    fn paid(mode: &str, amount_minor: i64) -> InvoiceIssuedPayment {
        InvoiceIssuedPayment {
            mode: mode.into(),
            amount_minor,
            reference: None,
            tendered_minor: None,
            points: None,
        }
    }

    fn amounts(p: &Posting) -> Vec<(Role, i64, i64)> {
        p.lines
            .iter()
            .map(|l| (l.role, l.debit, l.credit))
            .collect()
    }

    const MILLIS: i64 = 1_795_000_000_000; // 2026-11-18

    #[test]
    fn a_sale_paid_three_ways_credits_sales_taxes_and_round_off() {
        // ₹254.24 + ₹22.88 + ₹22.88 at 18 % and ₹99.90 + ₹2.50 + ₹2.50 at 5 %: ₹404.90,
        // rounded up by ₹0.10 to ₹405, paid ₹200 cash, ₹150 UPI and ₹55 on credit.
        let store = Uuid::nil();
        let issued = InvoiceIssued {
            invoice_number: "BLR1T126000001".into(),
            store_id: store,
            currency: "INR".into(),
            lines: vec![line(25_424, 2_288, 2_288, 0), line(9_990, 250, 250, 0)],
            payments: vec![
                paid("cash", 20_000),
                paid("upi", 15_000),
                paid("credit", 5_500),
            ],
            round_off_minor: 10,
            total_minor: 40_500,
            issued_at: MILLIS,
            ..sample()
        };
        let p = invoice_issued(&issued).unwrap();
        assert_eq!(
            amounts(&p),
            vec![
                (Role::Cash, 20_000, 0),
                (Role::UpiClearing, 15_000, 0),
                (Role::Receivables, 5_500, 0),
                (Role::Sales, 0, 35_414),
                (Role::OutputCgst, 0, 2_538),
                (Role::OutputSgst, 0, 2_538),
                (Role::RoundOff, 0, 10),
            ]
        );
        assert_eq!(p.date.to_string(), "2026-11-18");
        assert!(p.lines.iter().all(|l| l.store == Some(store)));
    }

    #[test]
    fn payments_that_do_not_match_the_lines_are_refused() {
        let issued = InvoiceIssued {
            invoice_number: "X".into(),
            currency: "INR".into(),
            lines: vec![line(10_000, 900, 900, 0)],
            payments: vec![paid("cash", 11_700)],
            round_off_minor: 0,
            total_minor: 11_700,
            issued_at: MILLIS,
            ..sample()
        };
        assert!(matches!(
            invoice_issued(&issued),
            Err(RuleError::Unbalanced(_))
        ));
        let mut barter = issued;
        barter.payments = vec![paid("barter", 11_800)];
        assert!(matches!(
            invoice_issued(&barter),
            Err(RuleError::UnknownMode(_))
        ));
    }

    #[test]
    fn amounts_that_do_not_fit_are_refused_never_wrapped() {
        // Two lines whose taxable values add up past i64: a bad event, dead-lettered.
        let issued = InvoiceIssued {
            currency: "INR".into(),
            lines: vec![line(i64::MAX, 0, 0, 0), line(1, 0, 0, 0)],
            payments: vec![paid("cash", 1)],
            ..sample()
        };
        assert!(matches!(
            invoice_issued(&issued),
            Err(RuleError::Overflow(_))
        ));
        // An amount with no opposite cannot change sides: the entry does not balance.
        let mut p = Posting::new(NaiveDate::MIN, "x".into(), None, "INR");
        p.credit(Role::Cash, None, i64::MIN);
        p.debit(Role::Sales, None, 1);
        p.credit(Role::Bank, None, 1);
        assert!(!p.balanced());
        // A refund far beyond its taxes: the round-off does not fit.
        let r = ReturnProcessed {
            currency: "INR".into(),
            lines: vec![line(-1, 0, 0, 0)],
            refund_mode: "cash".into(),
            total_minor: i64::MAX,
            ..sample()
        };
        assert!(matches!(return_processed(&r), Err(RuleError::Overflow(_))));
    }

    #[test]
    fn an_inter_state_return_gives_back_igst_and_refunds_store_credit() {
        let r = ReturnProcessed {
            credit_note_number: "BLR1C26000001".into(),
            currency: "INR".into(),
            lines: vec![line(10_000, 0, 0, 1_800)],
            refund_mode: "store_credit".into(),
            total_minor: 11_800,
            processed_at: MILLIS,
            ..sample()
        };
        assert_eq!(
            amounts(&return_processed(&r).unwrap()),
            vec![
                (Role::SalesReturns, 10_000, 0),
                (Role::OutputIgst, 1_800, 0),
                (Role::StoreCredit, 0, 11_800),
            ]
        );
    }

    fn moved(kind: &str, quantity: &str, cost: &str, reference: Option<&str>) -> StockMoved {
        StockMoved {
            sku: "SOAP-1".into(),
            kind: kind.into(),
            quantity: quantity.into(),
            unit_cost_minor: cost.into(),
            currency: "INR".into(),
            reference_type: reference.map(str::to_owned),
            store_id: None,
            costed_by: None,
            value_minor: None,
            recorded_at: MILLIS,
            ..sample()
        }
    }

    #[test]
    fn a_receipt_into_negative_stock_posts_the_shortfall_s_revaluation() {
        // 15 received at ₹15 into -10 carried at ₹10: the vendor bills ₹225, stock rises
        // by ₹175 (to 5 at ₹15), and the ₹50 the short units really cost goes to COGS.
        let receipt = StockMoved {
            value_minor: Some(17_500),
            ..moved("receipt", "15", "1500", Some("purchase.grn"))
        };
        assert_eq!(
            amounts(&stock_moved(&receipt).unwrap().unwrap()),
            vec![
                (Role::Inventory, 17_500, 0),
                (Role::GoodsReceivedNotInvoiced, 0, 22_500),
                (Role::CostOfGoodsSold, 5_000, 0),
            ]
        );
        // The last unit out of a transfer takes the paisa the average left behind.
        let emptied = StockMoved {
            value_minor: Some(-18_334),
            ..moved("transfer_out", "-1", "18333.3333", Some("transfer"))
        };
        assert_eq!(
            amounts(&stock_moved(&emptied).unwrap().unwrap()),
            vec![
                (Role::Inventory, 0, 18_334),
                (Role::StockInTransit, 18_333, 0),
                (Role::CostOfGoodsSold, 1, 0),
            ]
        );
    }

    #[test]
    fn a_sale_is_costed_once_per_invoice_not_per_movement() {
        let costed = SaleCosted {
            invoice_number: "BLR1T126000001".into(),
            store_id: None,
            currency: "INR".into(),
            cost_minor: 10_000,
            costed_at: MILLIS,
            ..sample()
        };
        let entry = sale_costed(&costed).unwrap().unwrap();
        assert_eq!(entry.document.as_deref(), Some("BLR1T126000001"));
        assert_eq!(
            amounts(&entry),
            vec![
                (Role::CostOfGoodsSold, 10_000, 0),
                (Role::Inventory, 0, 10_000)
            ]
        );
        // Its movements post nothing of their own; a free sale posts nothing at all.
        let movement = StockMoved {
            costed_by: Some(SaleCosted::TYPE.into()),
            ..moved("sale", "-3", "3333.3333", Some("sales.invoice"))
        };
        assert_eq!(stock_moved(&movement).unwrap(), None);
        let free = SaleCosted {
            cost_minor: 0,
            ..costed
        };
        assert_eq!(sale_costed(&free).unwrap(), None);
    }

    #[test]
    fn stock_moves_and_write_offs_are_posted_at_their_store() {
        let store = Some(Uuid::from_u128(7));
        let sale = stock_moved(&StockMoved {
            store_id: store,
            ..moved("sale", "-2", "5000", Some("sales.invoice"))
        })
        .unwrap()
        .unwrap();
        assert!(sale.lines.iter().all(|l| l.store == store), "{sale:?}");
        let damage = stock_adjusted(&StockAdjusted {
            sku: "SOAP-1".into(),
            reason: "damage".into(),
            quantity: "1".into(),
            currency: "INR".into(),
            value_minor: -50_00,
            store_id: store,
            adjusted_at: MILLIS,
            ..sample()
        })
        .unwrap()
        .unwrap();
        assert!(damage.lines.iter().all(|l| l.store == store), "{damage:?}");
    }

    #[test]
    fn stock_movements_post_at_cost_by_kind() {
        // Three soaps sold at a moving average of ₹33.3333: ₹100.00.
        let sale = stock_moved(&moved("sale", "-3", "3333.3333", Some("sales.invoice")))
            .unwrap()
            .unwrap();
        assert_eq!(
            amounts(&sale),
            vec![
                (Role::Inventory, 0, 10_000),
                (Role::CostOfGoodsSold, 10_000, 0)
            ]
        );
        let receipt = stock_moved(&moved("receipt", "10", "5000", Some("purchase.grn")))
            .unwrap()
            .unwrap();
        assert_eq!(
            amounts(&receipt),
            vec![
                (Role::Inventory, 50_000, 0),
                (Role::GoodsReceivedNotInvoiced, 0, 50_000)
            ]
        );
        let lost = stock_moved(&moved("count_correction", "-1", "5000", Some("count")))
            .unwrap()
            .unwrap();
        assert_eq!(
            amounts(&lost),
            vec![(Role::Inventory, 0, 5_000), (Role::Shrinkage, 5_000, 0)]
        );
        let out = stock_moved(&moved("transfer_out", "-2", "5000", Some("transfer")))
            .unwrap()
            .unwrap();
        assert_eq!(
            amounts(&out),
            vec![
                (Role::Inventory, 0, 10_000),
                (Role::StockInTransit, 10_000, 0)
            ]
        );
        let back = stock_moved(&moved(
            "purchase_return",
            "-2",
            "5000",
            Some("purchase.return"),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            amounts(&back),
            vec![
                (Role::Inventory, 0, 10_000),
                (Role::GoodsReceivedNotInvoiced, 10_000, 0)
            ]
        );
        // Posted from inventory.stock.adjusted instead; and stock at no cost moves no money.
        assert_eq!(
            stock_moved(&moved("adjustment", "-1", "5000", Some("adjustment"))).unwrap(),
            None
        );
        assert_eq!(
            stock_moved(&moved("receipt", "5", "5000", Some("adjustment"))).unwrap(),
            None
        );
        assert_eq!(
            stock_moved(&moved("sale", "-1", "0", Some("sales.invoice"))).unwrap(),
            None
        );
    }

    #[test]
    fn write_offs_go_to_shrinkage_and_opening_stock_to_capital() {
        let adjusted = |reason: &str, value| StockAdjusted {
            sku: "MILK-1".into(),
            reason: reason.into(),
            quantity: "4".into(),
            currency: "INR".into(),
            value_minor: value,
            store_id: None,
            adjusted_at: MILLIS,
            ..sample()
        };
        let expired = stock_adjusted(&adjusted("expiry_write_off", -12_000))
            .unwrap()
            .unwrap();
        assert_eq!(
            amounts(&expired),
            vec![(Role::Inventory, 0, 12_000), (Role::Shrinkage, 12_000, 0)]
        );
        let opening = stock_adjusted(&adjusted("opening_stock", 80_000))
            .unwrap()
            .unwrap();
        assert_eq!(
            amounts(&opening),
            vec![(Role::Inventory, 80_000, 0), (Role::Capital, 0, 80_000)]
        );
    }

    #[test]
    fn a_vendor_invoice_clears_grni_and_claims_input_tax_and_a_debit_note_reverses_it() {
        let invoice = PurchaseInvoiceRecorded {
            vendor_invoice_number: "AF/2026/118".into(),
            invoice_date: "2026-11-18".into(),
            currency: "INR".into(),
            lines: vec![line(50_000, 0, 0, 9_000)],
            total_minor: 59_000,
            ..sample()
        };
        assert_eq!(
            amounts(&purchase_invoice(&invoice).unwrap()),
            vec![
                (Role::GoodsReceivedNotInvoiced, 50_000, 0),
                (Role::InputIgst, 9_000, 0),
                (Role::Payables, 0, 59_000),
            ]
        );
        // Received at ₹490, billed at ₹500: ₹10 of price variance; billed below what
        // was received, the variance is a credit.
        for (received, variance) in [(49_000, (1_000, 0)), (51_000, (0, 1_000))] {
            let mut dearer = PurchaseInvoiceRecorded {
                lines: vec![line(50_000, 0, 0, 9_000)],
                ..invoice.clone()
            };
            dearer.lines[0].received_value_minor = Some(received);
            assert_eq!(
                amounts(&purchase_invoice(&dearer).unwrap()),
                vec![
                    (Role::GoodsReceivedNotInvoiced, received, 0),
                    (Role::PurchasePriceVariance, variance.0, variance.1),
                    (Role::InputIgst, 9_000, 0),
                    (Role::Payables, 0, 59_000),
                ]
            );
        }
        let debit_note = PurchaseReturnProcessed {
            debit_note_number: "DN-000001".into(),
            currency: "INR".into(),
            lines: vec![line(10_000, 0, 0, 1_800)],
            total_minor: 11_800,
            returned_at: MILLIS,
            ..sample()
        };
        assert_eq!(
            amounts(&purchase_return(&debit_note).unwrap()),
            vec![
                (Role::Payables, 11_800, 0),
                (Role::GoodsReceivedNotInvoiced, 0, 10_000),
                (Role::InputIgst, 0, 1_800),
            ]
        );
    }

    #[test]
    fn payments_move_cash_or_bank_against_the_partner_account() {
        let received = PaymentReceived {
            amount_minor: 5_500,
            currency: "INR".into(),
            mode: "cash".into(),
            reference: Some("UTR123".into()),
            paid_on: "2026-11-18".into(),
            ..sample()
        };
        assert_eq!(
            amounts(&payment_received(&received).unwrap()),
            vec![(Role::Cash, 5_500, 0), (Role::Receivables, 0, 5_500)]
        );
        let made = PaymentMade {
            amount_minor: 5_500,
            currency: "INR".into(),
            mode: "bank_transfer".into(),
            reference: Some("UTR123".into()),
            paid_on: "2026-11-18".into(),
            ..sample()
        };
        assert_eq!(
            amounts(&payment_made(&made).unwrap()),
            vec![(Role::Payables, 5_500, 0), (Role::Bank, 0, 5_500)]
        );
    }

    proptest::proptest! {
        /// Whatever valid documents arrive, each entry balances and so does the ledger.
        #[test]
        fn any_valid_documents_post_balanced_entries(
            documents in proptest::collection::vec(
                (
                    proptest::collection::vec((0i64..5_000_000, 0i64..500_000, 0i64..500_000, 0i64..900_000, 0i64..200_000), 1..8),
                    -49i64..=49,
                    proptest::collection::vec(0usize..6, 1..4),
                    0usize..4,
                    -5_000i64..5_000,
                ),
                1..20,
            )
        ) {
            const MODES: [&str; 6] = ["cash", "card", "upi", "credit", "loyalty", "store_credit"];
            let (mut debits, mut credits) = (0i64, 0i64);
            for (taxes, round_off, modes, kind, quantity) in documents {
                let taxes: Vec<Taxes> = taxes
                    .iter()
                    .map(|&(taxable, cgst, sgst, igst, cess)| Taxes { taxable_minor: taxable, cgst_minor: cgst, sgst_minor: sgst, igst_minor: igst, cess_minor: cess })
                    .collect();
                let total = taxes.iter().map(|t| t.total().unwrap()).sum::<i64>() + round_off;
                let posting = match kind {
                    0 => {
                        // The total split across the chosen modes, the last taking the rest.
                        let share = total / modes.len() as i64;
                        let payments = modes
                            .iter()
                            .enumerate()
                            .map(|(n, m)| paid(MODES[*m], if n + 1 == modes.len() { total - share * n as i64 } else { share }))
                            .collect();
                        invoice_issued(&InvoiceIssued {
                            invoice_number: "N".into(), currency: "INR".into(), lines: lines(&taxes), payments,
                            round_off_minor: round_off, total_minor: total, issued_at: MILLIS, ..sample()
                        })
                    }
                    1 => return_processed(&ReturnProcessed {
                        credit_note_number: "C".into(), currency: "INR".into(), lines: lines(&taxes),
                        refund_mode: MODES[modes[0]].replace("loyalty", "cash"), total_minor: total, processed_at: MILLIS,
                        ..sample()
                    }),
                    2 => purchase_invoice(&PurchaseInvoiceRecorded {
                        vendor_invoice_number: "V".into(), invoice_date: "2026-11-18".into(), currency: "INR".into(),
                        lines: lines(&taxes), total_minor: total, ..sample()
                    }),
                    _ => stock_moved(&moved("sale", &quantity.to_string(), "3333.3333", Some("sales.invoice")))
                        .map(|p| p.unwrap_or_else(|| Posting::new(NaiveDate::MIN, String::new(), None, "INR"))),
                };
                let posting = posting.unwrap();
                if posting.lines.is_empty() {
                    continue; // nothing to post: a zero document
                }
                proptest::prop_assert!(posting.balanced(), "{posting:?}");
                proptest::prop_assert!(posting.lines.iter().all(|l| (l.debit > 0) != (l.credit > 0)));
                debits += posting.lines.iter().map(|l| l.debit).sum::<i64>();
                credits += posting.lines.iter().map(|l| l.credit).sum::<i64>();
            }
            proptest::prop_assert_eq!(debits, credits);
        }
    }

    #[test]
    fn every_event_type_of_the_topics_read_has_a_rule_and_every_rule_a_schema() {
        let catalogue = bazaar_schemas::Catalogue::embedded();
        for schema in catalogue.iter() {
            if crate::ledger::DOMAINS.contains(&schema.domain()) {
                assert!(
                    rule(&schema.event_type).is_some(),
                    "{} has no rule",
                    schema.event_type
                );
            }
        }
        for (event_type, _) in RULES {
            assert!(catalogue.get(event_type, 1).is_ok(), "{event_type}");
        }
    }
}
