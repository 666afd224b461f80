//! Purchase against a real database: an order through approval, two receipts, a
//! matched and a held invoice, and a return; the refusals (cancelled orders,
//! over-receipt, duplicate vendor invoices, cashiers approving); vendor prices and
//! reorder suggestions from the references projection.

// Amounts in paise are written rupees_paise (45_50 is ₹45.50).
#![allow(clippy::inconsistent_digit_grouping)]

use axum::http::{Method, StatusCode};
use bazaar_platform::{
    auth::Role,
    consumer,
    testing::{claimed_types_are_applied, event, send, Reply, TestService},
};
use bazaar_purchase::references::PurchaseReferences;
use chrono::Utc;
use serde_json::{json, Value};
use uuid::Uuid;

/// The service on a database of its own, with a tenant, its admin, a vendor in
/// Karnataka and two products.
struct Purchase {
    service: TestService,
    vendor: Uuid,
    rice: Uuid,
    oil: Uuid,
    /// The store location orders go to.
    store: Uuid,
    /// Identity's store that location is.
    shop: Uuid,
}

impl std::ops::Deref for Purchase {
    type Target = TestService;

    fn deref(&self) -> &TestService {
        &self.service
    }
}

impl Purchase {
    async fn start() -> Self {
        let service = TestService::start(
            "purchase",
            bazaar_purchase::migrator(),
            bazaar_purchase::router,
        )
        .await;
        let p = Self {
            service,
            vendor: Uuid::new_v4(),
            rice: Uuid::new_v4(),
            oil: Uuid::new_v4(),
            store: Uuid::new_v4(),
            shop: Uuid::new_v4(),
        };
        p.feed(
            "inventory.location.added",
            json!({"tenant_id": p.tenant, "location_id": p.store,
            "code": "BLR-01", "name": "Indiranagar", "kind": "store", "store_id": p.shop,
            "added_at": 0}),
        )
        .await;
        p.feed("partners.vendor.created", json!({"tenant_id": p.tenant, "vendor_id": p.vendor,
            "name": "Mills", "gstin": null, "state_code": "29", "payment_terms_days": 30, "currency": "INR",
            "bank_account_masked": null, "bank_ifsc": null, "version": 1, "recorded_at": 0})).await;
        for (id, sku, decimals, gst) in [(p.rice, "RICE-25", 3, 500), (p.oil, "OIL-1", 0, 500)] {
            p.feed("catalog.product.created", json!({"tenant_id": p.tenant, "product_id": id, "sku": sku,
                "name": sku, "description": null, "brand": null, "category_id": null, "variant_of": null,
                "attributes": {}, "unit": if decimals == 3 { "kg" } else { "piece" }, "unit_decimals": decimals,
                "hsn_code": null, "gst_rate_bp": gst, "cess_rate_bp": 0, "currency": "INR", "mrp_minor": 100_00,
                "selling_price_minor": 90_00, "tax_inclusive": true, "reorder_level": "50", "created_at": 0})).await;
        }
        p
    }

    /// Applies another service's event through the references projection.
    async fn feed(&self, event_type: &str, payload: Value) {
        let event = event(event_type, self.tenant, &payload);
        assert!(
            consumer::apply(&self.owner, &PurchaseReferences::default(), &event)
                .await
                .unwrap()
        );
    }

    /// Several events as one poll brings them: applied in one transaction.
    async fn feed_together(&self, events: &[(&str, Value)]) {
        let events: Vec<_> = events
            .iter()
            .map(|(event_type, payload)| event(event_type, self.tenant, payload))
            .collect();
        consumer::apply_poll(
            &self.owner,
            &PurchaseReferences::default(),
            self.tenant,
            events.iter(),
        )
        .await
        .unwrap();
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        send(&self.app, method, path, Some(&self.admin), body, &[]).await
    }

    async fn ok(&self, method: Method, path: &str, body: Value) -> Value {
        let reply = self.send(method, path, Some(body)).await;
        assert!(reply.status.is_success(), "{path}: {}", reply.body);
        reply.body
    }

