//! A store's day of events for the analytics tests, and what every dashboard panel must
//! show for it, worked out by hand: the same figures on Debian's ClickHouse 18.16 and on
//! the current engine.

// Amounts in paise are written rupees_paise (118_00 is ₹118.00).
#![allow(clippy::inconsistent_digit_grouping)]

use bazaar_analytics::queries::View;
use serde_json::{json, Value};
use uuid::Uuid;

/// 2026-11-18, 11:06 UTC.
pub(crate) const DAY: i64 = 1_795_000_000_000;

/// A store's day of events, as the services publish them.
pub(crate) struct Day {
    pub(crate) tenant: Uuid,
    pub(crate) store: Uuid,
    pub(crate) vendor: Uuid,
    pub(crate) oil: Uuid,
    pub(crate) events: Vec<(&'static str, Value)>,
}

/// Soap (₹60 cost, personal care) and rice (₹40, staples) received and sold over two
/// invoices, one soap returned and one damaged, oil (₹100) received and never sold, a
/// vendor's invoice, a manual journal entry, a low-stock and an expiry alert.
pub(crate) fn day() -> Day {
    let (tenant, store, location, vendor) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let (soap, rice, oil) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let (care, staples) = (Uuid::new_v4(), Uuid::new_v4());
    let category = |id: Uuid, name: &str| {
        json!({"tenant_id": tenant, "category_id": id, "parent_id": null, "name": name, "path": name,
            "created_at": DAY})
    };
    let product = |id: Uuid, sku: &str, category: Uuid| {
        json!({"tenant_id": tenant, "product_id": id, "sku": sku, "name": sku, "description": null,
            "brand": null, "category_id": category, "variant_of": null, "attributes": {}, "unit": "piece",
            "unit_decimals": 0, "hsn_code": null, "gst_rate_bp": 1800, "cess_rate_bp": 0, "currency": "INR",
            "mrp_minor": 1, "selling_price_minor": 1, "tax_inclusive": true, "reorder_level": null,
            "created_at": DAY})
    };
    let line = |n: i32, product: Uuid, sku: &str, quantity: &str, taxable: i64, half: i64| {
        json!({"line_no": n, "product_id": product, "sku": sku, "quantity": quantity, "unit_price_minor": 0,
            "discount_minor": 0, "taxable_minor": taxable, "gst_rate_bp": 0, "cgst_minor": half,
            "sgst_minor": half, "igst_minor": 0, "cess_minor": 0, "total_minor": taxable + 2 * half,
            "salesperson_id": null, "hsn_code": null})
    };
    let invoice = |number: &str, lines: Value, mode: &str, total: i64| {
        json!({"tenant_id": tenant, "invoice_id": Uuid::new_v4(), "invoice_number": number, "store_id": store,
            "terminal_id": "T1", "cashier_id": Uuid::new_v4(), "customer_id": null, "reservation_id": null,
            "offline": false, "currency": "INR", "place_of_supply": "29", "supplier_gstin": null,
            "supplier_state": "29", "customer_gstin": null, "lines": lines,
            "payments": [{"mode": mode, "amount_minor": total, "reference": null}], "subtotal_minor": total,
            "discount_minor": 0, "tax_minor": 0, "round_off_minor": 0, "total_minor": total, "issued_at": DAY})
    };
    let moved = |product: Uuid, sku: &str, kind: &str, quantity: &str, cost: &str| {
        json!({"tenant_id": tenant, "movement_id": Uuid::new_v4(), "seq": 1, "location_id": location,
            "store_id": store, "product_id": product, "sku": sku, "batch": "", "expiry_date": null,
            "kind": kind, "quantity": quantity, "unit_cost_minor": cost, "currency": "INR", "on_hand_after": "0",
            "average_cost_after_minor": cost, "reason": null, "reference_type": null, "reference_id": null,
            "recorded_by": null, "recorded_at": DAY})
    };
    let first = invoice(
        "BLR1T126000001",
        json!([
            line(1, soap, "SOAP-1", "2", 200_00, 18_00),
            line(2, rice, "RICE-1", "1.5", 90_00, 2_25)
        ]),
        "cash",
        334_50,
    );
    let events = vec![
        ("catalog.category.created", category(care, "Personal care")),
        ("catalog.category.created", category(staples, "Staples")),
        ("catalog.product.created", product(soap, "SOAP-1", care)),
        ("catalog.product.created", product(rice, "RICE-1", staples)),
        ("catalog.product.created", product(oil, "OIL-1", staples)),
        (
            "inventory.stock.moved",
            moved(soap, "SOAP-1", "receipt", "20", "6000"),
        ),
        (
            "inventory.stock.moved",
            moved(rice, "RICE-1", "receipt", "50", "4000"),
        ),
        (
            "inventory.stock.moved",
            moved(oil, "OIL-1", "receipt", "10", "10000"),
        ),
        ("sales.invoice.issued", first.clone()),
        (
            "inventory.stock.moved",
            moved(soap, "SOAP-1", "sale", "-2", "6000"),
        ),
        (
            "inventory.stock.moved",
            moved(rice, "RICE-1", "sale", "-1.5", "4000"),
        ),
        (
            "sales.invoice.issued",
            invoice(
                "BLR1T126000002",
                json!([line(1, soap, "SOAP-1", "1", 100_00, 9_00)]),
                "upi",
                118_00,
            ),
        ),
        (
            "inventory.stock.moved",
            moved(soap, "SOAP-1", "sale", "-1", "6000"),
        ),
        (
            "sales.return.processed",
            json!({"tenant_id": tenant, "return_id": Uuid::new_v4(),
            "credit_note_number": "BLR1C26000001", "invoice_id": first["invoice_id"], "store_id": store,
            "customer_id": null, "currency": "INR", "lines": [{"line_no": 1, "product_id": soap, "sku": "SOAP-1",
            "quantity": "1", "restock": true, "taxable_minor": 100_00, "gst_rate_bp": 1800, "cgst_minor": 9_00,
            "sgst_minor": 9_00, "igst_minor": 0, "cess_minor": 0, "total_minor": 118_00}], "refund_mode": "cash",
            "total_minor": 118_00, "processed_by": Uuid::new_v4(), "processed_at": DAY}),
        ),
        (
            "inventory.stock.moved",
            moved(soap, "SOAP-1", "return", "1", "6000"),
        ),
        (
            "inventory.stock.moved",
            moved(soap, "SOAP-1", "adjustment", "-1", "6000"),
        ),
        (
            "inventory.low_stock",
            json!({"tenant_id": tenant, "location_id": location, "product_id": soap,
            "sku": "SOAP-1", "available": "17", "reorder_level": "18", "detected_at": DAY}),
        ),
        (
            "inventory.batch.expiring",
            json!({"tenant_id": tenant, "location_id": location, "product_id": rice,
            "sku": "RICE-1", "batch": "R-7", "expiry_date": "2026-11-25", "on_hand": "48.5", "days_left": 7,
            "detected_at": DAY}),
        ),
        (
            "purchase.invoice.recorded",
            json!({"tenant_id": tenant, "invoice_id": Uuid::new_v4(),
            "vendor_id": vendor, "vendor_invoice_number": "M/1", "place_of_supply": "29",
            "invoice_date": "2026-11-18", "due_date": "2026-12-18", "grn_ids": [], "currency": "INR",
            "lines": [{"product_id": rice, "sku": "RICE-1", "quantity": "50", "unit_price_minor": 40_00,
            "taxable_minor": 2_000_00, "gst_rate_bp": 500, "cgst_minor": 50_00, "sgst_minor": 50_00,
            "igst_minor": 0, "cess_minor": 0, "total_minor": 2_100_00, "received_value_minor": 2_000_00}],
            "taxable_minor": 2_000_00, "tax_minor": 100_00, "total_minor": 2_100_00, "status": "matched",
            "recorded_at": DAY}),
        ),
        (
            "finance.entry.posted",
            json!({"tenant_id": tenant, "entry_id": Uuid::new_v4(),
            "posting_date": "2026-11-18", "narration": "Capital", "source": "manual", "source_event_id": null,
            "document": null, "currency": "INR", "reverses": null, "lines": [
            {"account_code": "1010", "store_id": null, "debit_minor": 5_000_00, "credit_minor": 0},
            {"account_code": "3000", "store_id": null, "debit_minor": 0, "credit_minor": 5_000_00}],
            "posted_by": null, "posted_at": DAY}),
        ),
    ];
    Day {
        tenant,
        store,
        vendor,
        oil,
        events,
    }
}

/// Rows of a table as the tests write them.
pub(crate) fn rows(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|v| (*v).to_owned()).collect())
        .collect()
}

