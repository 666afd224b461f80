//! A stock transfer on its way: what arrives is matched to the lines sent (the batch
//! named, or the soonest-expiring first), never beyond what is still outstanding, and
//! the transfer ends received when everything arrived, or closed short on request.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Sent, not all arrived.
    InTransit,
    /// Everything arrived.
    Received,
    /// Closed with a shortfall.
    Closed,
}

impl Status {
    /// As stored and in events.
    pub fn code(self) -> &'static str {
        match self {
            Status::InTransit => "in_transit",
            Status::Received => "received",
            Status::Closed => "closed",
        }
    }

    /// A stored status; an unknown one is a corrupt row, never a default.
    pub fn parse(code: &str) -> Result<Self, Refusal> {
        match code {
            "in_transit" => Ok(Status::InTransit),
            "received" => Ok(Status::Received),
            "closed" => Ok(Status::Closed),
            other => Err(Refusal::Corrupt(format!("transfer status {other:?}"))),
        }
    }
}

/// One product and batch sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The product.
    pub product: Uuid,
    /// Its batch ("" for none).
    pub batch: String,
    /// The batch's expiry.
    pub expiry: Option<NaiveDate>,
    /// What a unit cost where it left.
    pub unit_cost: Decimal,
    /// Sent.
    pub dispatched: Decimal,
    /// Arrived so far.
    pub received: Decimal,
}

impl Line {
    fn outstanding(&self) -> Decimal {
        self.dispatched - self.received
    }
}

/// A transfer as receiving it needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    /// Where it stands.
    pub status: Status,
    /// What was sent.
    pub lines: Vec<Line>,
}

/// Something that arrived, as the receiver counted it.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The request field it came from, for errors: `lines[0]`.
    pub field: String,
    /// The product.
    pub product: Uuid,
    /// Its SKU, for errors.
    pub sku: String,
    /// The batch, when the receiver names one.
    pub batch: Option<String>,
    /// How much.
    pub quantity: Decimal,
}

/// What of one line sent arrived now.
#[derive(Debug, Clone, PartialEq)]
pub struct Taken {
    /// The product.
    pub product: Uuid,
    /// Its batch.
    pub batch: String,
    /// The batch's expiry.
    pub expiry: Option<NaiveDate>,
    /// What a unit cost where it left: the cost it arrives at.
    pub unit_cost: Decimal,
    /// How much.
    pub quantity: Decimal,
}

/// A receipt decided: what arrived against which lines, and where the transfer stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// In the order the arrivals were given.
    pub taken: Vec<Taken>,
    /// After it.
    pub status: Status,
}

/// Why a receipt is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The transfer is no longer in transit.
    Finished(Status),
    /// Nothing of this product (and batch) was sent on it: (field, sku).
    NotOnTransfer(String, String),
    /// More than is outstanding: (field, sku, outstanding, asked).
    OverReceipt(String, String, Decimal, Decimal),
    /// A stored row that cannot be read.
    Corrupt(String),
}

