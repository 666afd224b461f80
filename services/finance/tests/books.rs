//! A store's business day posted from its events, against figures worked out by hand:
//! opening stock, a goods receipt and the vendor's invoice, two sales (cash and card;
//! credit with a round-off), a return, a sale voided, a damaged soap written off, a
//! customer's and a vendor's payment, and the owner's capital by manual entry; and the
//! GST returns of that day. Then the ways the books refuse to go wrong.

// Amounts in paise are written rupees_paise (118_00 is ₹118.00).
#![allow(clippy::inconsistent_digit_grouping)]

use axum::http::{Method, StatusCode};
use bazaar_finance::ledger::FinanceLedger;
use bazaar_platform::{
    auth::{Role, Stores},
    consumer::{self, ConsumedEvent, Projection},
    db,
    testing::{claimed_types_are_applied, event, send, store_opened, Reply, TestService},
};
use serde_json::{json, Value};
use uuid::Uuid;

/// 2026-11-18, 11:06 UTC.
const DAY: i64 = 1_795_000_000_000;

/// The store's registration in Karnataka, and a registered buyer's.
const GSTIN: &str = "29AAGCB7383J1Z4";
const BUYER_GSTIN: &str = "29AAACR5055K1Z3";

struct Books {
    finance: TestService,
    accountant: String,
    store: Uuid,
}

impl Books {
    async fn open() -> Self {
        let finance = TestService::start(
            "finance",
            bazaar_finance::migrator(),
            bazaar_finance::router,
        )
        .await;
        let accountant = finance.issuer.token(finance.tenant, &[Role::Accountant]);
        let books = Books {
            finance,
            accountant,
            store: Uuid::new_v4(),
        };
        books.opened(books.finance.tenant, books.store).await;
        books
    }

    /// Tells finance that `store` is one of `tenant`'s, as identity announces it.
    async fn opened(&self, tenant: Uuid, store: Uuid) {
        store_opened(
            &self.finance.owner,
            &FinanceLedger::default(),
            tenant,
            store,
        )
        .await;
    }

    fn event(&self, event_type: &str, payload: Value) -> ConsumedEvent {
        event(event_type, self.finance.tenant, &payload)
    }

    async fn apply(&self, event: &ConsumedEvent) -> bool {
        consumer::apply(&self.finance.owner, &FinanceLedger::default(), event)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", event.cloud.event_type))
    }

    async fn post(&self, event_type: &str, payload: Value) {
        assert!(self.apply(&self.event(event_type, payload)).await);
    }

    /// Several events as one poll brings them: posted in one transaction.
    async fn post_together(&self, events: Vec<(&str, Value)>) {
        let events: Vec<_> = events
            .into_iter()
            .map(|(event_type, payload)| self.event(event_type, payload))
            .collect();
        consumer::apply_poll(
            &self.finance.owner,
            &FinanceLedger::default(),
            self.finance.tenant,
            events.iter(),
        )
        .await
        .unwrap();
    }

