//! The purchase order: its lifecycle as commands decided into events and events applied
//! to its state. No I/O: the store loads and saves it, the handlers parse requests.
//!
//! ```text
//! draft --approve--> approved --receive--> partially_received --receive--> received
//!   |                   |                        |
//!   +----cancel---------+                        +--close--> closed
//!   v
//! cancelled
//! ```

use bazaar_platform::http::{PlatformCode, ProblemCode};
use bazaar_platform::{
    http::Invalid,
    money::{sum_field, Quantity, Sign},
};
use bazaar_schemas::events::purchase::{
    GoodsReceived, GoodsReceivedGrnLine, PurchaseOrderApproved, PurchaseOrderCancelled,
    PurchaseOrderClosed, PurchaseOrderCreated, PurchaseOrderCreatedOrderLine,
};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{receivable, LineTax};
use crate::Code;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Written, not yet approved: nothing may be received.
    Draft,
    /// Goods may be received against it.
    Approved,
    /// Some goods arrived; more may.
    PartiallyReceived,
    /// Every line arrived in full.
    Received,
    /// Partly received, and the rest will not come.
    Closed,
    /// Withdrawn before anything arrived.
    Cancelled,
}

impl Status {
    /// As the API and the database spell it.
    pub fn code(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Approved => "approved",
            Status::PartiallyReceived => "partially_received",
            Status::Received => "received",
            Status::Closed => "closed",
            Status::Cancelled => "cancelled",
        }
    }

    /// The status `code` names; a stored code that names none is corrupt, never a default.
    pub fn parse(code: &str) -> Result<Status, OrderError> {
        Ok(match code {
            "draft" => Status::Draft,
            "approved" => Status::Approved,
            "partially_received" => Status::PartiallyReceived,
            "received" => Status::Received,
            "closed" => Status::Closed,
            "cancelled" => Status::Cancelled,
            other => return Err(OrderError::Corrupt(format!("order status {other:?}"))),
        })
    }
}

/// One product on order, with what has arrived of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// 1, 2, ... in the order they were written.
    pub line_no: i32,
    /// The product; an order holds each product on one line.
    pub product_id: Uuid,
    /// Its SKU, for messages and events.
    pub sku: String,
    /// The places its unit allows.
    pub unit_decimals: u32,
    /// Ordered.
    pub quantity: Decimal,
    /// Agreed price before GST, minor units.
    pub unit_price_minor: i64,
    /// Accepted into stock so far.
    pub received: Decimal,
    /// Refused at the door so far.
    pub rejected: Decimal,
}

/// A purchase order as its decisions need it.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseOrder {
    /// Whose.
    pub tenant_id: Uuid,
    /// The order.
    pub id: Uuid,
    /// `PO-000001`.
    pub number: String,
    /// Who supplies it.
    pub vendor_id: Uuid,
    /// Where the goods go.
    pub location_id: Uuid,
    /// ISO 4217, the vendor's.
    pub currency: String,
    /// With GST.
    pub total_minor: i64,
    /// Where it is in its life.
    pub status: Status,
    /// What is on order.
    pub lines: Vec<Line>,
}

/// What may be asked of an order.
#[derive(Debug, Clone)]
pub enum Command {
    /// Goods may now be received against it.
    Approve {
        /// The approver.
        by: Uuid,
        /// Milliseconds since the epoch.
        at: i64,
    },
    /// Withdraw it before anything arrives.
    Cancel {
        /// Why, 1 to 500 characters.
        reason: String,
        /// Who.
        by: Uuid,
        /// Milliseconds since the epoch.
        at: i64,
    },
    /// Stop waiting for the rest of a partly received order.
    Close {
        /// Why.
        reason: String,
        /// Who.
        by: Uuid,
        /// Milliseconds since the epoch.
        at: i64,
    },
    /// Goods arrived: a goods receipt note.
    Receive(Receipt),
}

/// A delivery against the order, as the receiving clerk wrote it down.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The goods receipt note's id.
    pub grn_id: Uuid,
    /// Its number, `GRN-000001`.
    pub grn_number: String,
    /// The day it arrived: a batch past its expiry is refused.
    pub today: NaiveDate,
    /// Per order line.
    pub lines: Vec<Delivery>,
    /// Who received it.
    pub by: Uuid,
    /// Milliseconds since the epoch.
    pub at: i64,
}

