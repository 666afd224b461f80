//! Partners against a real database: customers and vendors with their validation,
//! payments, the ledgers the projection builds from sales, purchase and payment events,
//! ageing, credit checks and loyalty points.

// Amounts in paise are written rupees_paise (5_000_00 is ₹5,000.00).
#![allow(clippy::inconsistent_digit_grouping)]

use axum::http::{Method, StatusCode};
use bazaar_partners::ledgers::PartnerLedgers;
use bazaar_platform::{
    auth::Role,
    consumer,
    testing::{claimed_types_are_applied, event, outbox_events, send, Reply, TestService},
};
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

/// The service on a database of its own, with a tenant and its admin.
struct Partners(TestService);

impl std::ops::Deref for Partners {
    type Target = TestService;

    fn deref(&self) -> &TestService {
        &self.0
    }
}

fn inr(minor: i64) -> Value {
    json!({"amount_minor": minor, "currency": "INR"})
}

fn millis_days_ago(days: i64) -> i64 {
    (Utc::now() - Duration::days(days)).timestamp_millis()
}

impl Partners {
    async fn start() -> Self {
        Self(
            TestService::start(
                "partners",
                bazaar_partners::migrator(),
                bazaar_partners::router,
            )
            .await,
        )
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        send(&self.app, method, path, Some(&self.admin), body, &[]).await
    }