    async fn get(&self, path: &str) -> Value {
        let reply = send(
            &self.finance.app,
            Method::GET,
            path,
            Some(&self.finance.admin),
            None,
            &[],
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        reply.body
    }

    async fn manual(&self, token: &str, body: Value) -> Reply {
        send(
            &self.finance.app,
            Method::POST,
            "/api/v1/finance/journal-entry",
            Some(token),
            Some(body),
            &[],
        )
        .await
    }

    async fn close(&self, month: &str) -> Reply {
        let path = format!("/api/v1/finance/periods/{month}/close");
        send(
            &self.finance.app,
            Method::POST,
            &path,
            Some(&self.accountant),
            None,
            &[],
        )
        .await
    }

    async fn entries(&self) -> i64 {
        let mut tx = db::begin_for_tenant(&self.finance.owner, self.finance.tenant)
            .await
            .unwrap();
        let n = sqlx::query_scalar("SELECT count(*) FROM journal_entries")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        n
    }

    fn sale(
        &self,
        number: &str,
        buyer: Option<&str>,
        lines: Value,
        payments: Value,
        round_off: i64,
        total: i64,
    ) -> Value {
        json!({"tenant_id": self.finance.tenant, "invoice_id": Uuid::new_v4(), "invoice_number": number,
            "store_id": self.store, "terminal_id": "T1", "cashier_id": Uuid::new_v4(), "customer_id": null,
            "reservation_id": null, "offline": false, "currency": "INR", "place_of_supply": "29",
            "supplier_gstin": GSTIN, "supplier_state": "29", "customer_gstin": buyer,
            "lines": lines, "payments": payments, "subtotal_minor": total, "discount_minor": 0, "tax_minor": 0,
            "round_off_minor": round_off, "total_minor": total, "issued_at": DAY})
    }

    fn moved(&self, sku: &str, kind: &str, quantity: &str, cost: &str, reference: &str) -> Value {
        json!({"tenant_id": self.finance.tenant, "movement_id": Uuid::new_v4(), "seq": 1,
            "location_id": Uuid::new_v4(), "product_id": Uuid::new_v4(), "sku": sku, "batch": "", "expiry_date": null,
            "kind": kind, "quantity": quantity, "unit_cost_minor": cost, "currency": "INR", "on_hand_after": "0",
            "average_cost_after_minor": cost, "reason": null, "reference_type": reference,
            "reference_id": Uuid::new_v4().to_string(), "recorded_by": null, "recorded_at": DAY})
    }

    fn adjusted(&self, sku: &str, reason: &str, quantity: &str, value: i64) -> Value {
        json!({"tenant_id": self.finance.tenant, "adjustment_id": Uuid::new_v4(), "location_id": Uuid::new_v4(),
            "product_id": Uuid::new_v4(), "sku": sku, "reason": reason, "quantity": quantity,
            "unit_cost_minor": "5000", "currency": "INR", "value_minor": value, "note": null,
            "adjusted_by": Uuid::new_v4(), "adjusted_at": DAY})
    }
}

/// A sold line: quantity, taxable value and CGST = SGST. Soap (HSN 3401) is taxed at 18 %,
/// rice (1006) at 5 %.
fn line(n: i32, sku: &str, quantity: &str, taxable: i64, half_tax: i64) -> Value {
    let (hsn, rate) = if sku.starts_with("SOAP") {
        ("3401", 1800)
    } else {
        ("1006", 500)
    };
    json!({"line_no": n, "product_id": Uuid::new_v4(), "sku": sku, "quantity": quantity, "unit_price_minor": 0,
        "discount_minor": 0, "taxable_minor": taxable, "gst_rate_bp": rate, "cgst_minor": half_tax,
        "sgst_minor": half_tax, "igst_minor": 0, "cess_minor": 0, "total_minor": taxable + 2 * half_tax,
        "salesperson_id": null, "hsn_code": hsn})
}

fn balances(report: &Value) -> Vec<(String, i64, i64)> {
    report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["code"].as_str().unwrap().to_owned(),
                a["debit_minor"].as_i64().unwrap(),
                a["credit_minor"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_day_of_business_posts_books_that_match_the_figures_worked_by_hand() {
    let books = Books::open().await;
    let tenant = books.finance.tenant;

    // The owner brings ₹2,000 into the bank.
    let capital = books
        .manual(&books.accountant, json!({"id": Uuid::new_v4(), "date": "2026-11-18",
            "narration": "Capital introduced", "lines": [
            {"account_code": "1010", "debit_minor": 2_000_00}, {"account_code": "3000", "credit_minor": 2_000_00}]}))
        .await;
    assert_eq!(capital.status, StatusCode::CREATED, "{}", capital.body);

    // Opening stock: 100 soaps at ₹50. A goods receipt: 50 kg of rice at ₹40, invoiced
    // from Maharashtra with 5 % IGST.
    books
        .post(
            "inventory.stock.adjusted",
            books.adjusted("SOAP-1", "opening_stock", "100", 5_000_00),
        )
        .await;
    books
        .post(
            "inventory.stock.moved",
            books.moved("RICE-1", "receipt", "50", "4000", "purchase.grn"),
        )
        .await;
    let invoice = json!({"tenant_id": tenant, "invoice_id": Uuid::new_v4(), "vendor_id": Uuid::new_v4(),
        "vendor_invoice_number": "AF/118", "place_of_supply": "29", "invoice_date": "2026-11-18", "due_date": "2026-12-18",
        "grn_ids": [Uuid::new_v4()], "currency": "INR", "lines": [{"product_id": Uuid::new_v4(), "sku": "RICE-1",
        "quantity": "50", "unit_price_minor": 40_00, "taxable_minor": 2_000_00, "gst_rate_bp": 500, "cgst_minor": 0,
        "sgst_minor": 0, "igst_minor": 100_00, "cess_minor": 0, "total_minor": 2_100_00}],
        "taxable_minor": 2_000_00, "tax_minor": 100_00, "total_minor": 2_100_00, "status": "matched", "recorded_at": DAY});
    books.post("purchase.invoice.recorded", invoice).await;

    // Sale 1: two soaps at ₹118 with 18 % inside and a kilo of rice at ₹60 plus 5 %:
    // ₹299, ₹200 cash and ₹99 by card.
    let first = books.sale(
        "BLR1T126000001",
        None,
        json!([
            line(1, "SOAP-1", "2", 200_00, 18_00),
            line(2, "RICE-1", "1", 60_00, 1_50)
        ]),
        json!([{"mode": "cash", "amount_minor": 200_00, "reference": null},
               {"mode": "card", "amount_minor": 99_00, "reference": "AUTH1"}]),
        0,
        299_00,
    );
    let first_id = first["invoice_id"].clone();
    let first = books.event("sales.invoice.issued", first);
    assert!(books.apply(&first).await);
    books
        .post(
            "inventory.stock.moved",
            books.moved("SOAP-1", "sale", "-2", "5000", "sales.invoice"),
        )
        .await;
    books
        .post(
            "inventory.stock.moved",
            books.moved("RICE-1", "sale", "-1", "4000", "sales.invoice"),
        )
        .await;
    // Delivered again: posts nothing.
    assert!(!books.apply(&first).await);

    // Sale 2 on credit to a registered business: three soaps and half a kilo of rice,
    // ₹385.50 rounded to ₹386. Its events come in one poll.
    books
        .post_together(vec![
            (
                "sales.invoice.issued",
                books.sale(
                    "BLR1T126000002",
                    Some(BUYER_GSTIN),
                    json!([
                        line(1, "SOAP-1", "3", 300_00, 27_00),
                        line(2, "RICE-1", "0.5", 30_00, 75)
                    ]),
                    json!([{"mode": "credit", "amount_minor": 386_00, "reference": null}]),
                    50,
                    386_00,
                ),
            ),
            (
                "inventory.stock.moved",
                books.moved("SOAP-1", "sale", "-3", "5000", "sales.invoice"),
            ),
            (
                "inventory.stock.moved",
                books.moved("RICE-1", "sale", "-0.5", "4000", "sales.invoice"),
            ),
        ])
        .await;

    // One soap of sale 1 comes back, refunded in cash, and goes back on the shelf.
    books.post("sales.return.processed", json!({"tenant_id": tenant, "return_id": Uuid::new_v4(),
        "credit_note_number": "BLR1C26000001", "invoice_id": first_id, "store_id": books.store,
        "customer_id": null, "currency": "INR", "lines": [{"line_no": 1, "product_id": Uuid::new_v4(),
        "sku": "SOAP-1", "quantity": "1", "restock": true, "taxable_minor": 100_00, "gst_rate_bp": 1800,
        "cgst_minor": 9_00, "sgst_minor": 9_00, "igst_minor": 0, "cess_minor": 0, "total_minor": 118_00}],
        "refund_mode": "cash", "total_minor": 118_00, "processed_by": Uuid::new_v4(), "processed_at": DAY})).await;
    books
        .post(
            "inventory.stock.moved",
            books.moved("SOAP-1", "return", "1", "5000", "sales.return"),
        )
        .await;

    // Sale 3, rung up by mistake and voided: it leaves nothing behind.
    let third = books.sale(
        "BLR1T126000003",
        None,
        json!([line(1, "SOAP-1", "1", 100_00, 9_00)]),
        json!([{"mode": "cash", "amount_minor": 118_00, "reference": null}]),
        0,
        118_00,
    );
    let third_id = third["invoice_id"].clone();
    books.post("sales.invoice.issued", third).await;
    books
        .post(
            "inventory.stock.moved",
            books.moved("SOAP-1", "sale", "-1", "5000", "sales.invoice"),
        )
        .await;
    books.post("sales.invoice.voided", json!({"tenant_id": tenant, "invoice_id": third_id,
        "invoice_number": "BLR1T126000003", "store_id": books.store, "customer_id": null, "currency": "INR",
        "lines": [], "payments": [], "total_minor": 118_00, "reason": "rang up twice",
        "voided_by": Uuid::new_v4(), "voided_at": DAY})).await;
    books
        .post(
            "inventory.stock.moved",
            books.moved("SOAP-1", "return", "1", "5000", "sales.void"),
        )
        .await;

    // A damaged soap written off; the credit customer pays ₹200 by UPI; the vendor is
    // paid ₹1,000 by bank transfer. Events that move no money post nothing.
    books
        .post(
            "inventory.stock.adjusted",
            books.adjusted("SOAP-1", "damage", "1", -50_00),
        )
        .await;
    books.post("partners.payment.received", json!({"tenant_id": tenant, "payment_id": Uuid::new_v4(),
        "partner_id": Uuid::new_v4(), "amount_minor": 200_00, "currency": "INR", "mode": "upi",
        "reference": "UTR1", "paid_on": "2026-11-18", "recorded_by": Uuid::new_v4(), "recorded_at": DAY})).await;
    books.post("partners.payment.made", json!({"tenant_id": tenant, "payment_id": Uuid::new_v4(),
        "partner_id": Uuid::new_v4(), "amount_minor": 1_000_00, "currency": "INR", "mode": "bank_transfer",
        "reference": "NEFT1", "paid_on": "2026-11-18", "recorded_by": Uuid::new_v4(), "recorded_at": DAY})).await;
    books.post("inventory.reservation.created", json!({"tenant_id": tenant, "reservation_id": Uuid::new_v4(),
        "location_id": Uuid::new_v4(), "reference": null, "lines": [], "expires_at": DAY, "created_by": Uuid::new_v4(),
        "created_at": DAY})).await;
    assert_eq!(
        books.entries().await,
        19,
        "eighteen from events, one by hand"
    );

    // The trial balance, worked out by hand (debits, credits).
    let tb = books
        .get("/api/v1/finance/trial-balance?as_of=2026-11-18")
        .await;
    assert_eq!(
        balances(&tb),
        [
            ("1000", 318_00, 236_00),     // cash: 200 + 118 in; 118 refunded, 118 voided
            ("1010", 2_000_00, 1_000_00), // bank: capital in, vendor paid
            ("1020", 99_00, 0),           // card
            ("1030", 200_00, 0),          // UPI
            ("1100", 386_00, 200_00),     // receivables: credit sale, payment
            ("1200", 7_100_00, 410_00), // inventory: 5,000 + 2,000 + 50 + 50; 100 + 40 + 150 + 20 + 50 + 50
            ("1320", 100_00, 0),        // input IGST
            ("2000", 1_000_00, 2_100_00), // payables
            ("2010", 2_000_00, 2_000_00), // goods received, then invoiced
            ("2100", 18_00, 56_25),     // output CGST: 19.50 + 27.75 + 9; 9 returned, 9 voided
            ("2110", 18_00, 56_25),     // output SGST
            ("3000", 0, 7_000_00),      // capital: opening stock 5,000, cash 2,000
            ("4000", 100_00, 690_00),   // sales: 260 + 330 + 100; 100 voided
            ("4010", 100_00, 0),        // sales returns
            ("4900", 0, 50),            // round-off
            ("5000", 360_00, 100_00),   // COGS: 100 + 40 + 150 + 20 + 50; 50 returned, 50 voided
            ("5010", 50_00, 0),         // shrinkage
        ]
        .map(|(code, d, c)| (code.to_owned(), d, c))
    );
    assert_eq!(
        (
            tb["total_debit_minor"].as_i64(),
            tb["total_credit_minor"].as_i64()
        ),
        (Some(13_849_00), Some(13_849_00))
    );

    // Profit and loss: income 590 - 100 + 0.50, expenses 260 + 50.
    let pl = books
        .get("/api/v1/finance/profit-and-loss?from=2026-11-01&to=2026-11-30")
        .await;
    assert_eq!(
        (
            pl["income_minor"].as_i64(),
            pl["expenses_minor"].as_i64(),
            pl["net_profit_minor"].as_i64()
        ),
        (Some(490_50), Some(310_00), Some(180_50))
    );
    // The balance sheet balances: assets 82 + 1,000 + 99 + 200 + 186 + 6,690 + 100.
    let bs = books
        .get("/api/v1/finance/balance-sheet?as_of=2026-11-18")
        .await;
    assert_eq!(bs["assets_minor"], 8_357_00);
    assert_eq!(bs["liabilities_minor"], 1_176_50);
    assert_eq!(bs["equity_minor"], 7_000_00);
    assert_eq!(bs["current_earnings_minor"], 180_50);
    assert_eq!(bs["liabilities_and_equity_minor"], 8_357_00);

    // Cash's ledger, with its running balance; the trial balance as CSV.
    let cash = books
        .get("/api/v1/finance/accounts/1000/ledger?from=2026-11-18&to=2026-11-18")
        .await;
    let running: Vec<i64> = cash["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["balance_minor"].as_i64().unwrap())
        .collect();
    assert_eq!(running, [200_00, 82_00, 200_00, 82_00]);
    let csv = send(
        &books.finance.app,
        Method::GET,
        "/api/v1/finance/trial-balance?as_of=2026-11-18&format=csv",
        Some(&books.finance.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    // By store: only the tills' lines.
    let store = books
        .get(&format!(
            "/api/v1/finance/trial-balance?as_of=2026-11-18&store_id={}",
            books.store
        ))
        .await;
    let codes: Vec<String> = balances(&store).into_iter().map(|b| b.0).collect();
    assert_eq!(
        codes,
        ["1000", "1020", "1100", "2100", "2110", "4000", "4010", "4900"]
    );

    // GSTR-3B, worked out by hand. Outward: 260 + 330 taxable less the soap returned
    // (the voided sale is not a supply); CGST = SGST = 19.50 + 27.75 - 9. Credit: the
    // rice's IGST. IGST credit pays CGST and SGST; 100 - 2 x 38.25 is carried forward.
    let gstr3b = books.get("/api/v1/finance/gst/gstr3b?month=2026-11").await;
    let heads = |igst: i64, cgst: i64, sgst: i64| json!({"igst_minor": igst, "cgst_minor": cgst, "sgst_minor": sgst, "cess_minor": 0});
    assert_eq!(
        gstr3b,
        json!({"gstin": GSTIN, "month": "2026-11",
            "outward_taxable": {"taxable_minor": 490_00, "igst_minor": 0, "cgst_minor": 38_25,
                "sgst_minor": 38_25, "cess_minor": 0},
            "outward_nil_rated_minor": 0,
            "itc_available": heads(100_00, 0, 0), "itc_reversed": heads(0, 0, 0), "itc_net": heads(100_00, 0, 0),
            "payment": {"liability": heads(0, 38_25, 38_25), "paid_from_igst_credit": heads(0, 38_25, 38_25),
                "paid_from_cgst_credit": heads(0, 0, 0), "paid_from_sgst_credit": heads(0, 0, 0),
                "paid_from_cess_credit": heads(0, 0, 0), "payable_in_cash": heads(0, 0, 0),
                "credit_carried_forward": heads(23_50, 0, 0)}})
    );
    // The ledger agrees: output CGST 56.25 credited less 18 debited is the 38.25 above.
    assert_eq!(56_25 - 18_00, 38_25);

    // GSTR-1: the credit sale is B2B; sale 1 less its return is B2C small; the HSN
    // summary nets the return; the voided sale is only counted.
    let gstr1 = books
        .get(&format!(
            "/api/v1/finance/gst/gstr1?month=2026-11&gstin={GSTIN}"
        ))
        .await;
    let item = |rate: i32, taxable: i64, half: i64| {
        json!({"rate_bp": rate, "taxable_minor": taxable, "igst_minor": 0, "cgst_minor": half,
            "sgst_minor": half, "cess_minor": 0})
    };
    assert_eq!(
        gstr1,
        json!({"gstin": GSTIN, "month": "2026-11",
            "b2b": [{"customer_gstin": BUYER_GSTIN, "invoice_number": "BLR1T126000002",
                "invoice_date": "2026-11-18", "invoice_value_minor": 386_00, "place_of_supply": "29",
                "items": [item(500, 30_00, 75), item(1800, 300_00, 27_00)]}],
            "b2cl": [], "b2cl_threshold_minor": 100_000_00,
            "b2cs": [
                {"place_of_supply": "29", "supply_type": "intra", "rate_bp": 500, "taxable_minor": 60_00,
                 "igst_minor": 0, "cgst_minor": 1_50, "sgst_minor": 1_50, "cess_minor": 0},
                {"place_of_supply": "29", "supply_type": "intra", "rate_bp": 1800, "taxable_minor": 100_00,
                 "igst_minor": 0, "cgst_minor": 9_00, "sgst_minor": 9_00, "cess_minor": 0}],
            "cdnr": [], "cdnur": [],
            "hsn": [
                {"hsn_code": "1006", "rate_bp": 500, "quantity": "1.5", "total_value_minor": 94_50,
                 "taxable_minor": 90_00, "igst_minor": 0, "cgst_minor": 2_25, "sgst_minor": 2_25, "cess_minor": 0},
                {"hsn_code": "3401", "rate_bp": 1800, "quantity": "4", "total_value_minor": 472_00,
                 "taxable_minor": 400_00, "igst_minor": 0, "cgst_minor": 36_00, "sgst_minor": 36_00, "cess_minor": 0}],
            "documents": {"invoices": 3, "cancelled": 1, "credit_notes": 1}})
    );
    // Another state's registration has nothing this month.
    let maharashtra = books
        .get("/api/v1/finance/gst/gstr3b?month=2026-11&gstin=27AAGCB7383J1Z8")
        .await;
    assert_eq!(maharashtra["outward_taxable"]["taxable_minor"], 0);
    assert_eq!(maharashtra["itc_available"]["igst_minor"], 0);
}

#[tokio::test]
async fn the_books_refuse_what_would_break_them_and_store_nothing() {
    let books = Books::open().await;
    let entry = |lines: Value| json!({"id": Uuid::new_v4(), "date": "2026-11-18", "narration": "Correction", "lines": lines});
    let cases = [
        (
            entry(
                json!([{"account_code": "1000", "debit_minor": 100_00}, {"account_code": "3000", "credit_minor": 99_00}]),
            ),
            "unbalanced_entry",
        ),
        (
            entry(json!([{"account_code": "1000", "debit_minor": 100_00}])),
            "unbalanced_entry",
        ),
        (
            entry(
                json!([{"account_code": "9999", "debit_minor": 100_00}, {"account_code": "3000", "credit_minor": 100_00}]),
            ),
            "unknown_account",
        ),
        (
            entry(
                json!([{"account_code": "1000", "debit_minor": 100_00, "credit_minor": 100_00}, {"account_code": "3000", "credit_minor": 0}]),
            ),
            "invalid_line",
        ),
        (
            entry(
                json!([{"account_code": "1000", "debit_minor": -100_00}, {"account_code": "3000", "credit_minor": -100_00}]),
            ),
            "invalid_line",
        ),
    ];
    for (body, code) in cases {
        let reply = books.manual(&books.accountant, body).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.body
        );
        assert_eq!(reply.code(), code, "{}", reply.body);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
    }
    // A cashier does not post journal entries.
    let cashier = books
        .finance
        .issuer
        .token(books.finance.tenant, &[Role::Cashier]);
    let good = entry(
        json!([{"account_code": "1000", "debit_minor": 100_00}, {"account_code": "3000", "credit_minor": 100_00}]),
    );
    assert_eq!(
        books.manual(&cashier, good.clone()).await.status,
        StatusCode::FORBIDDEN
    );

    // GST returns need a month, a well-formed GSTIN (or a tenant with only one), and a
    // reader of the books.
    for (path, token, status, code) in [
        (
            "gstr1?month=2026-13&gstin=29AAGCB7383J1Z4",
            &books.accountant,
            422,
            "invalid_month",
        ),
        (
            "gstr3b?month=2026-11&gstin=29AAGCB7383",
            &books.accountant,
            422,
            "invalid_gstin",
        ),
        (
            "gstr3b?month=2026-11",
            &books.accountant,
            422,
            "gstin_required",
        ),
        (
            "gstr1?month=2026-11&b2cl_threshold_minor=-1",
            &books.accountant,
            422,
            "invalid_threshold",
        ),
        (
            "gstr1?month=2026-11&gstin=29AAGCB7383J1Z4",
            &cashier,
            403,
            "forbidden",
        ),
    ] {
        let path = format!("/api/v1/finance/gst/{path}");
        let reply = send(
            &books.finance.app,
            Method::GET,
            &path,
            Some(token),
            None,
            &[],
        )
        .await;
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (status, code),
            "{path}: {}",
            reply.body
        );
    }

    // October closed: no entry dated in it, by hand; an event from it posts on 1 November.
    assert_eq!(books.close("2026-10").await.status, StatusCode::CREATED);
    assert_eq!(books.close("2026-10").await.code(), "period_closed");
    assert_eq!(books.close("2026-13").await.code(), "invalid_month");
    let mut late = good.clone();
    late["date"] = json!("2026-10-31");
    let refused = books.manual(&books.accountant, late).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::CONFLICT, "period_closed")
    );
    assert_eq!(books.entries().await, 0, "nothing stored");

    let october: i64 = 1_793_000_000_000; // 2026-10-26
    books.post("partners.payment.received", json!({"tenant_id": books.finance.tenant, "payment_id": Uuid::new_v4(),
        "partner_id": Uuid::new_v4(), "amount_minor": 50_00, "currency": "INR", "mode": "cash",
        "reference": null, "paid_on": "2026-10-26", "recorded_by": Uuid::new_v4(), "recorded_at": october})).await;
    let day = books.get("/api/v1/finance/day-book?date=2026-11-01").await;
    assert_eq!(day[0]["narration"], "Payment received from a customer");

    // The database refuses an unbalanced entry and any edit, whoever asks.
    let mut tx = db::begin_for_tenant(&books.finance.owner, books.finance.tenant)
        .await
        .unwrap();
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO journal_entries (id, tenant_id, posting_date, narration, source, currency) \
                 VALUES ($1, $2, '2026-11-18', 'by hand in SQL', 'manual', 'INR')",
    )
    .bind(id)
    .bind(books.finance.tenant)
    .execute(&mut *tx)
    .await
    .unwrap();
    let err = sqlx::query("INSERT INTO journal_lines (entry_id, tenant_id, line_no, account_code, debit_minor) VALUES ($1, $2, 1, '1000', 100)")
        .bind(id).bind(books.finance.tenant).execute(&mut *tx).await.unwrap_err();
    assert!(err.to_string().contains("does not balance"), "{err}");
    drop(tx);
    // An entry without lines is caught at commit.
    let mut tx = db::begin_for_tenant(&books.finance.owner, books.finance.tenant)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO journal_entries (id, tenant_id, posting_date, narration, source, currency) \
                 VALUES ($1, $2, '2026-11-18', 'no lines', 'manual', 'INR')",
    )
    .bind(Uuid::new_v4())
    .bind(books.finance.tenant)
    .execute(&mut *tx)
    .await
    .unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(err.to_string().contains("does not balance"), "{err}");
    let mut tx = db::begin_for_tenant(&books.finance.owner, books.finance.tenant)
        .await
        .unwrap();
    let edit = sqlx::query("UPDATE journal_lines SET debit_minor = debit_minor + 1")
        .execute(&mut *tx)
        .await;
    assert!(edit.unwrap_err().to_string().contains("append-only"));