/// One order line's delivery; quantities as typed, read in the line's unit.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The order line.
    pub line_no: i32,
    /// Accepted into stock.
    pub quantity_received: String,
    /// Refused at the door.
    pub quantity_rejected: Option<String>,
    /// Why goods were refused.
    pub rejection_reason: Option<String>,
    /// The vendor's batch, empty for none.
    pub batch: String,
    /// When the batch expires.
    pub expiry_date: Option<NaiveDate>,
}

/// What happened to an order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `purchase.po.created`.
    Created(PurchaseOrderCreated),
    /// `purchase.po.approved`.
    Approved(PurchaseOrderApproved),
    /// `purchase.po.cancelled`.
    Cancelled(PurchaseOrderCancelled),
    /// `purchase.po.closed`.
    Closed(PurchaseOrderClosed),
    /// `purchase.grn.received`.
    Received(GoodsReceived),
}

/// Why an order refused a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OrderError {
    /// The order is not in a status that allows it (409).
    #[error("purchase order {number} is {}; it must be {wanted}", status.code())]
    WrongStatus {
        /// The order's number.
        number: String,
        /// Its status.
        status: Status,
        /// The statuses that allow the command.
        wanted: &'static str,
    },
    /// A field of the command breaks a rule (422).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A stored fact does not read (500): never guessed at.
    #[error("corrupt purchase order: {0}")]
    Corrupt(String),
}

impl OrderError {
    /// The stable problem code.
    pub fn code(&self) -> ProblemCode {
        match self {
            OrderError::WrongStatus { .. } => Code::InvalidPoStatus.into(),
            OrderError::Invalid(invalid) => invalid.problem(),
            OrderError::Corrupt(_) => PlatformCode::Internal.into(),
        }
    }
}

/// Why an order was cancelled or closed: 1 to 500 characters, trimmed.
fn reason_text(raw: &str) -> Result<&str, Invalid> {
    let reason = raw.trim();
    if reason.is_empty() || reason.len() > 500 {
        return Err(Invalid::new(
            "reason",
            Code::InvalidText,
            "1 to 500 characters",
        ));
    }
    Ok(reason)
}

fn text(value: Decimal) -> String {
    value.normalize().to_string()
}

fn decimal(what: &str, raw: &str) -> Result<Decimal, OrderError> {
    raw.parse()
        .map_err(|_| OrderError::Corrupt(format!("{what} {raw:?} is not a decimal")))
}

/// One priced line of an order being written.
#[derive(Debug, Clone)]
pub struct DraftLine {
    /// The product.
    pub product_id: Uuid,
    /// Its SKU.
    pub sku: String,
    /// Ordered, in its unit.
    pub quantity: Decimal,
    /// Before GST, minor units.
    pub unit_price_minor: i64,
    /// GST in basis points.
    pub gst_rate_bp: i32,
    /// Cess in basis points.
    pub cess_rate_bp: i32,
    /// The line's GST.
    pub tax: LineTax,
}

/// An order being written, every line priced and taxed.
#[derive(Debug, Clone)]
pub struct Draft {
    /// Whose.
    pub tenant_id: Uuid,
    /// The new order's id.
    pub id: Uuid,
    /// Its number.
    pub number: String,
    /// The vendor.
    pub vendor_id: Uuid,
    /// Where the goods go.
    pub location_id: Uuid,
    /// GST state code of that location.
    pub place_of_supply: String,
    /// The vendor's currency.
    pub currency: String,
    /// When the goods are due.
    pub expected_on: Option<NaiveDate>,
    /// What to order.
    pub lines: Vec<DraftLine>,
    /// Who wrote it.
    pub by: Uuid,
    /// Milliseconds since the epoch.
    pub at: i64,
}

