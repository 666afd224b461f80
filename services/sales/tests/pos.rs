//! The POS against real databases, with inventory and partners answering over HTTP:
//! invoices priced with GST, gap-free numbers under 50 concurrent checkouts, the last
//! unit sold once, exact payments, credit limits, price overrides, unknown barcodes.

// Amounts in paise are written rupees_paise (118_00 is ₹118.00).
#![allow(clippy::inconsistent_digit_grouping)]

use std::collections::HashSet;

use axum::http::{Method, StatusCode};
use bazaar_inventory::{snapshots::InventorySnapshots, store::ProductFacts};
use bazaar_platform::{
    auth::{Role, Stores},
    consumer, db,
    testing::{
        claimed_types_are_applied, event, outbox_events, send, store_opened, Reply, TestIssuer,
        TestService,
    },
    Settings,
};
use bazaar_sales::references::SalesReferences;
use serde_json::{json, Value};
use uuid::Uuid;

/// Sales with inventory and partners behind it, one tenant, one store (Karnataka) with
/// stock of soap (MRP ₹118, 18 %) and rice (₹60/kg before 5 %).
struct Till {
    sales: TestService,
    inventory: TestService,
    partners: TestService,
    store: Uuid,
    soap: Uuid,
    cashier: String,
}

impl Till {
    async fn open(soap_stock: &str) -> Self {
        let (issuer, tenant) = (TestIssuer::new(), Uuid::new_v4());
        let inventory = TestService::start_for(
            "inventory",
            bazaar_inventory::migrator(),
            bazaar_inventory::router,
            &issuer,
            tenant,
        )
        .await;
        let partners = TestService::start_for(
            "partners",
            bazaar_partners::migrator(),
            bazaar_partners::router,
            &issuer,
            tenant,
        )
        .await;
        let mut settings = Settings::from_env().unwrap();
        settings.inventory_url = inventory.listen().await;
        settings.partners_url = partners.listen().await;
        let sales = TestService::start_with(
            "sales",
            bazaar_sales::migrator(),
            bazaar_sales::router,
            &issuer,
            tenant,
            settings,
        )
        .await;
        let store = Uuid::new_v4();
        let (soap, rice) = (Uuid::new_v4(), Uuid::new_v4());
        let till = Till {
            cashier: issuer.token_for(tenant, &[Role::Cashier], Stores::Only(vec![store])),
            sales,
            inventory,
            partners,
            store,
            soap,
        };
        // The store (as identity announced it), its location and stock in inventory.
        store_opened(
            &till.inventory.owner,
            &InventorySnapshots::default(),
            tenant,
            store,
        )
        .await;
        let location = till.ok(&till.inventory, "/api/v1/inventory/locations",
            json!({"code": "BLR-01", "name": "Indiranagar", "kind": "store", "store_id": store})).await;
        for (id, sku, decimals, quantity) in
            [(soap, "SOAP-1", 0, soap_stock), (rice, "RICE-1", 3, "100")]
        {
            let mut tx = db::begin_for_tenant(&till.inventory.owner, tenant)
                .await
                .unwrap();
            let facts = ProductFacts {
                id,
                sku: sku.into(),
                unit_decimals: decimals,
                currency: "INR".into(),
                reorder_level: None,
            };
            bazaar_inventory::store::upsert_product(&mut tx, tenant, &facts)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            till.ok(
                &till.inventory,
                "/api/v1/inventory/adjust",
                json!({"location_id": location["id"],
                "product_id": id, "quantity": quantity, "reason": "opening_stock",
                "unit_cost": {"amount_minor": 50_00, "currency": "INR"}}),
            )
            .await;
        }
        // What sales knows from catalog's events.
        for (id, sku, hsn, unit, decimals, gst, mrp, price, inclusive, barcode) in [
            (
                soap,
                "SOAP-1",
                "3401",
                "piece",
                0,
                1800,
                118_00,
                118_00,
                true,
                "8901030865275",
            ),
            (
                rice,
                "RICE-1",
                "1006",
                "kg",
                3,
                500,
                70_00,
                60_00,
                false,
                "8901030865282",
            ),
        ] {
            till.feed("catalog.product.created", json!({"tenant_id": tenant, "product_id": id, "sku": sku,
                "name": sku, "description": null, "brand": null, "category_id": null, "variant_of": null,
                "attributes": {}, "unit": unit, "unit_decimals": decimals, "hsn_code": hsn, "gst_rate_bp": gst,
                "cess_rate_bp": 0, "currency": "INR", "mrp_minor": mrp, "selling_price_minor": price,
                "tax_inclusive": inclusive, "reorder_level": null, "created_at": 0})).await;
            till.feed(
                "catalog.barcode.assigned",
                json!({"tenant_id": tenant, "product_id": id,
                "barcode": barcode, "kind": "ean13", "assigned_at": 0}),
            )
            .await;
        }
        // The store, as identity announced it.
        till.feed(
            "identity.store.opened",
            json!({"tenant_id": tenant, "store_id": store, "code": "BLR-01", "name": "Indiranagar",
                   "opened_at": 0}),
        )
        .await;
        till.put_store(location["id"].clone()).await;
        till
    }