    // An event type with no rule is an error, so the runner dead-letters it.
    let product = books.event("catalog.product.created", json!({"tenant_id": books.finance.tenant,
        "product_id": Uuid::new_v4(), "sku": "X", "name": "X", "description": null, "brand": null, "category_id": null,
        "variant_of": null, "attributes": {}, "unit": "piece", "unit_decimals": 0, "hsn_code": null, "gst_rate_bp": 0,
        "cess_rate_bp": 0, "currency": "INR", "mrp_minor": 1, "selling_price_minor": 1, "tax_inclusive": true,
        "reorder_level": null, "created_at": 0}));
    let unknown = consumer::apply(&books.finance.owner, &FinanceLedger::default(), &product).await;
    assert!(unknown.unwrap_err().to_string().contains("no posting rule"));
}

/// A store id in a report or a journal line is one of the tenant's stores within the
/// caller's reach; the whole tenant's books are for users of every store.
#[tokio::test]
async fn books_are_read_and_written_only_for_the_caller_s_stores() {
    let books = Books::open().await;
    let tenant = books.finance.tenant;
    let (theirs, nobody_s) = (Uuid::new_v4(), Uuid::new_v4());
    books.opened(Uuid::new_v4(), theirs).await;
    let other_store = Uuid::new_v4();
    books.opened(tenant, other_store).await;
    let ask = |token: String, path: String| {
        let app = books.finance.app.clone();
        async move { send(&app, Method::GET, &path, Some(&token), None, &[]).await }
    };
    let admin = books.finance.admin.clone();
    let reports = [
        "/api/v1/finance/trial-balance?as_of=2026-11-18",
        "/api/v1/finance/balance-sheet?as_of=2026-11-18",
        "/api/v1/finance/profit-and-loss?from=2026-11-01&to=2026-11-30",
        "/api/v1/finance/day-book?date=2026-11-18",
        "/api/v1/finance/accounts/1000/ledger?from=2026-11-01&to=2026-11-30",
    ];
    for report in reports {
        for store in [theirs, nobody_s] {
            let reply = ask(admin.clone(), format!("{report}&store_id={store}")).await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{report}: {}",
                reply.body
            );
            assert_eq!(reply.body["code"], "unknown_store", "{report}");
        }
        assert_eq!(
            ask(admin.clone(), format!("{report}&store_id={}", books.store))
                .await
                .status,
            StatusCode::OK
        );
    }

    // An accountant of one store sees that store's books, not another's nor the whole
    // tenant's, and files no return (a return covers every store of its GSTIN).
    let of_one_store = books.finance.issuer.token_for(
        tenant,
        &[Role::Accountant],
        Stores::Only(vec![books.store]),
    );
    for report in reports {
        let own = ask(
            of_one_store.clone(),
            format!("{report}&store_id={}", books.store),
        )
        .await;
        assert_eq!(own.status, StatusCode::OK, "{report}: {}", own.body);
        let other = ask(
            of_one_store.clone(),
            format!("{report}&store_id={other_store}"),
        )
        .await;
        assert_eq!(other.body["code"], "unknown_store", "{report}");
        let whole = ask(of_one_store.clone(), report.to_owned()).await;
        assert_eq!(
            whole.status,
            StatusCode::FORBIDDEN,
            "{report}: {}",
            whole.body
        );
        assert_eq!(whole.body["code"], "reach_beyond_own", "{report}");
    }
    for gst_return in ["gstr1", "gstr3b"] {
        let path = format!("/api/v1/finance/gst/{gst_return}?month=2026-11&gstin={GSTIN}");
        assert_eq!(
            ask(of_one_store.clone(), path).await.status,
            StatusCode::FORBIDDEN
        );
    }

    // A manual entry's lines: the tenant's stores within reach, head office for users of
    // every store. Nothing is stored from a refused entry.
    let entry = |store: Option<Uuid>| {
        json!({"id": Uuid::new_v4(), "date": "2026-11-18",
        "narration": "Petty cash topped up", "lines": [
            {"account_code": "1000", "store_id": store, "debit_minor": 500_00},
            {"account_code": "3000", "store_id": store, "credit_minor": 500_00}]})
    };
    for store in [theirs, nobody_s] {
        let refused = books.manual(&books.accountant, entry(Some(store))).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
        assert_eq!(refused.body["code"], "unknown_store");
        assert_eq!(
            refused.body["detail"].as_str().unwrap().split(':').next(),
            Some("lines[0].store_id")
        );
    }
    let head_office = books.manual(&of_one_store, entry(None)).await;
    assert_eq!(
        head_office.status,
        StatusCode::FORBIDDEN,
        "{}",
        head_office.body
    );
    assert_eq!(books.entries().await, 0);
    let own = books.manual(&of_one_store, entry(Some(books.store))).await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
}