    async fn created(&self, path: &str, body: Value) -> Value {
        let reply = self.send(Method::POST, path, Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
        reply.body
    }

    /// Applies an event through the projection, exactly as the consumer runner would.
    async fn apply(&self, event_type: &str, payload: Value) -> bool {
        let event = event(event_type, self.tenant, &payload);
        consumer::apply(&self.owner, &PartnerLedgers::default(), &event)
            .await
            .unwrap()
    }

    /// A credit sale of `total` (of which `on_credit` on credit) `days_ago`.
    fn sale(&self, customer: &str, total: i64, on_credit: i64, days_ago: i64) -> Value {
        let mut payments =
            vec![json!({"mode": "credit", "amount_minor": on_credit, "reference": null})];
        if total > on_credit {
            payments.push(
                json!({"mode": "cash", "amount_minor": total - on_credit, "reference": null}),
            );
        }
        json!({
            "tenant_id": self.tenant, "invoice_id": Uuid::new_v4(), "invoice_number": "BLR01T1-000042",
            "store_id": Uuid::new_v4(), "terminal_id": "T1", "cashier_id": Uuid::new_v4(),
            "customer_id": customer, "reservation_id": null, "offline": false, "currency": "INR",
            "place_of_supply": "29", "lines": [], "payments": payments, "subtotal_minor": total,
            "discount_minor": 0, "tax_minor": 0, "round_off_minor": 0, "total_minor": total,
            "issued_at": millis_days_ago(days_ago)})
    }
}

const GSTIN: &str = "29AAGCB7383J1Z4";

fn address(state: &str) -> Value {
    json!({"line1": "12 MG Road", "city": "Bengaluru", "state_code": state, "pincode": "560001"})
}

#[tokio::test]
async fn customers_and_vendors_are_validated_and_found_by_phone() {
    let p = Partners::start().await;
    let customer = p
        .created("/api/v1/customers", json!({"name": "Asha Traders", "phone": "98450 12345", "gstin": GSTIN,
                  "billing_address": address("29"), "credit_limit": inr(5_000_00), "payment_terms_days": 30,
                  "customer_group": "wholesale"}))
        .await;
    assert_eq!(customer["phone"], "+919845012345");
    assert_eq!(customer["credit_limit"], inr(5_000_00));

    // The till finds them however the number is typed.
    let cashier = p.issuer.token(p.tenant, &[Role::Cashier]);
    let found = send(
        &p.app,
        Method::GET,
        "/api/v1/customers?phone=%2B91-98450-12345",
        Some(&cashier),
        None,
        &[],
    )
    .await;
    assert_eq!(found.body.as_array().unwrap().len(), 1, "{}", found.body);

    let bad = [
        (json!({"name": "X", "phone": "12"}), "invalid_phone"),
        (
            json!({"name": "X", "phone": "9845012399", "gstin": "29AAGCB7383J1Z5"}),
            "invalid_gstin_check_character",
        ),
        (
            json!({"name": "X", "phone": "9845012399", "gstin": "29AAGCB7383"}),
            "invalid_gstin",
        ),
        (
            json!({"name": "X", "phone": "9845012399", "gstin": GSTIN, "billing_address": address("27")}),
            "state_mismatch",
        ),
        (
            json!({"name": "X", "phone": "9845012399", "billing_address": address("40")}),
            "invalid_state_code",
        ),
        (
            json!({"name": "X", "phone": "9845012399", "email": "not-an-email"}),
            "invalid_email",
        ),
        (
            json!({"name": "X", "phone": "9845012399", "payment_terms_days": 400}),
            "invalid_payment_terms",
        ),
        (json!({"name": "X", "phone": "98450-12345"}), "phone_taken"),
        (json!({"phone": "9845012399"}), "required"),
    ];
    for (body, code) in bad {
        let reply = p
            .send(Method::POST, "/api/v1/customers", Some(body.clone()))
            .await;
        assert_eq!(reply.code(), code, "{body}: {}", reply.body);
    }
    let written: Vec<(String, i64)> =
        sqlx::query_as("SELECT event_type, count(*) FROM outbox GROUP BY 1 ORDER BY 1")
            .fetch_all(&p.owner)
            .await
            .unwrap();
    assert_eq!(
        written,
        [
            ("audit.credit_terms.changed".to_owned(), 1),
            ("partners.customer.created".to_owned(), 1)
        ],
        "only the first customer was written, its credit audited"
    );

    let id = customer["id"].as_str().unwrap();
    let changed = p
        .send(
            Method::PATCH,
            &format!("/api/v1/customers/{id}"),
            Some(json!({"payment_terms_days": 45})),
        )
        .await;
    assert_eq!(changed.body["version"], 2, "{}", changed.body);

    let vendor = p
        .created("/api/v1/vendors", json!({"name": "Karnataka Rice Mills", "gstin": "27AAPFU0939F1ZV",
                  "contacts": [{"name": "Ravi", "phone": "9876543210"}], "payment_terms_days": 45,
                  "bank": {"account_number": "50100123456789", "ifsc": "hdfc0001234", "bank_name": "HDFC"}}))
        .await;
    assert_eq!(vendor["state_code"], "27", "taken from the GSTIN");
    assert_eq!(vendor["bank"]["account_number"], "XXXXXXXXXX6789");
    assert_eq!(vendor["contacts"][0]["phone"], "+919876543210");
    let again = p
        .send(
            Method::POST,
            "/api/v1/vendors",
            Some(json!({"name": "Copy", "gstin": "27AAPFU0939F1ZV"})),
        )
        .await;
    assert_eq!(again.code(), "gstin_taken");
    let ifsc = p
        .send(
            Method::POST,
            "/api/v1/vendors",
            Some(json!({"name": "Y", "state_code": "29",
                       "bank": {"account_number": "50100123456789", "ifsc": "HDFC1001234"}})),
        )
        .await;
    assert_eq!(ifsc.code(), "invalid_ifsc");
    // Cashiers keep customers, not vendors.
    let vendors = send(
        &p.app,
        Method::GET,
        "/api/v1/vendors",
        Some(&cashier),
        None,
        &[],
    )
    .await;
    assert_eq!(vendors.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn ledgers_age_what_is_owed_and_the_credit_check_uses_them() {
    let p = Partners::start().await;
    let customer = p
        .created(
            "/api/v1/customers",
            json!({"name": "Asha", "phone": "9845012345",
                  "credit_limit": inr(10_000_00), "payment_terms_days": 15}),
        )
        .await;
    let id = customer["id"].as_str().unwrap().to_owned();

    // Credit sales 100 and 40 days ago, and one today (part cash).
    assert!(
        p.apply("sales.invoice.issued", p.sale(&id, 3_000_00, 3_000_00, 100))
            .await
    );
    assert!(
        p.apply("sales.invoice.issued", p.sale(&id, 2_500_00, 2_500_00, 40))
            .await
    );
    // Delivered twice (a consumer crash before its offset commit): applied once.
    let event = event(
        "sales.invoice.issued",
        p.tenant,
        &p.sale(&id, 4_000_00, 1_500_00, 0),
    );
    assert!(
        consumer::apply(&p.owner, &PartnerLedgers::default(), &event)
            .await
            .unwrap()
    );
    assert!(
        !consumer::apply(&p.owner, &PartnerLedgers::default(), &event)
            .await
            .unwrap()
    );

    // A payment through the API; its event reaches the ledger through the projection.
    let paid = p
        .created(
            &format!("/api/v1/customers/{id}/payments"),
            json!({"amount": inr(2_000_00), "mode": "upi", "reference": "UTR123"}),
        )
        .await;
    let payment = json!({"tenant_id": p.tenant, "payment_id": paid["id"], "partner_id": id,
        "amount_minor": 2_000_00, "currency": "INR", "mode": "upi", "reference": "UTR123",
        "paid_on": Utc::now().date_naive().to_string(), "recorded_by": Uuid::new_v4(),
        "recorded_at": Utc::now().timestamp_millis()});
    assert!(p.apply("partners.payment.received", payment).await);

    let ledger = p
        .send(Method::GET, &format!("/api/v1/customers/{id}/ledger"), None)
        .await;
    assert_eq!(ledger.status, StatusCode::OK, "{}", ledger.body);
    // Owed: 3,000 + 2,500 + 1,500 on credit - 2,000 paid.
    assert_eq!(ledger.body["balance"], inr(5_000_00));
    // The payment clears the oldest first: 1,000 of the 100-day sale is left.
    assert_eq!(
        ledger.body["ageing"],
        json!({"days_0_30": 1_500_00, "days_31_60": 2_500_00,
                                             "days_61_90": 0, "days_over_90": 1_000_00})
    );
    let last = ledger.body["entries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["balance_minor"], 5_000_00);

    let check_path = format!("/api/v1/customers/{id}/credit-check");
    let check = |amount: i64| {
        p.send(
            Method::POST,
            &check_path,
            Some(json!({"amount": inr(amount)})),
        )
    };
    let fits = check(5_000_00).await;
    assert_eq!(fits.body["allowed"], true, "{}", fits.body);
    assert_eq!(fits.body["available"], inr(5_000_00));
    let over = check(5_000_01).await;
    assert_eq!(over.body["allowed"], false);
    assert_eq!(check(0).await.code(), "invalid_amount");

    let dues = p.send(Method::GET, "/api/v1/customers/dues", None).await;
    assert_eq!(dues.body[0]["balance"], inr(5_000_00), "{}", dues.body);
    assert_eq!(
        dues.body[0]["overdue"],
        inr(3_500_00),
        "the two old sales less the payment"
    );

    // Bad payments write nothing.
    let path = format!("/api/v1/customers/{id}/payments");
    for (body, code) in [
        (json!({"amount": inr(0), "mode": "cash"}), "invalid_amount"),
        (
            json!({"amount": inr(100), "mode": "barter"}),
            "unknown_payment_mode",
        ),
        (
            json!({"amount": {"amount_minor": 100, "currency": "SGD"}, "mode": "cash"}),
            "currency_mismatch",
        ),
        (
            json!({"amount": inr(100), "mode": "cash", "paid_on": "2099-01-01"}),
            "future_date",
        ),
    ] {
        assert_eq!(p.send(Method::POST, &path, Some(body)).await.code(), code);
    }
    let unknown = p
        .send(
            Method::POST,
            &format!("/api/v1/customers/{}/payments", Uuid::new_v4()),
            Some(json!({"amount": inr(100), "mode": "cash"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn vendor_ledgers_come_from_purchase_invoices_returns_and_payments() {
    let p = Partners::start().await;
    let vendor = p
        .created(
            "/api/v1/vendors",
            json!({"name": "Mills", "state_code": "29"}),
        )
        .await;
    let id = vendor["id"].as_str().unwrap().to_owned();
    let today = Utc::now().date_naive();
    let invoice = json!({"tenant_id": p.tenant, "invoice_id": Uuid::new_v4(), "vendor_id": id,
        "vendor_invoice_number": "KRM/2026/118", "invoice_date": (today - Duration::days(50)).to_string(),
        "due_date": (today - Duration::days(5)).to_string(), "grn_ids": [Uuid::new_v4()], "currency": "INR",
        "lines": [], "taxable_minor": 100_000_00, "tax_minor": 5_000_00, "total_minor": 105_000_00,
        "status": "matched", "recorded_at": Utc::now().timestamp_millis()});
    assert!(p.apply("purchase.invoice.recorded", invoice).await);
    let returned = json!({"tenant_id": p.tenant, "return_id": Uuid::new_v4(), "debit_note_number": "DN-7",
        "grn_id": Uuid::new_v4(), "vendor_id": id, "location_id": Uuid::new_v4(), "currency": "INR",
        "lines": [], "total_minor": 5_000_00, "reason": "damaged", "returned_by": Uuid::new_v4(),
        "returned_at": Utc::now().timestamp_millis()});
    assert!(p.apply("purchase.return.processed", returned).await);
    let paid = p
        .created(
            &format!("/api/v1/vendors/{id}/payments"),
            json!({"amount": inr(60_000_00), "mode": "bank_transfer"}),
        )
        .await;
    let payment = json!({"tenant_id": p.tenant, "payment_id": paid["id"], "partner_id": id,
        "amount_minor": 60_000_00, "currency": "INR", "mode": "bank_transfer", "reference": null,
        "paid_on": today.to_string(), "recorded_by": Uuid::new_v4(), "recorded_at": Utc::now().timestamp_millis()});
    assert!(p.apply("partners.payment.made", payment).await);

    let ledger = p
        .send(Method::GET, &format!("/api/v1/vendors/{id}/ledger"), None)
        .await;
    assert_eq!(ledger.body["balance"], inr(40_000_00), "{}", ledger.body);
    assert_eq!(ledger.body["ageing"]["days_31_60"], 40_000_00);
    let kinds: Vec<&str> = ledger.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["document_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["purchase_invoice", "purchase_return", "payment"]);
}

#[tokio::test]
async fn points_are_earned_per_invoice_and_never_overspent() {
    let p = Partners::start().await;
    let rule = p
        .send(
            Method::PUT,
            "/api/v1/loyalty/rule",
            Some(json!({"spend_minor_per_point": 5_000, "point_value_minor": 50})),
        )
        .await;
    assert_eq!(rule.status, StatusCode::OK, "{}", rule.body);
    let customer = p
        .created(
            "/api/v1/customers",
            json!({"name": "Ravi", "phone": "9000000001"}),
        )
        .await;
    let id = customer["id"].as_str().unwrap().to_owned();
    // ₹1,234 in cash: 24 points at a point per ₹50.
    assert!(
        p.apply("sales.invoice.issued", p.sale(&id, 1_234_00, 0, 0))
            .await
    );
    let earned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE event_type = 'partners.loyalty.earned'",
    )
    .fetch_one(&p.owner)
    .await
    .unwrap();
    assert_eq!(earned, 1);
    let balance = p
        .send(
            Method::GET,
            &format!("/api/v1/customers/{id}/loyalty"),
            None,
        )
        .await;
    assert_eq!(
        (balance.body["points"].as_i64(), &balance.body["value"]),
        (Some(24), &inr(12_00))
    );

    let redeem = format!("/api/v1/customers/{id}/loyalty/redeem");
    let cashier = p.issuer.token(p.tenant, &[Role::Cashier]);
    let spend = |points: i64| {
        send(
            &p.app,
            Method::POST,
            &redeem,
            Some(&cashier),
            Some(json!({"points": points, "reference": "INV-9"})),
            &[],
        )
    };
    let spent = spend(20).await;
    assert_eq!(spent.status, StatusCode::CREATED, "{}", spent.body);
    assert_eq!(
        (spent.body["balance"].as_i64(), &spent.body["value"]),
        (Some(4), &inr(10_00))
    );
    assert_eq!(spend(5).await.code(), "insufficient_points");
    assert_eq!(spend(0).await.code(), "invalid_points");

    // Two tills spending the last 4 points at once: one wins.
    let (a, b) = tokio::join!(spend(4), spend(4));
    let statuses = [a.status, b.status];
    assert!(
        statuses.contains(&StatusCode::CREATED) && statuses.contains(&StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let left = p
        .send(
            Method::GET,
            &format!("/api/v1/customers/{id}/loyalty"),
            None,
        )
        .await;
    assert_eq!(left.body["points"], 0);
}

#[tokio::test]
async fn credit_is_given_by_the_back_office_and_every_change_is_audited() {
    let p = Partners::start().await;
    let as_role = |role: Role| p.issuer.token(p.tenant, &[role]);
    let customer = |phone: &str, limit: i64| {
        json!({"name": "Rao Traders", "phone": phone, "credit_limit": inr(limit),
               "payment_terms_days": 15})
    };
    let post = |token: String, body: Value| {
        let app = p.app.clone();
        async move {
            send(
                &app,
                Method::POST,
                "/api/v1/customers",
                Some(&token),
                Some(body),
                &[],
            )
            .await
        }
    };
    // A cashier or store manager adding a customer on ₹5,00,000 of credit, then selling
    // on it: refused.
    for role in [Role::Cashier, Role::StoreManager] {
        let refused = post(as_role(role), customer("9845012345", 5_00_000_00)).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::FORBIDDEN, "credit_terms_reserved")
        );
    }
    // The till may still add a customer without credit.
    let walk_in = post(
        as_role(Role::Cashier),
        json!({"name": "Walk-in", "phone": "9845012346"}),
    )
    .await;
    assert_eq!(walk_in.status, StatusCode::CREATED, "{}", walk_in.body);
    let id = walk_in.body["id"].as_str().unwrap().to_owned();
    let patch = |token: String, body: Value| {
        let (app, path) = (p.app.clone(), format!("/api/v1/customers/{id}"));
        async move { send(&app, Method::PATCH, &path, Some(&token), Some(body), &[]).await }
    };
    let raise = json!({"credit_limit": inr(5_00_000_00)});
    for role in [Role::Cashier, Role::StoreManager] {
        let refused = patch(as_role(role), raise.clone()).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::FORBIDDEN, "credit_terms_reserved")
        );
        // Other details stay theirs to change.
        let renamed = patch(as_role(role), json!({"name": "Walk-in Ltd"})).await;
        assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    }
    let given = patch(as_role(Role::Accountant), raise).await;
    assert_eq!(given.status, StatusCode::OK, "{}", given.body);
    let audited: Vec<Value> = outbox_events(&p.owner, "audit.credit_terms.changed")
        .await
        .iter()
        .map(|e| e.json().unwrap())
        .collect();
    assert_eq!(audited.len(), 1);
    assert_eq!(
        (
            &audited[0]["credit_limit_minor_before"],
            &audited[0]["credit_limit_minor"]
        ),
        (&json!(0), &json!(5_00_000_00))
    );
}

/// Every event type PartnerLedgers claims reaches an arm of its `apply`.
#[tokio::test]
async fn partner_ledgers_apply_every_type_they_claim() {
    let service = TestService::start(
        "partners",
        bazaar_partners::migrator(),
        bazaar_partners::router,
    )
    .await;
    claimed_types_are_applied(&service.owner, &PartnerLedgers::default()).await;
}

/// A customer whose stored currency code names no currency is an internal error (500,
/// logged), never shown in rupees.
#[tokio::test]
async fn a_corrupt_stored_currency_is_an_error_not_rupees() {
    let p = Partners::start().await;
    let customer = p
        .created(
            "/api/v1/customers",
            json!({"name": "Asha Traders", "phone": "98450 12345", "credit_limit": inr(5_000_00)}),
        )
        .await;
    let id = customer["id"].as_str().unwrap();
    let mut tx = bazaar_platform::db::begin_for_tenant(&p.owner, p.tenant)
        .await
        .unwrap();
    sqlx::query("UPDATE customers SET currency = 'RUPEES' WHERE id = $1::uuid")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for path in [
        format!("/api/v1/customers/{id}"),
        format!("/api/v1/customers/{id}/credit-check"),
    ] {
        let body = path
            .ends_with("credit-check")
            .then(|| json!({"amount": inr(100_00)}));
        let method = if body.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        let reply = p.send(method, &path, body).await;
        assert_eq!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}: {}",
            reply.body
        );
        assert_eq!(reply.code(), "internal");
    }
}