    async fn order(&self, place: &str) -> Value {
        self.ok(
            Method::POST,
            "/api/v1/purchase-orders",
            json!({"vendor_id": self.vendor,
            "location_id": self.store, "place_of_supply": place, "lines": [
                {"product_id": self.rice, "quantity": "100", "unit_price_minor": 45_50},
                {"sku": "OIL-1", "quantity": "40", "unit_price_minor": 150_00}]}),
        )
        .await
    }

    async fn events(&self, event_type: &str) -> Vec<Value> {
        let rows: Vec<(Vec<u8>,)> =
            sqlx::query_as("SELECT payload FROM outbox WHERE event_type = $1 ORDER BY id")
                .bind(event_type)
                .fetch_all(&self.owner)
                .await
                .unwrap();
        rows.iter()
            .map(|(bytes,)| {
                let (_, value) = bazaar_schemas::Catalogue::embedded().decode(bytes).unwrap();
                serde_json::to_value(bazaar_schemas::from_value::<Value>(&value).unwrap()).unwrap()
            })
            .collect()
    }
}

#[tokio::test]
async fn an_order_is_approved_received_twice_invoiced_and_partly_returned() {
    let p = Purchase::start().await;
    let order = p.order("29").await;
    assert_eq!(order["status"], "draft");
    assert_eq!(order["number"], "PO-000001");
    // ₹4,550 + ₹6,000 at 5 %, within Karnataka: CGST and SGST of ₹263.75 each.
    assert_eq!(order["taxable"]["amount_minor"], 10_550_00);
    assert_eq!(order["tax"]["amount_minor"], 527_50);
    let id = order["id"].as_str().unwrap().to_owned();

    // Not before approval, and not by a cashier.
    let early = p
        .send(
            Method::POST,
            &format!("/api/v1/purchase-orders/{id}/grns"),
            Some(json!({"lines": [{"line_no": 1, "quantity_received": "10"}]})),
        )
        .await;
    assert_eq!(early.code(), "invalid_po_status");
    let cashier = p.issuer.token(p.tenant, &[Role::Cashier]);
    let refused = send(
        &p.app,
        Method::POST,
        &format!("/api/v1/purchase-orders/{id}/approve"),
        Some(&cashier),
        None,
        &[],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let approved = p
        .ok(
            Method::POST,
            &format!("/api/v1/purchase-orders/{id}/approve"),
            json!(null),
        )
        .await;
    assert_eq!(approved["status"], "approved");

    // First delivery: 60 kg of rice (2 kg torn bags refused) and all the oil.
    let grns = format!("/api/v1/purchase-orders/{id}/grns");
    let first = p.ok(Method::POST, &grns, json!({"lines": [
        {"line_no": 1, "quantity_received": "60", "quantity_rejected": "2", "rejection_reason": "torn bags",
         "batch": "R-11", "expiry_date": "2027-06-30"},
        {"line_no": 2, "quantity_received": "40"}]})).await;
    assert_eq!(first["po_status"], "partially_received");
    // Over the 5 % tolerance: 60 + 46 > 105.
    let over = p
        .send(
            Method::POST,
            &grns,
            Some(json!({"lines": [{"line_no": 1, "quantity_received": "46"}]})),
        )
        .await;
    assert_eq!(over.code(), "over_receipt");
    for (body, code) in [
        (
            json!({"lines": [{"line_no": 9, "quantity_received": "1"}]}),
            "unknown_line",
        ),
        (
            json!({"lines": [{"line_no": 1, "quantity_received": "1.2345"}]}),
            "too_many_decimals",
        ),
        (
            json!({"lines": [{"line_no": 1, "quantity_received": "1_000"}]}),
            "invalid_quantity",
        ),
        (
            json!({"lines": [{"line_no": 1, "quantity_received": "0", "quantity_rejected": "1"}]}),
            "rejection_reason_required",
        ),
        (
            json!({"lines": [{"line_no": 1, "quantity_received": "1", "expiry_date": "2020-01-01"}]}),
            "batch_expired",
        ),
        (json!({"lines": []}), "no_lines"),
    ] {
        assert_eq!(p.send(Method::POST, &grns, Some(body)).await.code(), code);
    }
    let second = p
        .ok(
            Method::POST,
            &grns,
            json!({"lines": [{"line_no": 1, "quantity_received": "42.5"}]}),
        )
        .await;
    assert_eq!(
        second["po_status"], "received",
        "102.5 kg of 100 is within tolerance"
    );
    let received = p.events("purchase.grn.received").await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[0]["lines"][0]["quantity_received"], "60");
    assert_eq!(received[0]["lines"][0]["unit_cost_minor"], 45_50);
    assert_eq!(received[0]["location_id"], p.store.to_string());

    // The vendor invoices both receipts at the ordered prices: matched, and booked.
    let grn_ids = [first["id"].clone(), second["id"].clone()];
    let invoice = p.ok(Method::POST, "/api/v1/purchase-invoices", json!({"vendor_id": p.vendor,
        "vendor_invoice_number": "KRM/118", "invoice_date": Utc::now().date_naive(), "grn_ids": grn_ids,
        "lines": [{"sku": "RICE-25", "quantity": "102.5", "unit_price_minor": 45_50},
                  {"product_id": p.oil, "quantity": "40", "unit_price_minor": 150_00}],
        "total_minor": 11_197_13})).await;
    assert_eq!(invoice["status"], "matched", "{invoice}");
    // ₹4,663.75 + ₹6,000 = ₹10,663.75; 5 % as CGST + SGST, each half rounded on its own:
    // 2 x ₹116.59 + 2 x ₹150. The printed total is 20 paise off: within ₹1.
    assert_eq!(invoice["taxable"]["amount_minor"], 10_663_75);
    assert_eq!(invoice["total"]["amount_minor"], 11_196_93);
    let booked = p.events("purchase.invoice.recorded").await;
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0]["total_minor"], invoice["total"]["amount_minor"]);
    assert!(booked[0]["lines"][0]["cgst_minor"].as_i64().unwrap() > 0);
    assert_eq!(booked[0]["lines"][0]["igst_minor"], 0);
    // Delivered in Karnataka: the Karnataka GSTIN takes the credit.
    assert_eq!(booked[0]["place_of_supply"], "29");
    // Billed at the order's prices: each line's value at the receipts' cost is its
    // taxable value, so finance books no price variance.
    for line in booked[0]["lines"].as_array().unwrap() {
        assert_eq!(
            line["received_value_minor"], line["taxable_minor"],
            "{line}"
        );
    }

    // The same vendor invoice number again is refused, whatever it bills.
    let again = p.send(Method::POST, "/api/v1/purchase-invoices", Some(json!({"vendor_id": p.vendor,
        "vendor_invoice_number": "KRM/118", "invoice_date": Utc::now().date_naive(), "grn_ids": grn_ids,
        "lines": [{"sku": "OIL-1", "quantity": "1", "unit_price_minor": 150_00}]}))).await;
    assert_eq!(again.code(), "duplicate_vendor_invoice");

    // 5 kg of rice go back: stock out and the vendor's balance down, from the event.
    let back = p
        .ok(
            Method::POST,
            "/api/v1/purchase-returns",
            json!({"grn_id": first["id"], "reason": "weevils",
        "lines": [{"sku": "RICE-25", "quantity": "5"}]}),
        )
        .await;
    assert_eq!(back["number"], "DN-000001");
    assert_eq!(back["total"]["amount_minor"], 238_88, "₹227.50 + 2 x ₹5.69");
    let returned = p.events("purchase.return.processed").await;
    assert_eq!(returned[0]["lines"][0]["batch"], "R-11");
    assert_eq!(returned[0]["place_of_supply"], "29");
    let too_many = p
        .send(
            Method::POST,
            "/api/v1/purchase-returns",
            Some(json!({"grn_id": first["id"],
        "reason": "more weevils", "lines": [{"sku": "RICE-25", "quantity": "55.001"}]})),
        )
        .await;
    assert_eq!(too_many.code(), "return_above_received");
    // Nor by naming the product twice: 30 and 30 of the 55 that can still go back.
    let twice = p
        .send(
            Method::POST,
            "/api/v1/purchase-returns",
            Some(json!({"grn_id": first["id"], "reason": "more weevils",
        "lines": [{"sku": "RICE-25", "quantity": "30"}, {"sku": "RICE-25", "quantity": "30"}]})),
        )
        .await;
    assert_eq!(twice.code(), "return_above_received", "{}", twice.body);
    assert_eq!(twice.body["errors"][0]["field"], "lines[1].quantity");

    // A cancelled order takes no deliveries.
    let other = p.order("29").await;
    let other_id = other["id"].as_str().unwrap();
    p.ok(
        Method::POST,
        &format!("/api/v1/purchase-orders/{other_id}/cancel"),
        json!({"reason": "duplicate"}),
    )
    .await;
    let late = p
        .send(
            Method::POST,
            &format!("/api/v1/purchase-orders/{other_id}/grns"),
            Some(json!({"lines": [{"line_no": 1, "quantity_received": "1"}]})),
        )
        .await;
    assert_eq!(late.code(), "invalid_po_status");
    assert_eq!(p.events("purchase.po.cancelled").await.len(), 1);
}