impl Transfer {
    /// Decides a receipt of `arrivals` (and with `close`, the transfer's end).
    pub fn receive(&self, arrivals: &[Arrival], close: bool) -> Result<Receipt, Refusal> {
        if self.status != Status::InTransit {
            return Err(Refusal::Finished(self.status));
        }
        let mut lines = self.lines.clone();
        // Soonest expiry first, then by batch: what arrives is what left first.
        lines.sort_by(|a, b| {
            (a.expiry.is_none(), a.expiry, &a.batch).cmp(&(b.expiry.is_none(), b.expiry, &b.batch))
        });
        let mut taken = Vec::new();
        for arrival in arrivals {
            let open = |line: &Line| {
                line.product == arrival.product
                    && arrival.batch.as_ref().is_none_or(|b| *b == line.batch)
            };
            if !lines.iter().any(open) {
                return Err(Refusal::NotOnTransfer(
                    arrival.field.clone(),
                    arrival.sku.clone(),
                ));
            }
            let outstanding: Decimal = lines
                .iter()
                .filter(|l| open(l))
                .map(Line::outstanding)
                .sum();
            if arrival.quantity > outstanding {
                return Err(Refusal::OverReceipt(
                    format!("{}.quantity", arrival.field),
                    arrival.sku.clone(),
                    outstanding,
                    arrival.quantity,
                ));
            }
            let mut left = arrival.quantity;
            for line in lines.iter_mut().filter(|l| open(l)) {
                let take = left.min(line.outstanding());
                if take <= Decimal::ZERO {
                    continue;
                }
                left -= take;
                line.received += take;
                taken.push(Taken {
                    product: line.product,
                    batch: line.batch.clone(),
                    expiry: line.expiry,
                    unit_cost: line.unit_cost,
                    quantity: take,
                });
            }
        }
        let status = if lines.iter().all(|l| l.outstanding() == Decimal::ZERO) {
            Status::Received
        } else if close {
            Status::Closed
        } else {
            Status::InTransit
        };
        Ok(Receipt { taken, status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn date(text: &str) -> Option<NaiveDate> {
        Some(text.parse().unwrap())
    }

    const RICE: Uuid = Uuid::from_u128(1);
    const SOAP: Uuid = Uuid::from_u128(2);

    /// 35 kg of rice in two batches (the older one first out) and 20 soaps.
    fn sent() -> Transfer {
        let line = |product, batch: &str, expiry, dispatched: &str| Line {
            product,
            batch: batch.to_owned(),
            expiry,
            unit_cost: d("4000"),
            dispatched: d(dispatched),
            received: Decimal::ZERO,
        };
        Transfer {
            status: Status::InTransit,
            lines: vec![
                line(RICE, "R-NEW", date("2027-06-30"), "4.5"),
                line(RICE, "R-OLD", date("2027-01-31"), "30.5"),
                line(SOAP, "", None, "20"),
            ],
        }
    }

    fn arrival(index: usize, product: Uuid, batch: Option<&str>, quantity: &str) -> Arrival {
        Arrival {
            field: format!("lines[{index}]"),
            product,
            sku: if product == RICE { "RICE-1" } else { "SOAP-1" }.to_owned(),
            batch: batch.map(str::to_owned),
            quantity: d(quantity),
        }
    }

    #[test]
    fn what_arrives_is_matched_soonest_expiry_first_and_stays_in_transit() {
        let receipt = sent()
            .receive(&[arrival(0, RICE, None, "32.5")], false)
            .unwrap();
        let taken: Vec<(&str, Decimal)> = receipt
            .taken
            .iter()
            .map(|t| (t.batch.as_str(), t.quantity))
            .collect();
        assert_eq!(taken, vec![("R-OLD", d("30.5")), ("R-NEW", d("2"))]);
        assert_eq!(receipt.status, Status::InTransit);
    }

    #[test]
    fn a_named_batch_takes_only_from_that_batch() {
        let receipt = sent()
            .receive(&[arrival(0, RICE, Some("R-NEW"), "4.5")], false)
            .unwrap();
        assert_eq!(receipt.taken.len(), 1);
        assert_eq!(receipt.taken[0].batch, "R-NEW");
        assert_eq!(
            sent().receive(&[arrival(0, RICE, Some("R-NEW"), "5")], false),
            Err(Refusal::OverReceipt(
                "lines[0].quantity".to_owned(),
                "RICE-1".to_owned(),
                d("4.5"),
                d("5")
            ))
        );
    }

    #[test]
    fn two_arrivals_of_one_product_cannot_exceed_what_was_sent() {
        let refused = sent().receive(
            &[arrival(0, SOAP, None, "15"), arrival(1, SOAP, None, "6")],
            false,
        );
        assert_eq!(
            refused,
            Err(Refusal::OverReceipt(
                "lines[1].quantity".to_owned(),
                "SOAP-1".to_owned(),
                d("5"),
                d("6")
            ))
        );
    }

    #[test]
    fn everything_arrived_is_received_and_closing_short_is_closed() {
        let all = [arrival(0, RICE, None, "35"), arrival(1, SOAP, None, "20")];
        assert_eq!(
            sent().receive(&all, false).unwrap().status,
            Status::Received
        );
        let short = sent()
            .receive(&[arrival(0, SOAP, None, "18")], true)
            .unwrap();
        assert_eq!(short.status, Status::Closed);
        // Closing with nothing more arriving is allowed too.
        assert_eq!(sent().receive(&[], true).unwrap().status, Status::Closed);
    }

    #[test]
    fn a_product_not_sent_or_a_finished_transfer_is_refused() {
        let other = Uuid::from_u128(3);
        assert_eq!(
            sent().receive(&[arrival(0, other, None, "1")], false),
            Err(Refusal::NotOnTransfer(
                "lines[0]".to_owned(),
                "SOAP-1".to_owned()
            ))
        );
        let mut closed = sent();
        closed.status = Status::Closed;
        assert_eq!(
            closed.receive(&[arrival(0, SOAP, None, "1")], false),
            Err(Refusal::Finished(Status::Closed))
        );
        assert!(Status::parse("lost").is_err());
    }
}