#[tokio::test]
async fn an_entry_id_another_tenant_used_is_this_tenant_s_to_use() {
    let books = Books::open().await;
    // Another tenant's entry, in the same database.
    let other = Uuid::new_v4();
    let id = Uuid::new_v4();
    let mut tx = db::begin_for_tenant(&books.finance.owner, other)
        .await
        .unwrap();
    bazaar_finance::chart::ensure(&mut tx, other).await.unwrap();
    sqlx::query(
        "WITH entry AS (INSERT INTO journal_entries (id, tenant_id, posting_date, narration, source, currency) \
                 VALUES ($1, $2, '2026-11-18', 'theirs', 'manual', 'INR') RETURNING id) \
         INSERT INTO journal_lines (entry_id, tenant_id, line_no, account_code, debit_minor, credit_minor) \
         SELECT entry.id, $2, l.n, l.code, l.debit, l.credit FROM entry, \
           (VALUES (1, '1000', 100::int8, 0::int8), (2, '3000', 0, 100)) AS l (n, code, debit, credit)",
    )
    .bind(id)
    .bind(other)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let ours = books
        .manual(&books.accountant, json!({"id": id, "date": "2026-11-18", "narration": "Capital brought in",
            "lines": [{"account_code": "1000", "debit_minor": 100_00}, {"account_code": "3000", "credit_minor": 100_00}]}))
        .await;
    assert_eq!(ours.status, StatusCode::CREATED, "{}", ours.body);
    assert_eq!(ours.body["narration"], "Capital brought in");
}