/// A partly received order is closed with a reason, once, and says so on its topic; a
/// draft or a fully received order is not.
#[tokio::test]
async fn a_partly_received_order_is_closed_and_its_closing_published() {
    let p = Purchase::start().await;
    let id = p.order("29").await["id"].as_str().unwrap().to_owned();
    let close = format!("/api/v1/purchase-orders/{id}/close");
    let draft = p
        .send(Method::POST, &close, Some(json!({"reason": "not needed"})))
        .await;
    assert_eq!(draft.code(), "invalid_po_status");
    p.ok(
        Method::POST,
        &format!("/api/v1/purchase-orders/{id}/approve"),
        json!(null),
    )
    .await;
    p.ok(
        Method::POST,
        &format!("/api/v1/purchase-orders/{id}/grns"),
        json!({"lines": [{"line_no": 2, "quantity_received": "40"}]}),
    )
    .await;
    for reason in ["  ", &"x".repeat(501)] {
        let bad = p
            .send(Method::POST, &close, Some(json!({"reason": reason})))
            .await;
        assert_eq!(bad.code(), "invalid_text", "{reason:?}");
    }
    let closed = p
        .ok(
            Method::POST,
            &close,
            json!({"reason": "the rice crop failed"}),
        )
        .await;
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["lines"][1]["received"], "40");
    let again = p
        .send(Method::POST, &close, Some(json!({"reason": "again"})))
        .await;
    assert_eq!(again.code(), "invalid_po_status");
    let published = p.events("purchase.po.closed").await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0]["reason"], "the rice crop failed");
    assert_eq!(published[0]["po_id"], id.as_str());
}