/// The range the day's panels are read over, every store.
pub(crate) fn on_the_day(day: &Day) -> View {
    View {
        from: "2026-11-18T00:00:00Z".parse().unwrap(),
        to: "2026-11-18T23:59:59Z".parse().unwrap(),
        tenant: day.tenant,
        store: None,
    }
}

/// Every panel read over the day, with the rows it must show.
pub(crate) fn panels_on_the_day(day: &Day) -> Vec<(&'static str, Vec<Vec<String>>)> {
    let (store, vendor, oil) = (
        day.store.to_string(),
        day.vendor.to_string(),
        day.oil.to_string(),
    );
    // Every panel, with what it must show for 18 November. A panel added without its
    // figures here fails the test.
    vec![
        ("sales.revenue", rows(&[&["39000"]])),
        ("sales.invoices", rows(&[&["2"]])),
        ("sales.average-basket", rows(&[&["19500"]])),
        (
            "sales.revenue-by-day-and-store",
            rows(&[&["2026-11-18", &store, "39000", "5850"]]),
        ),
        (
            "sales.top-skus",
            rows(&[&["SOAP-1", "3000", "30000"], &["RICE-1", "1500", "9000"]]),
        ),
        (
            "sales.top-categories",
            rows(&[&["Personal care", "30000"], &["Staples", "9000"]]),
        ),
        (
            "sales.payment-modes",
            rows(&[&["cash", "1", "29000"], &["upi", "1", "10000"]]),
        ),
        // ₹100 returned of ₹390 sold: 25.64 %.
        ("sales.returns-rate", rows(&[&["2564"]])),
        // ₹390 - ₹100 returned, less the cost sold (₹120 + ₹60 + ₹60) plus the cost back (₹60).
        ("sales.margin", rows(&[&["11000"]])),
        (
            "inventory.stock-value-by-store",
            rows(&[&[&store, "75500", "396000"]]),
        ),
        ("inventory.shrinkage", rows(&[&["6000"]])),
        ("inventory.dead-stock", rows(&[&[&oil, "10000", "100000"]])),
        (
            "purchasing-finance.purchases-by-vendor",
            rows(&[&[&vendor, "200000", "10000"]]),
        ),
        // Output: 58.50 less the 18 returned; input: the rice's 100.
        (
            "purchasing-finance.gst-output-vs-input-by-month",
            rows(&[&["2026-11-01", "4050", "10000"]]),
        ),
        (
            "purchasing-finance.journal-by-account",
            rows(&[&["1010", "500000", "0"], &["3000", "0", "500000"]]),
        ),
    ]
}

/// The alert panels, read over when inventory raised the alerts (now, in the tests).
pub(crate) fn alert_panels() -> Vec<(&'static str, Vec<Vec<String>>)> {
    vec![
        ("inventory.low-stock-alerts", rows(&[&["SOAP-1", "1"]])),
        (
            "inventory.expiring-batches",
            rows(&[&["RICE-1", "R-7", "2026-11-25"]]),
        ),
    ]
}