/// `purchase.po.created` for `draft`: its totals summed, refused (naming `lines`) when they
/// do not fit.
pub fn create(draft: Draft) -> Result<Event, Invalid> {
    let (mut taxable, mut tax) = (0i64, 0i64);
    for line in &draft.lines {
        taxable = sum_field("lines", [taxable, line.tax.taxable])?;
        tax = sum_field("lines", [tax, line.tax.tax()])?;
    }
    let total = sum_field("lines", [taxable, tax])?;
    Ok(Event::Created(PurchaseOrderCreated {
        tenant_id: draft.tenant_id,
        po_id: draft.id,
        po_number: draft.number,
        vendor_id: draft.vendor_id,
        location_id: draft.location_id,
        place_of_supply: draft.place_of_supply,
        currency: draft.currency,
        lines: (1..)
            .zip(draft.lines)
            .map(|(line_no, l)| PurchaseOrderCreatedOrderLine {
                line_no,
                product_id: l.product_id,
                sku: l.sku,
                quantity: text(l.quantity),
                unit_price_minor: l.unit_price_minor,
                gst_rate_bp: l.gst_rate_bp,
                cess_rate_bp: l.cess_rate_bp,
                taxable_minor: l.tax.taxable,
                tax_minor: l.tax.tax(),
            })
            .collect(),
        taxable_minor: taxable,
        tax_minor: tax,
        total_minor: total,
        expected_on: draft.expected_on.map(|d| d.to_string()),
        created_by: draft.by,
        created_at: draft.at,
    }))
}

impl PurchaseOrder {
    /// The order `created` describes, nothing yet received; `unit_decimals` gives each
    /// product's places.
    pub fn created(
        created: &PurchaseOrderCreated,
        unit_decimals: impl Fn(Uuid) -> u32,
    ) -> Result<PurchaseOrder, OrderError> {
        let lines = created
            .lines
            .iter()
            .map(|l| {
                Ok(Line {
                    line_no: l.line_no,
                    product_id: l.product_id,
                    sku: l.sku.clone(),
                    unit_decimals: unit_decimals(l.product_id),
                    quantity: decimal("quantity", &l.quantity)?,
                    unit_price_minor: l.unit_price_minor,
                    received: Decimal::ZERO,
                    rejected: Decimal::ZERO,
                })
            })
            .collect::<Result<_, OrderError>>()?;
        Ok(PurchaseOrder {
            tenant_id: created.tenant_id,
            id: created.po_id,
            number: created.po_number.clone(),
            vendor_id: created.vendor_id,
            location_id: created.location_id,
            currency: created.currency.clone(),
            total_minor: created.total_minor,
            status: Status::Draft,
            lines,
        })
    }

    fn wrong_status(&self, wanted: &'static str) -> OrderError {
        OrderError::WrongStatus {
            number: self.number.clone(),
            status: self.status,
            wanted,
        }
    }

    /// The events `command` raises, or why the order refuses it.
    pub fn decide(&self, command: Command) -> Result<Vec<Event>, OrderError> {
        Ok(vec![match command {
            Command::Approve { by, at } => {
                if self.status != Status::Draft {
                    return Err(self.wrong_status("draft"));
                }
                Event::Approved(PurchaseOrderApproved {
                    tenant_id: self.tenant_id,
                    po_id: self.id,
                    po_number: self.number.clone(),
                    vendor_id: self.vendor_id,
                    currency: self.currency.clone(),
                    total_minor: self.total_minor,
                    approved_by: by,
                    approved_at: at,
                })
            }
            Command::Cancel { reason, by, at } => {
                let reason = reason_text(&reason)?;
                if !matches!(self.status, Status::Draft | Status::Approved) {
                    return Err(self.wrong_status("draft or approved, with nothing received"));
                }
                Event::Cancelled(PurchaseOrderCancelled {
                    tenant_id: self.tenant_id,
                    po_id: self.id,
                    po_number: self.number.clone(),
                    vendor_id: self.vendor_id,
                    reason: reason.to_owned(),
                    cancelled_by: by,
                    cancelled_at: at,
                })
            }
            Command::Close { reason, by, at } => {
                let reason = reason_text(&reason)?;
                if self.status != Status::PartiallyReceived {
                    return Err(self.wrong_status("partially_received"));
                }
                Event::Closed(PurchaseOrderClosed {
                    tenant_id: self.tenant_id,
                    po_id: self.id,
                    po_number: self.number.clone(),
                    vendor_id: self.vendor_id,
                    reason: reason.to_owned(),
                    closed_by: by,
                    closed_at: at,
                })
            }
            Command::Receive(receipt) => Event::Received(self.receive(receipt)?),
        }])
    }