/// A vendor invoice, a return and reorder suggestions are another store's when the goods
/// are: not found for a user of other stores, whatever their role.
#[tokio::test]
async fn another_store_s_receipts_invoices_and_suggestions_are_not_found() {
    let p = Purchase::start().await;
    let id = p.order("29").await["id"].as_str().unwrap().to_owned();
    p.ok(
        Method::POST,
        &format!("/api/v1/purchase-orders/{id}/approve"),
        json!(null),
    )
    .await;
    let grn = p
        .ok(
            Method::POST,
            &format!("/api/v1/purchase-orders/{id}/grns"),
            json!({"lines": [{"line_no": 2, "quantity_received": "40"}]}),
        )
        .await;
    let invoice = |number: &str| {
        json!({"vendor_id": p.vendor, "vendor_invoice_number": number,
        "invoice_date": Utc::now().date_naive(), "grn_ids": [grn["id"]],
        "lines": [{"sku": "OIL-1", "quantity": "40", "unit_price_minor": 150_00}]})
    };
    let back = json!({"grn_id": grn["id"], "reason": "leaking", "lines": [{"sku": "OIL-1", "quantity": "1"}]});
    let of = |store: Uuid, role: Role| {
        p.issuer.token_for(
            p.tenant,
            &[role],
            bazaar_platform::auth::Stores::Only(vec![store]),
        )
    };
    let (accountant, manager) = (
        of(Uuid::new_v4(), Role::Accountant),
        of(Uuid::new_v4(), Role::StoreManager),
    );
    let request = |token: &str, method: Method, path: String, body: Option<Value>| {
        let (app, token) = (p.app.clone(), token.to_owned());
        async move { send(&app, method, &path, Some(&token), body, &[]).await }
    };
    let suggestions = format!(
        "/api/v1/purchases/reorder-suggestions?location_id={}",
        p.store
    );

    let billed = request(
        &accountant,
        Method::POST,
        "/api/v1/purchase-invoices".into(),
        Some(invoice("KRM/1")),
    )
    .await;
    assert_eq!(
        (billed.status, billed.code()),
        (StatusCode::NOT_FOUND, "unknown_grn"),
        "{}",
        billed.body
    );
    let returned = request(
        &manager,
        Method::POST,
        "/api/v1/purchase-returns".into(),
        Some(back.clone()),
    )
    .await;
    assert_eq!(
        (returned.status, returned.code()),
        (StatusCode::NOT_FOUND, "unknown_grn"),
        "{}",
        returned.body
    );
    let suggested = request(&manager, Method::GET, suggestions.clone(), None).await;
    assert_eq!(
        (suggested.status, suggested.code()),
        (StatusCode::NOT_FOUND, "unknown_location")
    );
    assert!(p.events("purchase.invoice.recorded").await.is_empty());
    assert!(p.events("purchase.return.processed").await.is_empty());

    let recorded = p
        .ok(Method::POST, "/api/v1/purchase-invoices", invoice("KRM/2"))
        .await;
    let path = format!(
        "/api/v1/purchase-invoices/{}",
        recorded["id"].as_str().unwrap()
    );
    let hidden = request(&accountant, Method::GET, path.clone(), None).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.body);
    let admin_elsewhere = of(Uuid::new_v4(), Role::Admin);
    let approved = request(
        &admin_elsewhere,
        Method::POST,
        format!("{path}/approve"),
        None,
    )
    .await;
    assert_eq!(approved.status, StatusCode::NOT_FOUND, "{}", approved.body);

    // The store's own users: all of it.
    let (accountant, manager) = (of(p.shop, Role::Accountant), of(p.shop, Role::StoreManager));
    assert_eq!(
        request(&accountant, Method::GET, path, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        request(&manager, Method::GET, suggestions, None)
            .await
            .status,
        StatusCode::OK
    );
    let returned = request(
        &manager,
        Method::POST,
        "/api/v1/purchase-returns".into(),
        Some(back),
    )
    .await;
    assert_eq!(returned.status, StatusCode::CREATED, "{}", returned.body);
}