    async fn put_store(&self, location: Value) {
        let reply = send(
            &self.sales.app,
            Method::PUT,
            &format!("/api/v1/pos/stores/{}", self.store),
            Some(&self.sales.admin),
            Some(
                json!({"code": "BLR1", "state_code": "29", "gstin": "29AAGCB7383J1Z4", "location_id": location}),
            ),
            &[],
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    async fn feed(&self, event_type: &str, payload: Value) {
        self.feed_for(self.sales.tenant, event_type, payload).await;
    }

    /// Feeds an event of `tenant` (the payload's `tenant_id` is set to it).
    async fn feed_for(&self, tenant: Uuid, event_type: &str, mut payload: Value) {
        payload["tenant_id"] = json!(tenant);
        let event = event(event_type, tenant, &payload);
        assert!(
            consumer::apply(&self.sales.owner, &SalesReferences::default(), &event)
                .await
                .unwrap()
        );
    }

    async fn ok(&self, service: &TestService, path: &str, body: Value) -> Value {
        let reply = send(
            &service.app,
            Method::POST,
            path,
            Some(&service.admin),
            Some(body),
            &[],
        )
        .await;
        assert!(reply.status.is_success(), "{path}: {}", reply.body);
        reply.body
    }

    fn sale(&self, terminal: &str, lines: Value, payments: Value) -> Value {
        json!({"id": Uuid::new_v4(), "store_id": self.store, "terminal_id": terminal, "lines": lines, "payments": payments})
    }

    async fn checkout(&self, token: &str, body: Value) -> Reply {
        send(
            &self.sales.app,
            Method::POST,
            "/api/v1/pos/invoices",
            Some(token),
            Some(body),
            &[],
        )
        .await
    }

    async fn on_hand(&self, product: Uuid) -> Value {
        let path = format!("/api/v1/inventory/stock?product_id={product}");
        let reply = send(
            &self.inventory.app,
            Method::GET,
            &path,
            Some(&self.inventory.admin),
            None,
            &[],
        )
        .await;
        reply.body[0].clone()
    }

    async fn invoices(&self) -> i64 {
        let mut tx = db::begin_for_tenant(&self.sales.owner, self.sales.tenant)
            .await
            .unwrap();
        let n = sqlx::query_scalar("SELECT count(*) FROM invoices")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        n
    }
}

fn cash(amount: i64, tendered: i64) -> Value {
    json!([{"mode": "cash", "amount_minor": amount, "tendered_minor": tendered}])
}

#[tokio::test]
async fn an_invoice_is_priced_numbered_paid_and_holds_its_stock() {
    let till = Till::open("10").await;
    // Two soaps by barcode, 1.5 kg of rice with ₹5 off, ₹10 off the bill.
    let mut body = till.sale(
        "T1",
        json!([
        {"barcode": "8901030865275", "quantity": "2"},
        {"sku": "RICE-1", "quantity": "1.500", "discount_minor": 5_00,
         "salesperson_id": Uuid::new_v4()}]),
        cash(315_00, 500_00),
    );
    body["bill_discount_minor"] = json!(10_00);

    // The till shows the total first: priced as the invoice will be, nothing written
    // and no stock held.
    let mut basket = body.clone();
    let basket = basket.as_object_mut().unwrap();
    basket.remove("id");
    basket.remove("payments");
    let quote = send(
        &till.sales.app,
        Method::POST,
        "/api/v1/pos/quote",
        Some(&till.cashier),
        Some(json!(basket)),
        &[],
    )
    .await;
    assert_eq!(quote.status, StatusCode::OK, "{}", quote.body);
    assert_eq!(
        (
            &quote.body["total_minor"],
            &quote.body["round_off_minor"],
            &quote.body["lines"][1]["cgst_minor"]
        ),
        (&json!(315_00), &json!(-12), &json!(2_06))
    );
    assert_eq!(till.invoices().await, 0);
    assert_eq!(till.on_hand(till.soap).await["reserved"], "0");

    let reply = till.checkout(&till.cashier, body.clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let invoice = &reply.body;
    assert!(invoice["number"].as_str().unwrap().starts_with("BLR1T1"));
    assert!(invoice["number"].as_str().unwrap().ends_with("000001"));
    assert_eq!(invoice["total"]["amount_minor"], 315_00);
    assert_eq!(invoice["round_off"]["amount_minor"], -12);
    assert_eq!(invoice["change_due"]["amount_minor"], 185_00);
    assert_eq!(invoice["lines"][1]["cgst_minor"], 2_06);
    assert_eq!(invoice["place_of_supply"], "29");
    // What GST returns need, printed on the invoice and carried by its event.
    assert_eq!(invoice["supplier_gstin"], "29AAGCB7383J1Z4");
    assert_eq!(invoice["lines"][1]["hsn_code"], "1006");
    let event: Value = outbox_events(&till.sales.owner, "sales.invoice.issued").await[0]
        .json()
        .unwrap();
    assert_eq!(
        (
            &event["supplier_gstin"],
            &event["supplier_state"],
            &event["customer_gstin"],
            &event["lines"][0]["hsn_code"]
        ),
        (
            &json!("29AAGCB7383J1Z4"),
            &json!("29"),
            &json!(null),
            &json!("3401")
        )
    );

    // The stock is held for the sale until inventory applies its event.
    let soap = till.on_hand(till.soap).await;
    assert_eq!(
        (soap["on_hand"].as_str(), soap["reserved"].as_str()),
        (Some("10"), Some("2"))
    );
    let issued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'sales.invoice.issued'")
            .fetch_one(&till.sales.owner)
            .await
            .unwrap();
    assert_eq!(issued, 1);

    // Sent again by a terminal that lost the answer: the same invoice, read back from the
    // database, nothing new. The first answer was built without reading back.
    let again = till.checkout(&till.cashier, body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, *invoice);
    assert_eq!(till.invoices().await, 1);
    let listed = send(
        &till.sales.app,
        Method::GET,
        &format!(
            "/api/v1/pos/invoices?store_id={}&terminal_id=T1",
            till.store
        ),
        Some(&till.cashier),
        None,
        &[],
    )
    .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);

    // Inventory applies the sale: the stock leaves and the hold is consumed, once.
    let snapshots = InventorySnapshots::default();
    let issued = outbox_events(&till.sales.owner, "sales.invoice.issued").await;
    assert!(
        consumer::apply(&till.inventory.owner, &snapshots, &issued[0])
            .await
            .unwrap()
    );
    let soap = till.on_hand(till.soap).await;
    assert_eq!(
        (soap["on_hand"].as_str(), soap["reserved"].as_str()),
        (Some("8"), Some("0"))
    );
    let outcomes = || async {
        let released = outbox_events(&till.inventory.owner, "inventory.reservation.released").await;
        released
            .iter()
            .map(|e| e.json().unwrap()["outcome"].clone())
            .collect::<Vec<Value>>()
    };
    assert_eq!(outcomes().await, [json!("consumed")]);

    // A hold released before its sale reaches inventory stays released: the sale still
    // takes the stock, and the hold is not closed a second time.
    let second = till.sale(
        "T1",
        json!([{"sku": "SOAP-1", "quantity": "1"}]),
        cash(118_00, 118_00),
    );
    let reply = till.checkout(&till.cashier, second.clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let mut tx = db::begin_for_tenant(&till.sales.owner, till.sales.tenant)
        .await
        .unwrap();
    let hold: Uuid = sqlx::query_scalar("SELECT reservation_id FROM invoices WHERE id = $1")
        .bind(Uuid::parse_str(second["id"].as_str().unwrap()).unwrap())
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let release = format!("/api/v1/inventory/reservations/{hold}/release");
    let reply = send(
        &till.inventory.app,
        Method::POST,
        &release,
        Some(&till.inventory.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let issued = outbox_events(&till.sales.owner, "sales.invoice.issued").await;
    assert!(
        consumer::apply(&till.inventory.owner, &snapshots, &issued[1])
            .await
            .unwrap()
    );
    assert_eq!(till.on_hand(till.soap).await["on_hand"], "7");
    assert_eq!(outcomes().await, [json!("consumed"), json!("released")]);
}

#[tokio::test]
async fn fifty_concurrent_checkouts_get_fifty_consecutive_numbers() {
    let till = Till::open("1000").await;
    let one = || {
        till.sale(
            "T1",
            json!([{"product_id": till.soap, "quantity": "1"}]),
            cash(118_00, 118_00),
        )
    };
    let other = || {
        till.sale(
            "T2",
            json!([{"product_id": till.soap, "quantity": "1"}]),
            cash(118_00, 118_00),
        )
    };
    let replies = futures::future::join_all((0..60).map(|n| {
        let body = if n < 50 { one() } else { other() };
        let token = till.cashier.clone();
        let till = &till;
        async move { till.checkout(&token, body).await }
    }))
    .await;
    assert!(
        replies.iter().all(|r| r.status == StatusCode::CREATED),
        "{:?}",
        replies
            .iter()
            .find(|r| r.status != StatusCode::CREATED)
            .map(|r| &r.body)
    );
    let numbers = |prefix: &str| -> Vec<String> {
        let mut n: Vec<String> = replies
            .iter()
            .map(|r| r.body["number"].as_str().unwrap().to_owned())
            .filter(|n| n.starts_with(prefix))
            .collect();
        n.sort();
        n
    };
    let t1 = numbers("BLR1T1");
    assert_eq!(t1.len(), 50);
    let expected: Vec<String> = (1..=50)
        .map(|n| format!("{}{n:06}", &t1[0][..t1[0].len() - 6]))
        .collect();
    assert_eq!(t1, expected, "gap-free and unique on one terminal");
    assert_eq!(
        numbers("BLR1T2").len(),
        10,
        "another terminal has its own series"
    );
    let all: HashSet<String> = replies
        .iter()
        .map(|r| r.body["number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all.len(), 60);
}

#[tokio::test]
async fn two_terminals_selling_the_last_unit_sell_it_once() {
    let till = Till::open("1").await;
    let sale = |terminal: &str| {
        till.sale(
            terminal,
            json!([{"product_id": till.soap, "quantity": "1"}]),
            cash(118_00, 118_00),
        )
    };
    let (a, b) = tokio::join!(
        till.checkout(&till.cashier, sale("T1")),
        till.checkout(&till.cashier, sale("T2"))
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
    let lost = if a.status == StatusCode::CONFLICT {
        &a
    } else {
        &b
    };
    assert_eq!(lost.code(), "insufficient_stock");
    assert!(lost.body["detail"].as_str().unwrap().contains("SOAP-1"));
    assert_eq!(till.invoices().await, 1);
}

#[tokio::test]
async fn bad_sales_are_refused_with_a_code_and_write_nothing() {
    let till = Till::open("10").await;
    // A store's GSTIN goes on every invoice: a real one, of the store's own state.
    for (gstin, code) in [
        ("29AAGCB7383J1Z5", "invalid_gstin_check_character"),
        ("29AAGCB7383", "invalid_gstin"),
        ("27AAGCB7383J1Z8", "gstin_state_mismatch"),
    ] {
        let reply = send(
            &till.sales.app,
            Method::PUT,
            &format!("/api/v1/pos/stores/{}", till.store),
            Some(&till.sales.admin),
            Some(json!({"code": "BLR1", "state_code": "29", "gstin": gstin,
            "location_id": Uuid::new_v4()})),
            &[],
        )
        .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, code)
        );
    }
    let soap = json!([{"product_id": till.soap, "quantity": "1"}]);
    let cases = [
        (
            till.sale("T1", soap.clone(), cash(100_00, 100_00)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "payments_do_not_match_total",
        ),
        (
            till.sale(
                "T1",
                json!([{"barcode": "0000000000000", "quantity": "1"}]),
                cash(118_00, 118_00),
            ),
            StatusCode::NOT_FOUND,
            "unknown_barcode",
        ),
        (
            till.sale(
                "T1",
                json!([{"product_id": till.soap, "quantity": "1"}, {"sku": "NO-SUCH", "quantity": "1"}]),
                cash(236_00, 236_00),
            ),
            StatusCode::NOT_FOUND,
            "unknown_product",
        ),
        (
            till.sale(
                "T1",
                json!([{"product_id": Uuid::new_v4(), "quantity": "1"}]),
                cash(118_00, 118_00),
            ),
            StatusCode::NOT_FOUND,
            "unknown_product",
        ),
        (
            till.sale(
                "T1",
                json!([{"product_id": till.soap, "quantity": "1"},
                       {"product_id": till.soap, "sku": "SOAP-1", "quantity": "1"}]),
                cash(236_00, 236_00),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "product_required",
        ),
        (
            till.sale(
                "T1",
                json!([{"product_id": till.soap, "quantity": "1.5"}]),
                cash(177_00, 177_00),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_decimals",
        ),
        (
            till.sale(
                "T1",
                json!([{"product_id": till.soap, "quantity": "1", "unit_price_minor": 1_00}]),
                cash(1_00, 1_00),
            ),
            StatusCode::FORBIDDEN,
            "price_override_forbidden",
        ),
        (
            till.sale(
                "T1",
                soap.clone(),
                json!([{"mode": "upi", "amount_minor": 118_00}]),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reference_required",
        ),
        (
            till.sale(
                "T1",
                soap.clone(),
                json!([{"mode": "credit", "amount_minor": 118_00}]),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "customer_required",
        ),
        (
            till.sale("t-1", soap.clone(), cash(118_00, 118_00)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_terminal",
        ),
        (
            till.sale(
                "T1",
                json!([{"product_id": till.soap, "quantity": "11"}]),
                cash(1_298_00, 1_298_00),
            ),
            StatusCode::CONFLICT,
            "insufficient_stock",
        ),
    ];
    for (body, status, code) in cases {
        let reply = till.checkout(&till.cashier, body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{body}: {}",
            reply.body
        );
    }
    // A store manager may sell at another price.
    let manager = till.sales.issuer.token_for(
        till.sales.tenant,
        &[Role::StoreManager],
        Stores::Only(vec![till.store]),
    );
    let cheaper = till.sale(
        "T1",
        json!([{"product_id": till.soap, "quantity": "1", "unit_price_minor": 100_00}]),
        cash(100_00, 100_00),
    );
    assert_eq!(
        till.checkout(&manager, cheaper).await.status,
        StatusCode::CREATED
    );
    // A cashier of another store cannot sell here.
    let elsewhere = till.sales.issuer.token_for(
        till.sales.tenant,
        &[Role::Cashier],
        Stores::Only(vec![Uuid::new_v4()]),
    );
    assert_eq!(
        till.checkout(
            &elsewhere,
            till.sale("T1", soap.clone(), cash(118_00, 118_00))
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(till.invoices().await, 1, "only the manager's sale");
    // Nothing held by the refused sales: 10 on hand, 1 held by the manager's sale.
    assert_eq!(till.on_hand(till.soap).await["reserved"], "1");
}

#[tokio::test]
async fn a_credit_sale_must_fit_the_customer_s_limit() {
    let till = Till::open("100").await;
    let customer = till
        .ok(
            &till.partners,
            "/api/v1/customers",
            json!({"name": "Asha", "phone": "9845012345",
        "credit_limit": {"amount_minor": 200_00, "currency": "INR"}}),
        )
        .await;
    till.feed("partners.customer.created", json!({"tenant_id": till.sales.tenant, "customer_id": customer["id"],
        "name": "Asha", "phone": "+919845012345", "email": null, "gstin": null, "billing_state_code": null,
        "shipping_state_code": null, "customer_group": null, "currency": "INR", "credit_limit_minor": 200_00,
        "payment_terms_days": 0, "version": 1, "recorded_at": 0})).await;
    let credit = |quantity: &str, amount: i64| {
        let mut body = till.sale(
            "T1",
            json!([{"product_id": till.soap, "quantity": quantity}]),
            json!([{"mode": "credit", "amount_minor": amount}]),
        );
        body["customer_id"] = customer["id"].clone();
        body
    };
    let over = till.checkout(&till.cashier, credit("2", 236_00)).await;
    assert_eq!(over.code(), "credit_limit_exceeded", "{}", over.body);
    assert_eq!(till.invoices().await, 0);
    assert_eq!(
        till.on_hand(till.soap).await["reserved"],
        "0",
        "nothing was held"
    );
    let within = till.checkout(&till.cashier, credit("1", 118_00)).await;
    assert_eq!(within.status, StatusCode::CREATED, "{}", within.body);
    assert_eq!(within.body["customer_id"], customer["id"]);
}

#[tokio::test]
async fn an_offline_batch_is_taken_once_per_invoice_whatever_the_stock() {
    let till = Till::open("2").await;
    let offline = |number: &str, quantity: &str, amount: i64| {
        let mut body = till.sale(
            "T9",
            json!([{"product_id": till.soap, "quantity": quantity}]),
            cash(amount, amount),
        );
        body["offline"] = json!({"number": number, "issued_at": "2026-11-20T10:15:00Z"});
        body
    };
    let batch = json!({"invoices": [
        offline("OFF-T9-0001", "1", 118_00),
        // More than the store has: the sale happened, so it is taken.
        offline("OFF-T9-0002", "5", 590_00),
        // Paid short: refused, the rest still taken.
        offline("OFF-T9-0003", "1", 100_00),
    ]});
    let sync = || {
        send(
            &till.sales.app,
            Method::POST,
            "/api/v1/pos/sync",
            Some(&till.cashier),
            Some(batch.clone()),
            &[],
        )
    };
    let first = sync().await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let statuses: Vec<&str> = first
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["accepted", "accepted", "rejected"]);
    assert_eq!(first.body[1]["number"], "OFF-T9-0002");
    assert_eq!(first.body[2]["code"], "payments_do_not_match_total");
    // The terminal did not hear back and sends it all again.
    let again = sync().await;
    let statuses: Vec<&str> = again
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["duplicate", "duplicate", "rejected"]);
    assert_eq!(till.invoices().await, 2);
    // Another invoice under a number already taken: refused, none of its lines kept.
    let reused = send(
        &till.sales.app,
        Method::POST,
        "/api/v1/pos/sync",
        Some(&till.cashier),
        Some(json!({"invoices": [offline("OFF-T9-0001", "1", 118_00)]})),
        &[],
    )
    .await;
    assert_eq!(
        (
            reused.body[0]["status"].as_str(),
            reused.body[0]["code"].as_str()
        ),
        (Some("rejected"), Some("invoice_conflict")),
        "{}",
        reused.body
    );
    let mut tx = db::begin_for_tenant(&till.sales.owner, till.sales.tenant)
        .await
        .unwrap();
    let kept: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM invoice_lines), (SELECT count(*) FROM invoice_payments)",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(kept, (2, 2), "the two invoices' lines and payments only");
    let offline_events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'sales.invoice.issued'")
            .fetch_one(&till.sales.owner)
            .await
            .unwrap();
    assert_eq!(offline_events, 2);
    // Nothing was reserved: inventory learns of the sales from their events.
    assert_eq!(till.on_hand(till.soap).await["reserved"], "0");
    // It takes 1 and then 5 of the 2 on hand: stock goes below zero, and says so once.
    for issued in outbox_events(&till.sales.owner, "sales.invoice.issued").await {
        assert!(consumer::apply(
            &till.inventory.owner,
            &InventorySnapshots::default(),
            &issued
        )
        .await
        .unwrap());
    }
    assert_eq!(till.on_hand(till.soap).await["on_hand"], "-4");
    let negative = outbox_events(&till.inventory.owner, "inventory.negative_stock").await;
    assert_eq!(negative.len(), 1, "raised once, not per sale below zero");
    let alert: Value = negative[0].json().unwrap();
    assert_eq!(alert["on_hand"], "-4");
    // An offline sale keeps the time it happened.
    let path = format!(
        "/api/v1/pos/invoices/{}",
        batch["invoices"][0]["id"].as_str().unwrap()
    );
    let kept = send(
        &till.sales.app,
        Method::GET,
        &path,
        Some(&till.cashier),
        None,
        &[],
    )
    .await;
    assert_eq!(kept.body["issued_at"], "2026-11-20T10:15:00Z");
    // The online endpoint does not take offline invoices, nor the sync endpoint online ones.
    let misplaced = till
        .checkout(&till.cashier, offline("OFF-T9-0004", "1", 118_00))
        .await;
    assert_eq!(misplaced.code(), "offline_invoice");
    let online = json!({"invoices": [till.sale("T9", json!([{"product_id": till.soap, "quantity": "1"}]), cash(118_00, 118_00))]});
    let reply = send(
        &till.sales.app,
        Method::POST,
        "/api/v1/pos/sync",
        Some(&till.cashier),
        Some(online),
        &[],
    )
    .await;
    assert_eq!(reply.body[0]["code"], "offline_required");
}

#[tokio::test]
async fn returns_never_exceed_what_was_sold_and_voids_need_a_manager() {
    let till = Till::open("20").await;
    let sale = till.sale(
        "T1",
        json!([{"product_id": till.soap, "quantity": "2"}]),
        cash(236_00, 236_00),
    );
    let invoice = till.checkout(&till.cashier, sale).await.body;
    let give_back = |quantity: &str| {
        json!({"id": Uuid::new_v4(), "invoice_id": invoice["id"], "terminal_id": "T1",
        "lines": [{"line_no": 1, "quantity": quantity}], "refund_mode": "cash", "reason": "changed mind"})
    };
    let returns = |body: Value| {
        send(
            &till.sales.app,
            Method::POST,
            "/api/v1/pos/returns",
            Some(&till.cashier),
            Some(body),
            &[],
        )
    };
    let first = returns(give_back("1")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert!(first.body["number"].as_str().unwrap().starts_with("BLR1C"));
    // Half of ₹236, each tax halved: ₹118.
    assert_eq!(first.body["total"]["amount_minor"], 118_00);
    let too_many = returns(give_back("2")).await;
    assert_eq!(too_many.code(), "return_above_sold");
    let rest = returns(give_back("1")).await;
    assert_eq!(
        rest.body["total"]["amount_minor"], 118_00,
        "the remainder, to the paisa"
    );
    assert_eq!(returns(give_back("1")).await.code(), "return_above_sold");
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE event_type = 'sales.return.processed'",
    )
    .fetch_one(&till.sales.owner)
    .await
    .unwrap();
    assert_eq!(events, 2);

    // Voids: today's invoice, nothing returned, by a manager.
    let other = till
        .checkout(
            &till.cashier,
            till.sale(
                "T1",
                json!([{"product_id": till.soap, "quantity": "1"}]),
                cash(118_00, 118_00),
            ),
        )
        .await
        .body;
    let void = |id: &Value, token: &str| {
        let (path, token) = (
            format!("/api/v1/pos/invoices/{}/void", id.as_str().unwrap()),
            token.to_owned(),
        );
        let app = till.sales.app.clone();
        async move {
            send(
                &app,
                Method::POST,
                &path,
                Some(&token),
                Some(json!({"reason": "rang up twice"})),
                &[],
            )
            .await
        }
    };
    assert_eq!(
        void(&other["id"], &till.cashier).await.status,
        StatusCode::FORBIDDEN
    );
    let manager = till.sales.issuer.token_for(
        till.sales.tenant,
        &[Role::StoreManager],
        Stores::Only(vec![till.store]),
    );
    let voided = void(&other["id"], &manager).await;
    assert_eq!(voided.body["status"], "voided", "{}", voided.body);
    assert_eq!(void(&other["id"], &manager).await.code(), "already_voided");
    assert_eq!(void(&invoice["id"], &manager).await.code(), "has_returns");
    let after_void = returns(
        json!({"id": Uuid::new_v4(), "invoice_id": other["id"], "terminal_id": "T1",
        "lines": [{"line_no": 1, "quantity": "1"}], "refund_mode": "cash", "reason": "x"}),
    )
    .await;
    assert_eq!(after_void.code(), "invoice_voided");
    let on_credit = returns(
        json!({"id": Uuid::new_v4(), "invoice_id": invoice["id"], "terminal_id": "T1",
        "lines": [{"line_no": 1, "quantity": "1"}], "refund_mode": "credit", "reason": "x"}),
    )
    .await;
    assert_eq!(on_credit.code(), "customer_required");
}

#[tokio::test]
async fn a_terminal_s_day_holds_bills_and_closes_with_a_z_report() {
    let till = Till::open("50").await;
    let held = |note: &str| {
        json!({"store_id": till.store, "terminal_id": "T1", "note": note,
                                   "lines": [{"sku": "SOAP-1", "quantity": "2"}]})
    };
    let hold = |body: Value| {
        send(
            &till.sales.app,
            Method::POST,
            "/api/v1/pos/held-bills",
            Some(&till.cashier),
            Some(body),
            &[],
        )
    };
    let a = hold(held("went for milk")).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let b = hold(held("forgot wallet")).await.body;
    let c = hold(held("left")).await.body;
    let list = format!(
        "/api/v1/pos/held-bills?store_id={}&terminal_id=T1",
        till.store
    );
    let listed = send(
        &till.sales.app,
        Method::GET,
        &list,
        Some(&till.cashier),
        None,
        &[],
    )
    .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 3);
    let resumed = send(
        &till.sales.app,
        Method::POST,
        &format!(
            "/api/v1/pos/held-bills/{}/resume",
            a.body["id"].as_str().unwrap()
        ),
        Some(&till.cashier),
        None,
        &[],
    )
    .await;
    assert_eq!(resumed.body["lines"][0]["sku"], "SOAP-1");
    let discarded = send(
        &till.sales.app,
        Method::DELETE,
        &format!("/api/v1/pos/held-bills/{}", b["id"].as_str().unwrap()),
        Some(&till.cashier),
        None,
        &[],
    )
    .await;
    assert_eq!(discarded.status, StatusCode::NO_CONTENT);
    let twice = send(
        &till.sales.app,
        Method::POST,
        &format!(
            "/api/v1/pos/held-bills/{}/resume",
            a.body["id"].as_str().unwrap()
        ),
        Some(&till.cashier),
        None,
        &[],
    )
    .await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND);

    // The day: two cash sales (one with change), one by UPI, a cash refund.
    let first = till
        .checkout(
            &till.cashier,
            till.sale(
                "T1",
                json!([{"product_id": till.soap, "quantity": "2"}]),
                cash(236_00, 500_00),
            ),
        )
        .await
        .body;
    till.checkout(
        &till.cashier,
        till.sale(
            "T1",
            json!([{"product_id": till.soap, "quantity": "1"}]),
            cash(118_00, 118_00),
        ),
    )
    .await;
    till.checkout(
        &till.cashier,
        till.sale(
            "T1",
            json!([{"product_id": till.soap, "quantity": "1"}]),
            json!([{"mode": "upi", "amount_minor": 118_00, "reference": "UTR9"}]),
        ),
    )
    .await;
    send(
        &till.sales.app,
        Method::POST,
        "/api/v1/pos/returns",
        Some(&till.cashier),
        Some(json!({"id": Uuid::new_v4(),
        "invoice_id": first["id"], "terminal_id": "T1", "lines": [{"line_no": 1, "quantity": "1"}],
        "refund_mode": "cash", "reason": "damaged"})),
        &[],
    )
    .await;
    let close = |counted: i64| {
        send(
            &till.sales.app,
            Method::POST,
            "/api/v1/pos/day-close",
            Some(&till.cashier),
            Some(
                json!({"store_id": till.store, "terminal_id": "T1", "counted_cash_minor": counted}),
            ),
            &[],
        )
    };
    let z = close(230_00).await;
    assert_eq!(z.status, StatusCode::CREATED, "{}", z.body);
    let report = &z.body;
    assert_eq!(report["invoice_count"], 3);
    assert!(report["first_number"].as_str().unwrap().ends_with("000001"));
    assert!(report["last_number"].as_str().unwrap().ends_with("000003"));
    assert_eq!(
        report["by_payment_mode"],
        json!({"cash": 354_00, "upi": 118_00})
    );
    assert_eq!(
        report["by_tax_rate"]["1800"], 400_00,
        "₹472 of MRP holds ₹400 taxable at 18 %"
    );
    assert_eq!(report["returns_minor"], 118_00);
    // ₹354 in cash less ₹118 refunded: ₹236 expected, ₹230 counted.
    assert_eq!(
        (
            report["expected_cash_minor"].as_i64(),
            report["cash_difference_minor"].as_i64()
        ),
        (Some(236_00), Some(-6_00))
    );
    assert_eq!(
        report["held_bills_expired"], 1,
        "the bill nobody came back for: {c}"
    );
    assert_eq!(close(230_00).await.code(), "day_closed");
    let left = send(
        &till.sales.app,
        Method::GET,
        &list,
        Some(&till.cashier),
        None,
        &[],
    )
    .await;
    assert_eq!(left.body, json!([]));
}

#[tokio::test]
async fn points_pay_part_of_a_bill_and_are_never_overspent() {
    let till = Till::open("100").await;
    let customer = till
        .ok(
            &till.partners,
            "/api/v1/customers",
            json!({"name": "Ravi", "phone": "9000000001"}),
        )
        .await;
    till.feed("partners.customer.created", json!({"tenant_id": till.sales.tenant, "customer_id": customer["id"],
        "name": "Ravi", "phone": "+919000000001", "email": null, "gstin": null, "billing_state_code": null,
        "shipping_state_code": null, "customer_group": null, "currency": "INR", "credit_limit_minor": 0,
        "payment_terms_days": 0, "version": 1, "recorded_at": 0})).await;
    // An earlier ₹2,000 invoice earned 20 points (a point per ₹100, worth ₹1 each).
    let earlier = json!({"tenant_id": till.sales.tenant, "invoice_id": Uuid::new_v4(), "invoice_number": "X1",
        "store_id": till.store, "terminal_id": "T1", "cashier_id": Uuid::new_v4(), "customer_id": customer["id"],
        "reservation_id": null, "offline": false, "currency": "INR", "place_of_supply": "29", "lines": [],
        "payments": [{"mode": "cash", "amount_minor": 2_000_00, "reference": null}], "subtotal_minor": 2_000_00,
        "discount_minor": 0, "tax_minor": 0, "round_off_minor": 0, "total_minor": 2_000_00, "issued_at": 0});
    let earned = event("sales.invoice.issued", till.sales.tenant, &earlier);
    assert!(consumer::apply(
        &till.partners.owner,
        &bazaar_partners::ledgers::PartnerLedgers::default(),
        &earned
    )
    .await
    .unwrap());

    let pay = |points: i64, value: i64| {
        let mut body = till.sale(
            "T1",
            json!([{"product_id": till.soap, "quantity": "1"}]),
            json!([
            {"mode": "loyalty", "amount_minor": value, "points": points},
            {"mode": "cash", "amount_minor": 118_00 - value}]),
        );
        body["customer_id"] = customer["id"].clone();
        body
    };
    let mismatch = till.checkout(&till.cashier, pay(5, 6_00)).await;
    assert_eq!(mismatch.code(), "loyalty_value_mismatch");
    let too_many = till.checkout(&till.cashier, pay(50, 50_00)).await;
    assert_eq!(too_many.code(), "insufficient_points", "{}", too_many.body);
    assert_eq!(till.invoices().await, 0);
    assert_eq!(
        till.on_hand(till.soap).await["reserved"],
        "0",
        "the refused sales held nothing"
    );

    let paid = till.checkout(&till.cashier, pay(15, 15_00)).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
    assert_eq!(paid.body["payments"][0]["mode"], "loyalty");
    let left = send(
        &till.partners.app,
        Method::GET,
        &format!(
            "/api/v1/customers/{}/loyalty",
            customer["id"].as_str().unwrap()
        ),
        Some(&till.partners.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(left.body["points"], 5);
}

#[tokio::test]
async fn amounts_and_quantities_out_of_range_are_refused_naming_the_field() {
    let till = Till::open("20").await;
    let manager = till.sales.issuer.token_for(
        till.sales.tenant,
        &[Role::StoreManager],
        Stores::Only(vec![till.store]),
    );
    let refused = |reply: &Reply| {
        (
            reply.status,
            reply.code().to_owned(),
            reply.body["errors"][0]["field"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };
    let expect =
        |status: StatusCode, code: &str, field: &str| (status, code.to_owned(), field.to_owned());
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;

    // Card i64::MAX + UPI i64::MAX + cash 105000002 wrapped to the ₹10,50,000 total; with
    // stock it would have been issued.
    let wrapped = json!([
        {"mode": "card", "amount_minor": i64::MAX, "reference": "SLIP1"},
        {"mode": "upi", "amount_minor": i64::MAX, "reference": "UTR1"},
        {"mode": "cash", "amount_minor": 105_000_002}]);
    let sale = till.sale(
        "T1",
        json!([{"product_id": till.soap, "quantity": "1", "unit_price_minor": 105_000_000}]),
        wrapped.clone(),
    );
    assert_eq!(
        refused(&till.checkout(&manager, sale).await),
        expect(
            unprocessable,
            "amount_too_large",
            "payments[0].amount_minor"
        )
    );
    // Offline sync reaches the same pricing: refused there too, the rest of the batch kept.
    let mut offline = till.sale(
        "T9",
        json!([{"product_id": till.soap, "quantity": "1", "unit_price_minor": 105_000_000}]),
        wrapped,
    );
    offline["offline"] = json!({"number": "OFF-T9-0001", "issued_at": "2026-11-20T10:15:00Z"});
    let synced = send(
        &till.sales.app,
        Method::POST,
        "/api/v1/pos/sync",
        Some(&till.cashier),
        Some(json!({"invoices": [offline]})),
        &[],
    )
    .await;
    assert_eq!(
        (
            synced.body[0]["status"].as_str(),
            synced.body[0]["code"].as_str()
        ),
        (Some("rejected"), Some("amount_too_large")),
        "{}",
        synced.body
    );

    // A quote of three lines near i64::MAX / 3 answered 200 with a subtotal of ₹1.
    let third = i64::MAX / 3;
    let line = json!({"product_id": till.soap, "quantity": "1", "unit_price_minor": third});
    let quote = send(
        &till.sales.app,
        Method::POST,
        "/api/v1/pos/quote",
        Some(&manager),
        Some(json!({"store_id": till.store, "terminal_id": "T1",
                    "lines": [line.clone(), line.clone(), line]})),
        &[],
    )
    .await;
    assert_eq!(
        refused(&quote),
        expect(
            unprocessable,
            "amount_too_large",
            "lines[0].unit_price_minor"
        )
    );

    // One grammar and one set of codes for quantities.
    for (quantity, code) in [
        ("1_000", "invalid_quantity"),
        ("1e3", "invalid_quantity"),
        ("+1", "invalid_quantity"),
        ("0", "invalid_quantity"),
        ("1.5", "too_many_decimals"),
        ("1000000000", "quantity_too_large"),
    ] {
        let sale = till.sale(
            "T1",
            json!([{"product_id": till.soap, "quantity": quantity}]),
            cash(118_00, 118_00),
        );
        assert_eq!(
            refused(&till.checkout(&till.cashier, sale).await),
            expect(unprocessable, code, "lines[0].quantity"),
            "{quantity}"
        );
    }
    let too_many: Vec<Value> = (0..501)
        .map(|_| json!({"product_id": till.soap, "quantity": "1"}))
        .collect();
    let sale = till.sale("T1", json!(too_many), cash(118_00, 118_00));
    assert_eq!(
        refused(&till.checkout(&till.cashier, sale).await),
        expect(unprocessable, "too_many_lines", "lines")
    );
    assert_eq!(till.invoices().await, 0);

    // Half a piece cannot come back: stock stays whole.
    let sold = till
        .checkout(
            &till.cashier,
            till.sale(
                "T1",
                json!([{"product_id": till.soap, "quantity": "1"}]),
                cash(118_00, 118_00),
            ),
        )
        .await;
    assert_eq!(sold.status, StatusCode::CREATED, "{}", sold.body);
    let half = send(
        &till.sales.app,
        Method::POST,
        "/api/v1/pos/returns",
        Some(&manager),
        Some(
            json!({"id": Uuid::new_v4(), "invoice_id": sold.body["id"], "terminal_id": "T1",
                    "lines": [{"line_no": 1, "quantity": "0.5"}], "refund_mode": "cash",
                    "reason": "half used"}),
        ),
        &[],
    )
    .await;
    assert_eq!(
        refused(&half),
        expect(unprocessable, "too_many_decimals", "lines[0].quantity")
    );
}

#[tokio::test]
async fn after_the_z_report_the_terminal_takes_no_sale_return_void_or_held_bill() {
    let till = Till::open("20").await;
    let manager = till.sales.issuer.token_for(
        till.sales.tenant,
        &[Role::StoreManager],
        Stores::Only(vec![till.store]),
    );
    let soap = json!([{"product_id": till.soap, "quantity": "1"}]);
    let sold = till
        .checkout(
            &till.cashier,
            till.sale("T1", soap.clone(), cash(118_00, 118_00)),
        )
        .await;
    assert_eq!(sold.status, StatusCode::CREATED, "{}", sold.body);
    let post = |path: &'static str, token: String, body: Value| {
        let app = till.sales.app.clone();
        async move { send(&app, Method::POST, path, Some(&token), Some(body), &[]).await }
    };
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).date_naive();
    let future = post(
        "/api/v1/pos/day-close",
        till.cashier.clone(),
        json!({"store_id": till.store, "terminal_id": "T1", "counted_cash_minor": 0, "day": tomorrow}),
    )
    .await;
    assert_eq!(future.code(), "future_day");
    let z = post(
        "/api/v1/pos/day-close",
        till.cashier.clone(),
        json!({"store_id": till.store, "terminal_id": "T1", "counted_cash_minor": 118_00}),
    )
    .await;
    assert_eq!(z.status, StatusCode::CREATED, "{}", z.body);

    let conflict = |reply: Reply| (reply.status, reply.code().to_owned());
    let closed = (StatusCode::CONFLICT, "day_closed".to_owned());
    assert_eq!(
        conflict(
            till.checkout(
                &till.cashier,
                till.sale("T1", soap.clone(), cash(118_00, 118_00))
            )
            .await
        ),
        closed,
        "a sale the Z report would never show"
    );
    let give_back = json!({"id": Uuid::new_v4(), "invoice_id": sold.body["id"], "terminal_id": "T1",
        "lines": [{"line_no": 1, "quantity": "1"}], "refund_mode": "cash", "reason": "damaged"});
    assert_eq!(
        conflict(post("/api/v1/pos/returns", manager.clone(), give_back).await),
        closed
    );
    let void_path = format!(
        "/api/v1/pos/invoices/{}/void",
        sold.body["id"].as_str().unwrap()
    );
    let void = send(
        &till.sales.app,
        Method::POST,
        &void_path,
        Some(&manager),
        Some(json!({"reason": "rang up twice"})),
        &[],
    )
    .await;
    assert_eq!(conflict(void), closed);
    let hold = json!({"store_id": till.store, "terminal_id": "T1", "lines": soap.clone()});
    assert_eq!(
        conflict(post("/api/v1/pos/held-bills", till.cashier.clone(), hold).await),
        closed
    );
    // Another terminal of the store sells on.
    let elsewhere = till
        .checkout(&till.cashier, till.sale("T2", soap, cash(118_00, 118_00)))
        .await;
    assert_eq!(elsewhere.status, StatusCode::CREATED, "{}", elsewhere.body);
    assert_eq!(till.invoices().await, 2);
}

#[tokio::test]
async fn a_store_that_is_not_the_caller_s_is_not_found() {
    let till = Till::open("5").await;
    let owner = &till.sales.admin;
    let unknown = Uuid::new_v4();
    let store = send(
        &till.sales.app,
        Method::GET,
        &format!("/api/v1/pos/stores/{unknown}"),
        Some(owner),
        None,
        &[],
    )
    .await;
    assert_eq!(
        (store.status, store.code()),
        (StatusCode::NOT_FOUND, "unknown_store")
    );
    let mut sale = till.sale(
        "T1",
        json!([{"product_id": till.soap, "quantity": "1"}]),
        cash(118_00, 118_00),
    );
    sale["store_id"] = json!(unknown);
    let sold = till.checkout(owner, sale).await;
    assert_eq!(
        (sold.status, sold.code()),
        (StatusCode::NOT_FOUND, "unknown_store")
    );
    // Another tenant's owner does not find this tenant's configured store either.
    let stranger = till.sales.issuer.token(Uuid::new_v4(), &[Role::Owner]);
    let theirs = send(
        &till.sales.app,
        Method::GET,
        &format!("/api/v1/pos/stores/{}", till.store),
        Some(&stranger),
        None,
        &[],
    )
    .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.body);

    // Settings for a store that is not one of this tenant's (another tenant's, made up),
    // or that an admin of another store does not run: not found, nothing written.
    let settings =
        json!({"code": "ZZ1", "state_code": "29", "gstin": null, "location_id": Uuid::new_v4()});
    let put = |token: String, store: Uuid| {
        let settings = settings.clone();
        let app = till.sales.app.clone();
        async move {
            send(
                &app,
                Method::PUT,
                &format!("/api/v1/pos/stores/{store}"),
                Some(&token),
                Some(settings),
                &[],
            )
            .await
        }
    };
    let elsewhere = Uuid::new_v4();
    let other_tenant_store = Uuid::new_v4();
    till.feed_for(
        Uuid::new_v4(),
        "identity.store.opened",
        json!({"store_id": other_tenant_store, "code": "B-1", "name": "Theirs", "opened_at": 0}),
    )
    .await;
    let store_admin = till.sales.issuer.token_for(
        till.sales.tenant,
        &[Role::Admin],
        Stores::Only(vec![elsewhere]),
    );
    for (token, store) in [
        (owner.clone(), other_tenant_store),
        (owner.clone(), unknown),
        (store_admin, till.store),
    ] {
        let refused = put(token, store).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::NOT_FOUND, "unknown_store"),
            "{store}"
        );
    }
    let mut tx = db::begin_for_tenant(&till.sales.owner, till.sales.tenant)
        .await
        .unwrap();
    let configured: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM stores")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(configured, [till.store]);
}

/// Copies a row of `table` to tenant `to` with the fields of `changes`, as if that
/// tenant had written it.
async fn copy_to_tenant(till: &Till, table: &str, id: &Value, to: Uuid, changes: Value) {
    let mut tx = db::begin_for_tenant(&till.sales.owner, till.sales.tenant)
        .await
        .unwrap();
    let row: Value = sqlx::query_scalar(&format!(
        "SELECT to_jsonb(t) FROM {table} t WHERE id = $1::text::uuid"
    ))
    .bind(id.as_str().unwrap())
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    drop(tx);
    let mut row = row;
    row["tenant_id"] = json!(to);
    for (field, value) in changes.as_object().unwrap() {
        row[field] = value.clone();
    }
    let mut tx = db::begin_for_tenant(&till.sales.owner, to).await.unwrap();
    sqlx::query(&format!(
        "INSERT INTO {table} SELECT * FROM jsonb_populate_record(NULL::{table}, $1)"
    ))
    .bind(row)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn ids_another_tenant_chose_are_free_for_this_one_and_tell_nothing() {
    let till = Till::open("20").await;
    let sold = till
        .checkout(
            &till.cashier,
            till.sale(
                "T1",
                json!([{"product_id": till.soap, "quantity": "2"}]),
                cash(236_00, 236_00),
            ),
        )
        .await;
    assert_eq!(sold.status, StatusCode::CREATED, "{}", sold.body);
    let give_back = |id: Uuid| {
        json!({"id": id, "invoice_id": sold.body["id"], "terminal_id": "T1",
        "lines": [{"line_no": 1, "quantity": "1"}], "refund_mode": "cash", "reason": "changed mind"})
    };
    let returned = send(
        &till.sales.app,
        Method::POST,
        "/api/v1/pos/returns",
        Some(&till.sales.admin),
        Some(give_back(Uuid::new_v4())),
        &[],
    )
    .await;
    assert_eq!(returned.status, StatusCode::CREATED, "{}", returned.body);

    // Another tenant in the same database has an invoice and a credit note whose ids this
    // tenant's terminal now chooses.
    let (other, invoice_id, return_id) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    copy_to_tenant(
        &till,
        "invoices",
        &sold.body["id"],
        other,
        json!({"id": invoice_id, "number": "OTHER1"}),
    )
    .await;
    copy_to_tenant(
        &till,
        "sales_returns",
        &returned.body["id"],
        other,
        json!({"id": return_id, "invoice_id": invoice_id, "number": "OTHERC1"}),
    )
    .await;

    let mut sale = till.sale(
        "T1",
        json!([{"product_id": till.soap, "quantity": "1"}]),
        cash(118_00, 118_00),
    );
    sale["id"] = json!(invoice_id);
    let ours = till.checkout(&till.cashier, sale).await;
    assert_eq!(ours.status, StatusCode::CREATED, "{}", ours.body);
    assert_eq!(ours.body["id"], json!(invoice_id));
    let ours = send(
        &till.sales.app,
        Method::POST,
        "/api/v1/pos/returns",
        Some(&till.sales.admin),
        Some(give_back(return_id)),
        &[],
    )
    .await;
    assert_eq!(ours.status, StatusCode::CREATED, "{}", ours.body);
}

#[tokio::test]
async fn text_a_till_sends_into_events_is_bounded() {
    let till = Till::open("5").await;
    let hold = |line: Value| {
        send(
            &till.sales.app,
            Method::POST,
            "/api/v1/pos/held-bills",
            Some(&till.cashier),
            Some(json!({"store_id": till.store, "terminal_id": "T1", "lines": [line]})),
            &[],
        )
    };
    // The 200,000-character SKU that was published and stalled the relay.
    for (line, field, bound) in [
        (
            json!({"sku": "S".repeat(200_000), "quantity": "1"}),
            "lines[0].sku",
            2_000,
        ),
        (
            json!({"sku": "S".repeat(65), "quantity": "1"}),
            "lines[0].sku",
            64,
        ),
        (
            json!({"barcode": "8".repeat(65), "quantity": "1"}),
            "lines[0].barcode",
            64,
        ),
        (
            json!({"sku": "SOAP-1", "quantity": "1".repeat(25)}),
            "lines[0].quantity",
            24,
        ),
    ] {
        let refused = hold(line).await;
        assert_eq!(
            (
                refused.status,
                refused.code(),
                refused.body["errors"][0]["field"].as_str()
            ),
            (StatusCode::UNPROCESSABLE_ENTITY, "too_long", Some(field)),
            "{}",
            refused.body
        );
        assert_eq!(
            refused.body["errors"][0]["message"],
            format!("at most {bound} characters")
        );
    }
    let mut sale = till.sale(
        "T1",
        json!([{"product_id": till.soap, "quantity": "1"}]),
        cash(118_00, 118_00),
    );
    sale["payments"][0]["reference"] = json!("R".repeat(65));
    let refused = till.checkout(&till.cashier, sale).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "too_long"),
        "{}",
        refused.body
    );
}

/// The user a test token names.
async fn user_of(till: &Till, token: &str) -> Uuid {
    till.sales
        .issuer
        .verifier()
        .verify(token)
        .await
        .unwrap()
        .user
}

#[tokio::test]
async fn a_cashier_cannot_give_goods_away_without_a_manager_s_approval() {
    let till = Till::open("50").await;
    let (tenant, store) = (till.sales.tenant, till.store);
    let manager =
        till.sales
            .issuer
            .token_for(tenant, &[Role::StoreManager], Stores::Only(vec![store]));
    let owner = till.sales.issuer.token(tenant, &[Role::Owner]);
    let soap = |discount: i64| json!([{"product_id": till.soap, "quantity": "1", "discount_minor": discount}]);
    let checkout = |token: String, body: Value, approval: Option<String>| {
        let app = till.sales.app.clone();
        async move {
            let headers: Vec<(&str, &str)> = approval
                .as_deref()
                .map(|a| vec![("approval-token", a)])
                .unwrap_or_default();
            send(
                &app,
                Method::POST,
                "/api/v1/pos/invoices",
                Some(&token),
                Some(body),
                &headers,
            )
            .await
        }
    };
    let refused = |reply: &Reply| (reply.status, reply.code().to_owned());
    let forbidden = |code: &str| (StatusCode::FORBIDDEN, code.to_owned());

    // ₹117 off a ₹118 soap, on the line or on the bill: ₹118 of goods for ₹1.
    let on_line = till.sale("T1", soap(117_00), cash(1_00, 1_00));
    let mut on_bill = till.sale("T1", soap(0), cash(1_00, 1_00));
    on_bill["bill_discount_minor"] = json!(117_00);
    for body in [&on_line, &on_bill] {
        let reply = checkout(till.cashier.clone(), body.clone(), None).await;
        assert_eq!(
            refused(&reply),
            forbidden("discount_beyond_policy"),
            "{}",
            reply.body
        );
    }
    // Approvals that do not approve: not a token, a manager of another store, a cashier,
    // and a manager whose own 30 % does not cover 99 %.
    let elsewhere = till.sales.issuer.token_for(
        tenant,
        &[Role::StoreManager],
        Stores::Only(vec![Uuid::new_v4()]),
    );
    let stranger = till.sales.issuer.token(Uuid::new_v4(), &[Role::Owner]);
    for (approval, code) in [
        ("not-a-token".to_owned(), "invalid_approval"),
        (elsewhere, "invalid_approval"),
        (stranger, "invalid_approval"),
        (till.cashier.clone(), "approval_insufficient"),
        (manager.clone(), "approval_insufficient"),
    ] {
        let reply = checkout(till.cashier.clone(), on_line.clone(), Some(approval)).await;
        assert_eq!(refused(&reply), forbidden(code), "{}", reply.body);
    }
    assert_eq!(till.invoices().await, 0);

    // The owner's approval covers it: issued, and audited naming who approved.
    let approved = checkout(till.cashier.clone(), on_line.clone(), Some(owner.clone())).await;
    assert_eq!(approved.status, StatusCode::CREATED, "{}", approved.body);
    let owner_id = user_of(&till, &owner).await;
    assert_eq!(
        (&approved.body["exceptions"], &approved.body["approved_by"]),
        (&json!(1), &json!(owner_id))
    );
    let audits = outbox_events(&till.sales.owner, "audit.sale.beyond_policy").await;
    assert_eq!(audits.len(), 1);
    let audit: Value = audits[0].json().unwrap();
    assert_eq!(
        (
            &audit["approved_by"],
            &audit["cashier_id"],
            &audit["exceptions"][0]["field"],
            &audit["exceptions"][0]["kind"],
            &audit["exceptions"][0]["amount_minor"]
        ),
        (
            &json!(owner_id),
            &json!(user_of(&till, &till.cashier).await),
            &json!("lines[0].discount_minor"),
            &json!("line_discount"),
            // 10 % of ₹118 was the cashier's to give.
            &json!(117_00 - 11_80)
        )
    );
    // ₹30 off (25 %) is within a store manager's authority; a price below the catalog's
    // too, with the manager's token.
    let quarter = checkout(
        till.cashier.clone(),
        till.sale("T1", soap(30_00), cash(88_00, 88_00)),
        Some(manager.clone()),
    )
    .await;
    assert_eq!(quarter.status, StatusCode::CREATED, "{}", quarter.body);
    let cheaper = till.sale(
        "T1",
        json!([{"product_id": till.soap, "quantity": "1", "unit_price_minor": 100_00}]),
        cash(100_00, 100_00),
    );
    let refused_price = checkout(till.cashier.clone(), cheaper.clone(), None).await;
    assert_eq!(
        refused(&refused_price),
        forbidden("price_override_forbidden")
    );
    let priced = checkout(till.cashier.clone(), cheaper, Some(manager.clone())).await;
    assert_eq!(priced.status, StatusCode::CREATED, "{}", priced.body);

    // The tenant's policy: the owner lets this store's cashiers give half off a line.
    let policy = |token: &str, body: Value| {
        let (app, token) = (till.sales.app.clone(), token.to_owned());
        async move {
            send(
                &app,
                Method::PUT,
                "/api/v1/pos/discount-policy",
                Some(&token),
                Some(body),
                &[],
            )
            .await
        }
    };
    let half = json!({"store_id": store, "role": "cashier", "line_bp": 5000, "line_minor": null,
                      "bill_bp": 1000, "bill_minor": 50_00});
    assert_eq!(
        policy(&till.cashier, half.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        policy(&manager, half.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let mut wide = half.clone();
    wide["line_bp"] = json!(10_001);
    assert_eq!(policy(&owner, wide).await.code(), "invalid_share");
    assert_eq!(policy(&owner, half).await.status, StatusCode::OK);
    let within = checkout(
        till.cashier.clone(),
        till.sale("T1", soap(59_00), cash(59_00, 59_00)),
        None,
    )
    .await;
    assert_eq!(within.status, StatusCode::CREATED, "{}", within.body);
    assert_eq!(within.body["exceptions"], 0);
    let read = send(
        &till.sales.app,
        Method::GET,
        &format!("/api/v1/pos/discount-policy?store_id={store}"),
        Some(&manager),
        None,
        &[],
    )
    .await;
    let cashier_limit = read
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "cashier")
        .unwrap()
        .clone();
    assert_eq!(
        (&cashier_limit["line_bp"], &cashier_limit["bill_minor"]),
        (&json!(5000), &json!(50_00))
    );

    // Managers review what was approved; a cashier may not.
    let path = format!("/api/v1/pos/exceptions?store_id={store}");
    let list = send(
        &till.sales.app,
        Method::GET,
        &path,
        Some(&manager),
        None,
        &[],
    )
    .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let kinds: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["line_discount", "line_discount", "price_deviation"]);
    let denied = send(
        &till.sales.app,
        Method::GET,
        &path,
        Some(&till.cashier),
        None,
        &[],
    )
    .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_offline_sale_below_the_price_in_force_is_taken_and_flagged_for_managers() {
    let till = Till::open("50").await;
    let tenant = till.sales.tenant;
    // Soap went from ₹118 to ₹150 at noon on the 20th.
    till.feed(
        "catalog.price.changed",
        json!({"tenant_id": tenant, "product_id": till.soap,
        "sku": "SOAP-1", "currency": "INR", "mrp_minor_before": 118_00, "mrp_minor": 150_00,
        "selling_price_minor_before": 118_00, "selling_price_minor": 150_00,
        "changed_by": Uuid::new_v4(), "changed_at": 1_795_176_000_000_i64}),
    )
    .await;
    let offline = |number: &str, at: &str, price: i64, discount: i64, paid: i64| {
        let mut body = till.sale(
            "T9",
            json!([{"product_id": till.soap, "quantity": "1", "unit_price_minor": price,
                    "discount_minor": discount}]),
            cash(paid, paid),
        );
        body["offline"] = json!({"number": number, "issued_at": at});
        body
    };
    let batch = json!({"invoices": [
        // At the morning's ₹118: no exception.
        offline("OFF-T9-0001", "2026-11-20T10:15:00Z", 118_00, 0, 118_00),
        // ₹1 in the morning: ₹117 below the price in force.
        offline("OFF-T9-0002", "2026-11-20T10:20:00Z", 1_00, 0, 1_00),
        // ₹118 after noon is ₹32 below ₹150; and ₹100 off is beyond a cashier's 10 %.
        offline("OFF-T9-0003", "2026-11-20T13:00:00Z", 118_00, 100_00, 18_00),
    ]});
    let synced = send(
        &till.sales.app,
        Method::POST,
        "/api/v1/pos/sync",
        Some(&till.cashier),
        Some(batch),
        &[],
    )
    .await;
    let statuses: Vec<&str> = synced
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["accepted", "accepted", "accepted"],
        "{}",
        synced.body
    );

    let manager = till.sales.issuer.token_for(
        tenant,
        &[Role::StoreManager],
        Stores::Only(vec![till.store]),
    );
    let path = format!(
        "/api/v1/pos/exceptions?store_id={}&from=2026-11-20",
        till.store
    );
    let list = send(
        &till.sales.app,
        Method::GET,
        &path,
        Some(&manager),
        None,
        &[],
    )
    .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let found: Vec<(String, String, i64, i64, bool, bool)> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["invoice_number"].as_str().unwrap().to_owned(),
                e["kind"].as_str().unwrap().to_owned(),
                e["allowed_minor"].as_i64().unwrap(),
                e["amount_minor"].as_i64().unwrap(),
                e["offline"].as_bool().unwrap(),
                e["approved_by"].is_null(),
            )
        })
        .collect();
    let row = |n: &str, kind: &str, allowed, amount| {
        (n.to_owned(), kind.to_owned(), allowed, amount, true, true)
    };
    assert_eq!(
        found,
        [
            row("OFF-T9-0002", "price_deviation", 118_00, 117_00),
            row("OFF-T9-0003", "price_deviation", 150_00, 32_00),
            row("OFF-T9-0003", "line_discount", 11_80, 100_00 - 11_80),
        ]
    );
    assert_eq!(
        outbox_events(&till.sales.owner, "audit.sale.beyond_policy")
            .await
            .len(),
        2,
        "one audit event per flagged invoice"
    );
    // The Z report of the day counts them.
    let z = send(
        &till.sales.app,
        Method::POST,
        "/api/v1/pos/day-close",
        Some(&till.cashier),
        Some(
            json!({"store_id": till.store, "terminal_id": "T9", "day": "2026-11-20",
                    "counted_cash_minor": 137_00}),
        ),
        &[],
    )
    .await;
    assert_eq!(z.status, StatusCode::CREATED, "{}", z.body);
    assert_eq!(
        (&z.body["exceptions_count"], &z.body["exceptions_minor"]),
        (&json!(3), &json!(117_00 + 32_00 + 100_00 - 11_80))
    );
}

/// Every event type SalesReferences claims reaches an arm of its `apply`.
#[tokio::test]
async fn sales_references_apply_every_type_they_claim() {
    let service = TestService::start("sales", bazaar_sales::migrator(), bazaar_sales::router).await;
    claimed_types_are_applied(&service.owner, &SalesReferences::default()).await;
}