    /// Checks each delivered line against the order: a known line, once; something
    /// received or rejected, in the line's unit; a reason for what was refused; no more
    /// than 5 % over what was ordered; no expired batch.
    fn receive(&self, receipt: Receipt) -> Result<GoodsReceived, OrderError> {
        if !matches!(self.status, Status::Approved | Status::PartiallyReceived) {
            return Err(self.wrong_status("approved or partially_received"));
        }
        let mut lines = Vec::with_capacity(receipt.lines.len());
        let mut seen = Vec::with_capacity(receipt.lines.len());
        for (index, delivery) in receipt.lines.into_iter().enumerate() {
            let field = format!("lines[{index}]");
            let ordered = self
                .lines
                .iter()
                .find(|l| l.line_no == delivery.line_no)
                .ok_or_else(|| {
                    Invalid::new(
                        format!("{field}.line_no"),
                        Code::UnknownLine,
                        format!("the order has no line {}", delivery.line_no),
                    )
                })?;
            if seen.contains(&delivery.line_no) {
                return Err(Invalid::new(
                    field,
                    Code::DuplicateLine,
                    format!("line {} twice", delivery.line_no),
                )
                .into());
            }
            seen.push(delivery.line_no);
            let read = |name: &str, raw: &str| -> Result<Decimal, Invalid> {
                if raw.trim() == "0" {
                    return Ok(Decimal::ZERO);
                }
                let field = format!("{field}.{name}");
                Ok(Quantity::field(&field, raw, ordered.unit_decimals, Sign::Positive)?.value())
            };
            let accepted = read("quantity_received", &delivery.quantity_received)?;
            let rejected = match delivery.quantity_rejected.as_deref() {
                None => Decimal::ZERO,
                Some(raw) => read("quantity_rejected", raw)?,
            };
            if accepted.is_zero() && rejected.is_zero() {
                return Err(Invalid::new(
                    format!("{field}.quantity_received"),
                    PlatformCode::InvalidQuantity,
                    "nothing received or rejected",
                )
                .into());
            }
            let reason = delivery
                .rejection_reason
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty());
            if rejected > Decimal::ZERO && reason.is_none() {
                return Err(Invalid::new(
                    format!("{field}.rejection_reason"),
                    Code::RejectionReasonRequired,
                    "say why goods were refused",
                )
                .into());
            }
            if ordered.received + accepted > receivable(ordered.quantity) {
                return Err(Invalid::new(
                    format!("{field}.quantity_received"),
                    Code::OverReceipt,
                    format!(
                        "{}: {} ordered, {} received before, {} now: more than 5 % over",
                        ordered.sku,
                        text(ordered.quantity),
                        text(ordered.received),
                        text(accepted)
                    ),
                )
                .into());
            }
            if let Some(expiry) = delivery.expiry_date.filter(|e| *e < receipt.today) {
                return Err(Invalid::new(
                    format!("{field}.expiry_date"),
                    Code::BatchExpired,
                    format!("the batch expired on {expiry}"),
                )
                .into());
            }
            lines.push(GoodsReceivedGrnLine {
                product_id: ordered.product_id,
                sku: ordered.sku.clone(),
                quantity_received: text(accepted),
                quantity_rejected: text(rejected),
                rejection_reason: reason.map(str::to_owned),
                batch: delivery.batch.trim().to_owned(),
                expiry_date: delivery.expiry_date.map(|d| d.to_string()),
                unit_cost_minor: ordered.unit_price_minor,
            });
        }
        Ok(GoodsReceived {
            tenant_id: self.tenant_id,
            grn_id: receipt.grn_id,
            grn_number: receipt.grn_number,
            purchase_order_id: self.id,
            vendor_id: self.vendor_id,
            location_id: self.location_id,
            currency: self.currency.clone(),
            lines,
            received_by: receipt.by,
            received_at: receipt.at,
        })
    }

    /// The order after `event`.
    pub fn apply(&mut self, event: &Event) -> Result<(), OrderError> {
        match event {
            Event::Created(_) => {} // the state begins with it: see `created`
            Event::Approved(_) => self.status = Status::Approved,
            Event::Cancelled(_) => self.status = Status::Cancelled,
            Event::Closed(_) => self.status = Status::Closed,
            Event::Received(goods) => {
                for received in &goods.lines {
                    // An order holds each product on one line.
                    let line = self
                        .lines
                        .iter_mut()
                        .find(|l| l.product_id == received.product_id)
                        .ok_or_else(|| {
                            OrderError::Corrupt(format!(
                                "{} received against {}, which does not order it",
                                received.sku, self.number
                            ))
                        })?;
                    line.received += decimal("quantity_received", &received.quantity_received)?;
                    line.rejected += decimal("quantity_rejected", &received.quantity_rejected)?;
                }
                self.status = if self.lines.iter().all(|l| l.received >= l.quantity) {
                    Status::Received
                } else {
                    Status::PartiallyReceived
                };
            }
        }
        Ok(())
    }

    /// The line that orders `product`.
    pub fn line_of(&self, product: Uuid) -> Option<&Line> {
        self.lines.iter().find(|l| l.product_id == product)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BY: Uuid = Uuid::from_u128(7);

    fn given(status: Status) -> PurchaseOrder {
        PurchaseOrder {
            tenant_id: Uuid::from_u128(9),
            id: Uuid::from_u128(1),
            number: "PO-000001".into(),
            vendor_id: Uuid::from_u128(2),
            location_id: Uuid::from_u128(3),
            currency: "INR".into(),
            total_minor: 118_000,
            status,
            lines: vec![
                Line {
                    line_no: 1,
                    product_id: Uuid::from_u128(10),
                    sku: "RICE-5KG".into(),
                    unit_decimals: 0,
                    quantity: Decimal::from(100),
                    unit_price_minor: 1_000,
                    received: Decimal::ZERO,
                    rejected: Decimal::ZERO,
                },
                Line {
                    line_no: 2,
                    product_id: Uuid::from_u128(11),
                    sku: "DAL-1KG".into(),
                    unit_decimals: 3,
                    quantity: Decimal::from(10),
                    unit_price_minor: 500,
                    received: Decimal::ZERO,
                    rejected: Decimal::ZERO,
                },
            ],
        }
    }

    fn delivery(line_no: i32, received: &str) -> Delivery {
        Delivery {
            line_no,
            quantity_received: received.into(),
            quantity_rejected: None,
            rejection_reason: None,
            batch: String::new(),
            expiry_date: None,
        }
    }

    fn receipt(lines: Vec<Delivery>) -> Command {
        Command::Receive(Receipt {
            grn_id: Uuid::from_u128(20),
            grn_number: "GRN-000001".into(),
            today: NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
            lines,
            by: BY,
            at: 0,
        })
    }

    /// Decides `command` and applies what it raised: the order afterwards.
    fn when(mut order: PurchaseOrder, command: Command) -> Result<PurchaseOrder, OrderError> {
        for event in order.decide(command)? {
            order.apply(&event)?;
        }
        Ok(order)
    }

    fn code(result: Result<PurchaseOrder, OrderError>) -> &'static str {
        result.map(|_| ()).unwrap_err().code().as_str()
    }

    #[test]
    fn a_draft_is_approved_once_and_only_a_draft() {
        let approve = || Command::Approve { by: BY, at: 0 };
        let approved = when(given(Status::Draft), approve()).unwrap();
        assert_eq!(approved.status, Status::Approved);
        assert_eq!(code(when(approved, approve())), "invalid_po_status");
        assert_eq!(
            code(when(given(Status::Cancelled), approve())),
            "invalid_po_status"
        );
    }

    #[test]
    fn an_order_is_cancelled_only_before_goods_arrive_and_with_a_reason() {
        let cancel = |reason: &str| Command::Cancel {
            reason: reason.into(),
            by: BY,
            at: 0,
        };
        for status in [Status::Draft, Status::Approved] {
            let cancelled = when(given(status), cancel("vendor out of stock")).unwrap();
            assert_eq!(cancelled.status, Status::Cancelled);
        }
        assert_eq!(
            code(when(given(Status::PartiallyReceived), cancel("late"))),
            "invalid_po_status"
        );
        assert_eq!(
            code(when(given(Status::Draft), cancel("  "))),
            "invalid_text"
        );
        assert_eq!(
            code(when(given(Status::Draft), cancel(&"x".repeat(501)))),
            "invalid_text"
        );
    }

    #[test]
    fn goods_arrive_in_parts_until_every_line_is_in() {
        let order = when(given(Status::Approved), receipt(vec![delivery(1, "60")])).unwrap();
        assert_eq!(order.status, Status::PartiallyReceived);
        assert_eq!(order.lines[0].received, Decimal::from(60));
        let order = when(order, receipt(vec![delivery(1, "40"), delivery(2, "10.5")])).unwrap();
        assert_eq!(order.status, Status::Received);
        // Received in full: nothing more may arrive, and it cannot be closed.
        assert_eq!(
            code(when(order.clone(), receipt(vec![delivery(1, "1")]))),
            "invalid_po_status"
        );
        let close = Command::Close {
            reason: "done".into(),
            by: BY,
            at: 0,
        };
        assert_eq!(code(when(order, close)), "invalid_po_status");
    }

    #[test]
    fn a_partly_received_order_is_closed() {
        let order = when(given(Status::Approved), receipt(vec![delivery(2, "4")])).unwrap();
        let close = Command::Close {
            reason: "the rest is discontinued".into(),
            by: BY,
            at: 0,
        };
        assert_eq!(when(order, close).unwrap().status, Status::Closed);
    }

    #[test]
    fn a_receipt_is_refused_over_tolerance_on_an_unknown_line_or_a_repeated_one() {
        let approved = || given(Status::Approved);
        // 105 of 100 is within 5 %; 106 is not.
        assert!(when(approved(), receipt(vec![delivery(1, "105")])).is_ok());
        assert_eq!(
            code(when(approved(), receipt(vec![delivery(1, "106")]))),
            "over_receipt"
        );
        assert_eq!(
            code(when(approved(), receipt(vec![delivery(3, "1")]))),
            "unknown_line"
        );
        assert_eq!(
            code(when(
                approved(),
                receipt(vec![delivery(1, "1"), delivery(1, "1")])
            )),
            "duplicate_line"
        );
        assert_eq!(
            code(when(given(Status::Draft), receipt(vec![delivery(1, "1")]))),
            "invalid_po_status"
        );
    }

    #[test]
    fn quantities_are_read_in_the_line_s_unit_and_refusals_need_a_reason() {
        let approved = || given(Status::Approved);
        // Rice is counted in bags: no fractions.
        assert_eq!(
            code(when(approved(), receipt(vec![delivery(1, "1.5")]))),
            "too_many_decimals"
        );
        assert_eq!(
            code(when(approved(), receipt(vec![delivery(1, "0")]))),
            "invalid_quantity"
        );
        let refused = Delivery {
            quantity_rejected: Some("2".into()),
            ..delivery(1, "8")
        };
        assert_eq!(
            code(when(approved(), receipt(vec![refused.clone()]))),
            "rejection_reason_required"
        );
        let explained = Delivery {
            rejection_reason: Some("torn bags".into()),
            ..refused
        };
        let order = when(approved(), receipt(vec![explained])).unwrap();
        assert_eq!(order.lines[0].rejected, Decimal::from(2));
    }

    #[test]
    fn an_expired_batch_is_refused() {
        let expired = Delivery {
            batch: "B1".into(),
            expiry_date: NaiveDate::from_ymd_opt(2026, 12, 2),
            ..delivery(2, "1")
        };
        assert_eq!(
            code(when(given(Status::Approved), receipt(vec![expired]))),
            "batch_expired"
        );
    }

    #[test]
    fn a_stored_status_that_names_none_is_corrupt() {
        for status in [
            Status::Draft,
            Status::Approved,
            Status::PartiallyReceived,
            Status::Received,
            Status::Closed,
            Status::Cancelled,
        ] {
            assert_eq!(Status::parse(status.code()), Ok(status));
        }
        assert!(matches!(
            Status::parse("shipped"),
            Err(OrderError::Corrupt(_))
        ));
    }
}