#[tokio::test]
async fn a_store_s_manager_orders_for_and_sees_only_their_own_stores() {
    let p = Purchase::start().await;
    let order = p.order("29").await;
    let as_manager = |store: Uuid| {
        p.issuer.token_for(
            p.tenant,
            &[Role::StoreManager],
            bazaar_platform::auth::Stores::Only(vec![store]),
        )
    };
    let elsewhere = as_manager(Uuid::new_v4());
    let here = as_manager(p.shop);
    let request = |token: &str, method: Method, path: &str, body: Option<Value>| {
        let (app, token, path) = (p.app.clone(), token.to_owned(), path.to_owned());
        async move { send(&app, method, &path, Some(&token), body, &[]).await }
    };
    let new_order = |location: Uuid| {
        json!({"vendor_id": p.vendor, "location_id": location, "place_of_supply": "29",
               "lines": [{"sku": "OIL-1", "quantity": "1", "unit_price_minor": 150_00}]})
    };
    // Into a store they do not run, or a location nobody announced: not found.
    for (token, location) in [(&elsewhere, p.store), (&here, Uuid::new_v4())] {
        let refused = request(
            token,
            Method::POST,
            "/api/v1/purchase-orders",
            Some(new_order(location)),
        )
        .await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::NOT_FOUND, "unknown_location"),
            "{}",
            refused.body
        );
    }
    // Another store's orders are neither listed nor found nor handled.
    let listed = request(&elsewhere, Method::GET, "/api/v1/purchase-orders", None).await;
    assert_eq!(listed.body, json!([]));
    let id = order["id"].as_str().unwrap();
    for (method, path) in [
        (Method::GET, format!("/api/v1/purchase-orders/{id}")),
        (Method::POST, format!("/api/v1/purchase-orders/{id}/cancel")),
    ] {
        let body = (method == Method::POST).then(|| json!({"reason": "not mine"}));
        let hidden = request(&elsewhere, method, &path, body).await;
        assert_eq!(
            hidden.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            hidden.body
        );
    }
    // Their own store's: all of it.
    let listed = request(&here, Method::GET, "/api/v1/purchase-orders", None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1, "{}", listed.body);
    let created = request(
        &here,
        Method::POST,
        "/api/v1/purchase-orders",
        Some(new_order(p.store)),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
}