/// A poll's events share a transaction; when it rolls back, the chart the first event
/// created goes with it, and the events applied again one by one must find none.
#[tokio::test]
async fn a_chart_created_in_a_transaction_that_rolled_back_is_created_again() {
    let books = Books::open().await;
    let ledger = FinanceLedger::default();
    let opening = books.event(
        "inventory.stock.adjusted",
        books.adjusted("SOAP-1", "opening_stock", "100", 5_000_00),
    );
    let damage = books.event(
        "inventory.stock.adjusted",
        books.adjusted("SOAP-1", "damage", "1", -50_00),
    );
    // As the runner applies a poll: the tenant set once for its events.
    let mut tx = db::begin_for_tenant(&books.finance.owner, books.finance.tenant)
        .await
        .unwrap();
    for event in [&opening, &damage] {
        ledger.apply(&mut tx, event).await.unwrap();
    }
    tx.rollback().await.unwrap();
    assert_eq!(books.entries().await, 0);

    for event in [&damage, &opening] {
        let applied = consumer::apply(&books.finance.owner, &ledger, event).await;
        assert!(applied.unwrap_or_else(|e| panic!("{e}")));
    }
    assert_eq!(books.entries().await, 2);
}

#[tokio::test]
async fn the_chart_of_accounts_is_listed_a_page_at_a_time() {
    let books = Books::open().await;
    let codes = |page: Value| -> Vec<String> {
        page.as_array()
            .unwrap()
            .iter()
            .map(|a| a["code"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = codes(books.get("/api/v1/finance/accounts?limit=5").await);
    let second = codes(books.get("/api/v1/finance/accounts?page=2&limit=5").await);
    assert_eq!((first.len(), second.len()), (5, 5));
    assert!(first.last() < second.first(), "{first:?} then {second:?}");
    let too_many = send(
        &books.finance.app,
        Method::GET,
        "/api/v1/finance/accounts?limit=500",
        Some(&books.finance.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(too_many.code(), "invalid_query");
}

/// Every event type FinanceLedger claims reaches an arm of its `apply`.
#[tokio::test]
async fn the_ledger_applies_every_type_it_claims() {
    let service = TestService::start(
        "finance",
        bazaar_finance::migrator(),
        bazaar_finance::router,
    )
    .await;
    claimed_types_are_applied(&service.owner, &FinanceLedger::default()).await;
}