#[tokio::test]
async fn mismatched_invoices_are_held_until_approved() {
    let p = Purchase::start().await;
    // Delivered to another state: IGST.
    let order = p.order("27").await;
    let id = order["id"].as_str().unwrap().to_owned();
    p.ok(
        Method::POST,
        &format!("/api/v1/purchase-orders/{id}/approve"),
        json!(null),
    )
    .await;
    let grn = p
        .ok(
            Method::POST,
            &format!("/api/v1/purchase-orders/{id}/grns"),
            json!({"lines": [{"line_no": 2, "quantity_received": "40"}]}),
        )
        .await;
    let invoice = p.ok(Method::POST, "/api/v1/purchase-invoices", json!({"vendor_id": p.vendor,
        "vendor_invoice_number": "KRM/200", "invoice_date": Utc::now().date_naive(), "grn_ids": [grn["id"]],
        "lines": [{"sku": "OIL-1", "quantity": "42", "unit_price_minor": 152_00}]})).await;
    assert_eq!(invoice["status"], "held");
    let codes: Vec<&str> = invoice["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["price_above_order", "quantity_above_received"]);
    assert!(
        p.events("purchase.invoice.recorded").await.is_empty(),
        "a held invoice is not booked"
    );

    let path = format!(
        "/api/v1/purchase-invoices/{}/approve",
        invoice["id"].as_str().unwrap()
    );
    let manager = p.issuer.token(p.tenant, &[Role::StoreManager]);
    assert_eq!(
        send(&p.app, Method::POST, &path, Some(&manager), None, &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let approved = p.ok(Method::POST, &path, json!(null)).await;
    assert_eq!(approved["status"], "approved");
    let booked = p.events("purchase.invoice.recorded").await;
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0]["status"], "approved");
    assert_eq!(
        booked[0]["lines"][0]["igst_minor"], 319_20,
        "5 % of ₹6,384 across states"
    );
    assert_eq!(
        p.send(Method::POST, &path, None).await.code(),
        "invoice_not_held"
    );

    // Bad invoices write nothing.
    for (body, code) in [
        (
            json!({"vendor_id": p.vendor, "vendor_invoice_number": "X", "invoice_date": "2026-11-01",
                "grn_ids": [], "lines": [{"sku": "OIL-1", "quantity": "1", "unit_price_minor": 1}]}),
            "no_grns",
        ),
        (
            json!({"vendor_id": p.vendor, "vendor_invoice_number": "X", "invoice_date": "2026-11-01",
                "grn_ids": [Uuid::new_v4()], "lines": [{"sku": "OIL-1", "quantity": "1", "unit_price_minor": 1}]}),
            "unknown_grn",
        ),
        (
            json!({"vendor_id": p.vendor, "vendor_invoice_number": "X", "invoice_date": "2026-11-01",
                "grn_ids": [grn["id"]], "lines": [{"sku": "RICE-25", "quantity": "1", "unit_price_minor": 1}]}),
            "not_received",
        ),
        (
            json!({"vendor_id": Uuid::new_v4(), "vendor_invoice_number": "X", "invoice_date": "2026-11-01",
                "grn_ids": [grn["id"]], "lines": [{"sku": "OIL-1", "quantity": "1", "unit_price_minor": 1}]}),
            "unknown_vendor",
        ),
    ] {
        assert_eq!(
            p.send(Method::POST, "/api/v1/purchase-invoices", Some(body))
                .await
                .code(),
            code
        );
    }
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE event_type = 'purchase.invoice.recorded'",
    )
    .fetch_one(&p.owner)
    .await
    .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn prices_default_from_contracts_and_reorders_follow_sales() {
    let p = Purchase::start().await;
    let contract = p
        .ok(
            Method::PUT,
            "/api/v1/purchases/vendor-pricing",
            json!({"vendor_id": p.vendor,
        "sku": "RICE-25", "unit_price": {"amount_minor": 44_00, "currency": "INR"}}),
        )
        .await;
    assert_eq!(contract[0]["contracted_price_minor"], 44_00);
    // No price given: the contract's.
    let order = p.ok(Method::POST, "/api/v1/purchase-orders", json!({"vendor_id": p.vendor,
        "location_id": p.store, "place_of_supply": "29", "lines": [{"sku": "RICE-25", "quantity": "10"}]})).await;
    assert_eq!(order["lines"][0]["unit_price_minor"], 44_00);
    // No contract and no earlier purchase: the price must be given.
    let unpriced = p.send(Method::POST, "/api/v1/purchase-orders", Some(json!({"vendor_id": p.vendor,
        "location_id": p.store, "place_of_supply": "29", "lines": [{"sku": "OIL-1", "quantity": "10"}]}))).await;
    assert_eq!(unpriced.code(), "price_required");
    let unknown = p.send(Method::POST, "/api/v1/purchase-orders", Some(json!({"vendor_id": Uuid::new_v4(),
        "location_id": p.store, "place_of_supply": "29", "lines": [{"sku": "OIL-1", "quantity": "10"}]}))).await;
    assert_eq!(unknown.code(), "unknown_vendor");

    // The store holds 12 bottles of oil (reorder level 50) and sold 90 in the last 30 days.
    let moved = |seq: i64, kind: &str, quantity: &str, after: &str, days_ago: i64| {
        json!({
        "tenant_id": p.tenant, "movement_id": Uuid::new_v4(), "seq": seq, "location_id": p.store,
        "product_id": p.oil, "sku": "OIL-1", "batch": "", "expiry_date": null, "kind": kind,
        "quantity": quantity, "unit_cost_minor": "15000", "currency": "INR", "on_hand_after": after,
        "average_cost_after_minor": "15000", "reason": null, "reference_type": null, "reference_id": null,
        "recorded_by": null, "recorded_at": (Utc::now() - chrono::Duration::days(days_ago)).timestamp_millis()})
    };
    p.feed(
        "inventory.stock.moved",
        moved(1, "receipt", "102", "102", 20),
    )
    .await;
    // One poll: two sales of the item, and an older movement redelivered late, which
    // does not wind the position back.
    p.feed_together(&[
        ("inventory.stock.moved", moved(2, "sale", "-60", "42", 10)),
        ("inventory.stock.moved", moved(3, "sale", "-30", "12", 1)),
        (
            "inventory.stock.moved",
            moved(1, "receipt", "102", "102", 20),
        ),
    ])
    .await;
    // Alone, as a poll of one brings it.
    p.feed(
        "inventory.stock.moved",
        moved(1, "receipt", "102", "102", 20),
    )
    .await;
    let suggestions = p
        .send(
            Method::GET,
            &format!(
                "/api/v1/purchases/reorder-suggestions?location_id={}",
                p.store
            ),
            None,
        )
        .await;
    assert_eq!(suggestions.status, StatusCode::OK, "{}", suggestions.body);
    let oil = &suggestions.body[0];
    assert_eq!(
        (oil["sku"].as_str(), oil["on_hand"].as_str()),
        (Some("OIL-1"), Some("12"))
    );
    // Back up to twice the reorder level (100, more than 30 days at 3 a day), less the
    // 12 on hand.
    assert_eq!(oil["daily_sales"], "3");
    assert_eq!(oil["suggested_quantity"], "88");
    assert_eq!(
        suggestions.body.as_array().unwrap().len(),
        1,
        "rice has no stock position here"
    );
    let bad = p
        .send(
            Method::GET,
            &format!(
                "/api/v1/purchases/reorder-suggestions?location_id={}&cover_days=0",
                p.store
            ),
            None,
        )
        .await;
    assert_eq!(bad.code(), "invalid_query");
}

/// Every event type PurchaseReferences claims reaches an arm of its `apply`.
#[tokio::test]
async fn purchase_references_apply_every_type_they_claim() {
    let service = TestService::start(
        "purchase",
        bazaar_purchase::migrator(),
        bazaar_purchase::router,
    )
    .await;
    claimed_types_are_applied(&service.owner, &PurchaseReferences::default()).await;
}
