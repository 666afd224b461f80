//! Inventory against a real database: the ledger and what it folds to, transfers,
//! counts, reservations under contention, bad input, and the walls between tenants and
//! stores.

use axum::http::{Method, StatusCode};
use bazaar_inventory::domain::Level;
use bazaar_inventory::snapshots::InventorySnapshots;
use bazaar_inventory::store::{self, ProductFacts};
use bazaar_platform::{
    auth::{Role, Stores},
    consumer, db,
    testing::{claimed_types_are_applied, event, send, store_opened, Reply, TestService},
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use uuid::Uuid;

/// The service on a database of its own, with a tenant and its admin.
struct Inventory(TestService);

impl std::ops::Deref for Inventory {
    type Target = TestService;

    fn deref(&self) -> &TestService {
        &self.0
    }
}

impl Inventory {
    async fn start() -> Self {
        Self(
            TestService::start(
                "inventory",
                bazaar_inventory::migrator(),
                bazaar_inventory::router,
            )
            .await,
        )
    }

    async fn send(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
        send(&self.app, method, path, Some(token), body, &[]).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, &self.admin, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        let reply = self.send(Method::GET, path, &self.admin, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        reply.body
    }

    /// A product as catalog's event would record it.
    async fn product(&self, sku: &str, unit_decimals: i16, reorder: Option<&str>) -> Uuid {
        let id = Uuid::new_v4();
        let mut tx = db::begin_for_tenant(&self.owner, self.tenant)
            .await
            .unwrap();
        let facts = ProductFacts {
            id,
            sku: sku.to_owned(),
            unit_decimals,
            currency: "INR".to_owned(),
            reorder_level: reorder.map(|r| r.parse().unwrap()),
        };
        store::upsert_product(&mut tx, self.tenant, &facts)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    }

    /// Tells inventory that `store` is one of `tenant`'s, as identity announces it.
    async fn opened(&self, tenant: Uuid, store: Uuid) {
        store_opened(&self.owner, &InventorySnapshots::default(), tenant, store).await;
    }

    /// A location, of `store` (announced first) or a warehouse.
    async fn location(&self, code: &str, store: Option<Uuid>) -> Uuid {
        let kind = match store {
            Some(store) => {
                self.opened(self.tenant, store).await;
                "store"
            }
            None => "warehouse",
        };
        let reply = self
            .post(
                "/api/v1/inventory/locations",
                json!({"code": code, "name": format!("{code} location"), "kind": kind,
                       "store_id": store}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().unwrap().parse().unwrap()
    }

    async fn opening(
        &self,
        location: Uuid,
        product: Uuid,
        quantity: &str,
        cost: i64,
        batch: Option<(&str, &str)>,
    ) {
        let mut body = json!({"location_id": location, "product_id": product, "quantity": quantity,
                              "reason": "opening_stock",
                              "unit_cost": {"amount_minor": cost, "currency": "INR"}});
        if let Some((batch, expiry)) = batch {
            body["batch"] = json!(batch);
            body["expiry_date"] = json!(expiry);
        }
        let reply = self.post("/api/v1/inventory/adjust", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }

    async fn stock(&self, location: Uuid, product: Uuid) -> Value {
        let rows = self
            .get(&format!(
                "/api/v1/inventory/stock?location_id={location}&product_id={product}"
            ))
            .await;
        rows[0].clone()
    }

    async fn count(&self, sql: &str) -> i64 {
        let mut tx = db::begin_for_tenant(&self.owner, self.tenant)
            .await
            .unwrap();
        let n = sqlx::query_scalar(sql).fetch_one(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        n
    }

    async fn events(&self, event_type: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = $1")
            .bind(event_type)
            .fetch_one(&self.owner)
            .await
            .unwrap()
    }
}

fn days_from_today(days: i64) -> String {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days)).to_string()
}

/// Stock levels and batches recomputed from the ledger must equal the live tables.
async fn assert_ledger_folds_to_stock(inv: &Inventory) {
    let mut tx = db::begin_for_tenant(&inv.owner, inv.tenant).await.unwrap();
    let from_ledger: Vec<(Uuid, Uuid, String, Decimal)> = sqlx::query_as(
        "SELECT location_id, product_id, batch, sum(quantity) FROM stock_movements \
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let live: Vec<(Uuid, Uuid, String, Decimal)> = sqlx::query_as(
        "SELECT location_id, product_id, batch, on_hand FROM stock_batches ORDER BY 1, 2, 3",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(from_ledger, live, "batches differ from the ledger");
    let levels_differ: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM stock_levels s FULL JOIN \
           (SELECT location_id, product_id, sum(quantity) AS q FROM stock_movements GROUP BY 1, 2) m \
           USING (location_id, product_id) WHERE s.last_movement_seq > 0 \
           AND s.on_hand IS DISTINCT FROM m.q",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(levels_differ, 0, "levels differ from the ledger");
    // And replaying the ledger through the valuation gives the live costs and values, and
    // each item's value is the sum of its movements' values.
    let moves: Vec<(Uuid, Uuid, Decimal, Decimal, Option<i64>)> = sqlx::query_as(
        "SELECT location_id, product_id, quantity, unit_cost_minor, value_minor FROM stock_movements \
         ORDER BY seq",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let mut folded: std::collections::BTreeMap<(Uuid, Uuid), (Level, i64)> = Default::default();
    for (location, product, quantity, cost, value) in moves {
        let (level, sum) = folded.entry((location, product)).or_default();
        let (after, moved) = level.moved(quantity, cost);
        assert_eq!(Some(moved), value, "a movement's recorded value");
        *level = after;
        *sum += moved;
    }
    let live: Vec<(Uuid, Uuid, Decimal, Decimal, i64)> = sqlx::query_as(
        "SELECT location_id, product_id, on_hand, average_cost_minor, value_minor FROM stock_levels \
         WHERE last_movement_seq > 0",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    for (location, product, on_hand, average, value) in live {
        let (level, sum) = folded[&(location, product)];
        assert_eq!(
            (level.on_hand, level.average_cost, level.value),
            (on_hand, average, value)
        );
        assert_eq!(sum, value, "the movements' values add up to the item's");
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn stock_moves_through_adjustments_transfers_and_counts_and_the_ledger_folds_to_it() {
    let inv = Inventory::start().await;
    let store = inv.location("BLR-01", Some(Uuid::new_v4())).await;
    let warehouse = inv.location("WH-SOUTH", None).await;
    let rice = inv.product("RICE-5", 3, Some("20")).await;
    let soap = inv.product("SOAP-1", 0, None).await;

    // Two batches of rice at different costs: the moving average weighs them.
    inv.opening(
        warehouse,
        rice,
        "30",
        10_000,
        Some(("R-OLD", &days_from_today(20))),
    )
    .await;
    inv.opening(
        warehouse,
        rice,
        "10",
        12_000,
        Some(("R-NEW", &days_from_today(200))),
    )
    .await;
    inv.opening(warehouse, soap, "100", 2_500, None).await;
    let item = inv.stock(warehouse, rice).await;
    assert_eq!(item["on_hand"], "40");
    assert_eq!(item["average_cost_minor"], "10500");
    assert_eq!(
        item["stock_value"],
        json!({"amount_minor": 420_000, "currency": "INR"})
    );
    assert_eq!(item["batches"][0]["batch"], "R-OLD", "soonest expiry first");

    // Damage is written off at cost and audited.
    let damage = inv
        .post(
            "/api/v1/inventory/adjust",
            json!({"location_id": warehouse, "sku": "SOAP-1", "quantity": "4", "reason": "damage",
                     "note": "crushed pallet"}),
        )
        .await;
    assert_eq!(damage.status, StatusCode::CREATED, "{}", damage.body);
    assert_eq!(
        damage.body["value"],
        json!({"amount_minor": -10_000, "currency": "INR"})
    );
    assert_eq!(damage.body["on_hand"], "96");
    assert_eq!(inv.events("audit.stock.written_off").await, 1);

    // 35 kg of rice to the store: the older batch goes first, then 5 of the newer.
    let sent = inv
        .post("/api/v1/inventory/transfer",
              json!({"from_location_id": warehouse, "to_location_id": store, "reference": "TR-1",
                     "lines": [{"product_id": rice, "quantity": "35"}, {"sku": "SOAP-1", "quantity": "20"}]}))
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    assert_eq!(sent.body["status"], "in_transit");
    let transfer = sent.body["id"].as_str().unwrap().to_owned();
    assert_eq!(inv.stock(warehouse, rice).await["on_hand"], "5");
    // In transit: nowhere yet.
    assert_eq!(
        inv.get(&format!("/api/v1/inventory/stock?location_id={store}"))
            .await,
        json!([])
    );

    // Part arrives, then the transfer is closed short: the shortfall is recorded.
    let path = format!("/api/v1/inventory/transfers/{transfer}/receive");
    let part = inv
        .post(
            &path,
            json!({"lines": [{"product_id": rice, "quantity": "32.5"}]}),
        )
        .await;
    assert_eq!(part.status, StatusCode::CREATED, "{}", part.body);
    assert_eq!(part.body["status"], "in_transit");
    let over = inv
        .post(
            &path,
            json!({"lines": [{"sku": "SOAP-1", "quantity": "21"}]}),
        )
        .await;
    assert_eq!(over.code(), "over_receipt");
    let closed = inv
        .post(
            &path,
            json!({"lines": [{"sku": "SOAP-1", "quantity": "18"}], "close": true}),
        )
        .await;
    assert_eq!(closed.status, StatusCode::CREATED, "{}", closed.body);
    assert_eq!(closed.body["status"], "closed");
    let shortfalls: Vec<&str> = closed.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["shortfall"].as_str().unwrap())
        .collect();
    // By SKU and batch: R-NEW 2.5 short, R-OLD all arrived, soap 2 short.
    assert_eq!(shortfalls, ["2.5", "0", "2"]);
    let again = inv
        .post(
            &path,
            json!({"lines": [{"sku": "SOAP-1", "quantity": "1"}]}),
        )
        .await;
    assert_eq!(again.code(), "transfer_closed");
    let at_store = inv.stock(store, rice).await;
    assert_eq!(at_store["on_hand"], "32.5");
    // Transferred stock arrives at the source's moving-average cost (costs are per
    // location and product, not per batch).
    assert_eq!(at_store["average_cost_minor"], "10500");
    assert_eq!(inv.events("inventory.stock.transfer_received").await, 2);

    // The count finds 30 kg of rice where the books say 32.5, and 3 soaps too many.
    let count = inv
        .post(
            "/api/v1/inventory/reconcile",
            json!({"location_id": store, "lines": [{"product_id": rice, "counted": "30"},
                                                     {"sku": "SOAP-1", "counted": "21"}]}),
        )
        .await;
    assert_eq!(count.status, StatusCode::CREATED, "{}", count.body);
    let differences: Vec<&str> = count.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["difference"].as_str().unwrap())
        .collect();
    assert!(
        differences.contains(&"-2.5") && differences.contains(&"3"),
        "{differences:?}"
    );
    assert_eq!(inv.stock(store, rice).await["on_hand"], "30");
    // Low stock was raised once: when the transfer took the warehouse's rice from 40 kg
    // to 5, below the reorder level of 20. The store's 30 kg are above it.
    assert_eq!(inv.events("inventory.low_stock").await, 1);
    assert_eq!(inv.events("inventory.count.reconciled").await, 1);

    let ledger = inv
        .get(&format!(
            "/api/v1/inventory/movements?location_id={store}&product_id={rice}"
        ))
        .await;
    let kinds: Vec<&str> = ledger
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["count_correction", "transfer_in", "transfer_in"]);
    assert_eq!(
        inv.events("inventory.stock.moved").await,
        inv.count("SELECT count(*) FROM stock_movements").await
    );
    assert_ledger_folds_to_stock(&inv).await;

    // The ledger is append-only, even for the schema's owner.
    let mut tx = db::begin_for_tenant(&inv.owner, inv.tenant).await.unwrap();
    let edit = sqlx::query("UPDATE stock_movements SET quantity = 1")
        .execute(&mut *tx)
        .await;
    assert!(edit.unwrap_err().to_string().contains("append-only"));
}

#[tokio::test]
async fn expiring_batches_and_dead_stock_are_reported() {
    let inv = Inventory::start().await;
    let store = inv.location("BLR-01", Some(Uuid::new_v4())).await;
    let milk = inv.product("MILK-1", 0, Some("50")).await;
    inv.opening(store, milk, "12", 2_800, Some(("M-1", &days_from_today(3))))
        .await;
    inv.opening(
        store,
        milk,
        "40",
        2_800,
        Some(("M-2", &days_from_today(60))),
    )
    .await;

    let soon = inv
        .get(&format!(
            "/api/v1/inventory/expiry-alerts?location_id={store}&days=7"
        ))
        .await;
    assert_eq!(soon.as_array().unwrap().len(), 1);
    assert_eq!(soon[0]["batch"], "M-1");
    assert_eq!(soon[0]["days_left"], 3);
    let all = inv.get("/api/v1/inventory/expiry-alerts?days=90").await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    // The scheduled scan raises each expiring batch once a day, however often it runs.
    let today = chrono::Utc::now().date_naive();
    let scan = || bazaar_inventory::alerts::raise_expiry_alerts(&inv.owner, today, 7);
    assert_eq!(scan().await.unwrap(), 1);
    assert_eq!(scan().await.unwrap(), 0);
    assert_eq!(inv.events("inventory.batch.expiring").await, 1);
    let bad = inv
        .send(
            Method::GET,
            "/api/v1/inventory/expiry-alerts?days=0",
            &inv.admin,
            None,
        )
        .await;
    assert_eq!(bad.code(), "invalid_query");

    // Nothing has been idle for a day yet; backdate the stock to see it as dead.
    assert_eq!(
        inv.get("/api/v1/inventory/dead-stock?days=1").await,
        json!([])
    );
    let mut tx = db::begin_for_tenant(&inv.owner, inv.tenant).await.unwrap();
    sqlx::query("UPDATE stock_levels SET last_moved_at = now() - interval '100 days'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let dead = inv.get("/api/v1/inventory/dead-stock").await;
    assert_eq!(dead[0]["on_hand"], "52");
    assert_eq!(
        dead[0]["stock_value"],
        json!({"amount_minor": 145_600, "currency": "INR"})
    );

    // Available 52 is above the reorder level 50 until a write-off of 3 crosses it.
    let expired = inv
        .post(
            "/api/v1/inventory/adjust",
            json!({"location_id": store, "product_id": milk, "quantity": "3",
                     "reason": "expiry_write_off", "batch": "M-1"}),
        )
        .await;
    assert_eq!(expired.status, StatusCode::CREATED, "{}", expired.body);
    assert_eq!(inv.events("inventory.low_stock").await, 1);
    let item = inv.stock(store, milk).await;
    assert_eq!(item["low_stock"], true);
    assert_eq!(
        item["batches"][0],
        json!({"batch": "M-1", "expiry_date": days_from_today(3), "on_hand": "9"})
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_a_code_and_writes_nothing() {
    let inv = Inventory::start().await;
    let store = inv.location("BLR-01", Some(Uuid::new_v4())).await;
    let other = inv.location("BLR-02", Some(Uuid::new_v4())).await;
    let soap = inv.product("SOAP-1", 0, None).await;
    inv.opening(store, soap, "5", 2_500, None).await;
    let before = inv.count("SELECT count(*) FROM stock_movements").await;
    let adjust = |body: Value| inv.post("/api/v1/inventory/adjust", body);
    let base =
        json!({"location_id": store, "product_id": soap, "quantity": "1", "reason": "damage"});
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };

    let cases = [
        (with("sku", json!("NOPE")), "product_required"),
        (
            json!({"location_id": store, "sku": "NOPE", "quantity": "1", "reason": "damage"}),
            "unknown_product",
        ),
        (
            with("location_id", json!(Uuid::new_v4())),
            "unknown_location",
        ),
        (with("quantity", json!("0")), "invalid_quantity"),
        (with("quantity", json!("-2")), "invalid_quantity"),
        (with("quantity", json!("1.5")), "too_many_decimals"),
        (with("quantity", json!("1e3")), "invalid_quantity"),
        (with("reason", json!("gift")), "unknown_reason"),
        (with("quantity", json!("6")), "insufficient_stock"),
        (
            json!({"location_id": store, "product_id": soap, "quantity": "1", "reason": "found",
                "batch": "B1", "expiry_date": days_from_today(-1)}),
            "batch_expired",
        ),
        (
            json!({"location_id": store, "product_id": soap, "quantity": "1", "reason": "opening_stock"}),
            "unit_cost_required",
        ),
        (
            json!({"location_id": store, "product_id": soap, "quantity": "1", "reason": "found",
                "unit_cost": {"amount_minor": 100, "currency": "SGD"}}),
            "currency_mismatch",
        ),
    ];
    for (body, code) in cases {
        let reply = adjust(body.clone()).await;
        assert_eq!(reply.code(), code, "{body}: {}", reply.body);
        assert!(reply.status.is_client_error());
    }
    let smuggled = adjust(with("approved_by", json!("me"))).await;
    assert_eq!(
        smuggled.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        smuggled.body
    );

    let transfer = |body: Value| inv.post("/api/v1/inventory/transfer", body);
    let same = transfer(json!({"from_location_id": store, "to_location_id": store,
                               "lines": [{"product_id": soap, "quantity": "1"}]}))
    .await;
    assert_eq!(same.code(), "same_location");
    let empty =
        transfer(json!({"from_location_id": store, "to_location_id": other, "lines": []})).await;
    assert_eq!(empty.code(), "no_lines");
    let twice = transfer(json!({"from_location_id": store, "to_location_id": other,
                                "lines": [{"product_id": soap, "quantity": "1"}, {"sku": "SOAP-1", "quantity": "1"}]})).await;
    assert_eq!(twice.code(), "duplicate_line");
    let unknown = transfer(json!({"from_location_id": store, "to_location_id": other,
                                  "lines": [{"product_id": soap, "quantity": "1"}, {"sku": "NOPE", "quantity": "1"}]})).await;
    assert_eq!(unknown.code(), "unknown_product");
    assert!(unknown.body["detail"]
        .as_str()
        .unwrap()
        .starts_with("lines[1]"));
    let both = transfer(json!({"from_location_id": store, "to_location_id": other,
                               "lines": [{"product_id": soap, "sku": "SOAP-1", "quantity": "1"}]}))
    .await;
    assert_eq!(both.code(), "product_required");
    let short = transfer(json!({"from_location_id": store, "to_location_id": other,
                                "lines": [{"product_id": soap, "quantity": "6"}]}))
    .await;
    assert_eq!(short.code(), "insufficient_stock");
    assert!(short.body["detail"].as_str().unwrap().contains("SOAP-1"));
    let location = inv
        .post(
            "/api/v1/inventory/locations",
            json!({"code": "bad code", "name": "x", "kind": "store", "store_id": Uuid::new_v4()}),
        )
        .await;
    assert_eq!(location.code(), "invalid_code");
    let taken = inv
        .post(
            "/api/v1/inventory/locations",
            json!({"code": "BLR-01", "name": "again", "kind": "warehouse"}),
        )
        .await;
    assert_eq!(taken.code(), "location_exists");

    assert_eq!(
        inv.count("SELECT count(*) FROM stock_movements").await,
        before
    );
    assert_eq!(inv.count("SELECT count(*) FROM transfers").await, 0);
    assert_eq!(inv.stock(store, soap).await["on_hand"], "5");
}

/// A store location names one of the tenant's stores within the admin's reach; a
/// warehouse serves every store, so only a user of every store adds one.
#[tokio::test]
async fn a_location_is_only_added_for_a_store_of_the_caller_s() {
    let inv = Inventory::start().await;
    let (theirs, nobody_s, ours, other) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    inv.opened(Uuid::new_v4(), theirs).await;
    inv.opened(inv.tenant, ours).await;
    inv.opened(inv.tenant, other).await;
    let inv = &inv;
    let add = |token: String, code: &str, store: Option<Uuid>| {
        let kind = if store.is_some() {
            "store"
        } else {
            "warehouse"
        };
        let body = json!({"code": code, "name": "A location", "kind": kind, "store_id": store});
        async move {
            inv.send(
                Method::POST,
                "/api/v1/inventory/locations",
                &token,
                Some(body),
            )
            .await
        }
    };
    for store in [theirs, nobody_s] {
        let refused = add(inv.admin.clone(), "BLR-09", Some(store)).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
        assert_eq!(refused.code(), "unknown_store");
    }
    let admin_of_ours = inv
        .issuer
        .token_for(inv.tenant, &[Role::Admin], Stores::Only(vec![ours]));
    assert_eq!(
        add(admin_of_ours.clone(), "BLR-02", Some(other))
            .await
            .code(),
        "unknown_store"
    );
    let warehouse = add(admin_of_ours.clone(), "WH-01", None).await;
    assert_eq!(
        warehouse.status,
        StatusCode::FORBIDDEN,
        "{}",
        warehouse.body
    );
    assert_eq!(warehouse.code(), "reach_beyond_own");
    assert_eq!(inv.count("SELECT count(*) FROM locations").await, 0);

    let added = add(admin_of_ours, "BLR-01", Some(ours)).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
}

#[tokio::test]
async fn fifty_concurrent_reservations_for_the_last_ten_units_hold_exactly_ten() {
    let inv = Inventory::start().await;
    let store = inv.location("BLR-01", Some(Uuid::new_v4())).await;
    let phone = inv.product("PHONE-1", 0, None).await;
    inv.opening(store, phone, "10", 900_000, None).await;
    let cashier = inv.issuer.token(inv.tenant, &[Role::Cashier]);

    let replies = futures::future::join_all((0..50).map(|_| {
        inv.send(
            Method::POST,
            "/api/v1/inventory/reservations",
            &cashier,
            Some(json!({"location_id": store, "lines": [{"product_id": phone, "quantity": "1"}]})),
        )
    }))
    .await;
    let held = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let refused: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .collect();
    assert_eq!(held, 10);
    assert_eq!(refused.len(), 40);
    assert!(refused.iter().all(|r| r.code() == "insufficient_stock"
        && r.body["detail"].as_str().unwrap().starts_with("PHONE-1")));
    let item = inv.stock(store, phone).await;
    assert_eq!(
        (
            item["on_hand"].as_str(),
            item["reserved"].as_str(),
            item["available"].as_str()
        ),
        (Some("10"), Some("10"), Some("0"))
    );
    // A hold's event goes with it; a refused one leaves none.
    assert_eq!(inv.events("inventory.reservation.created").await, 10);

    // Releasing one frees one; releasing twice is harmless.
    let first = replies
        .iter()
        .find(|r| r.status == StatusCode::CREATED)
        .unwrap();
    let release = format!(
        "/api/v1/inventory/reservations/{}/release",
        first.body["id"].as_str().unwrap()
    );
    for _ in 0..2 {
        let reply = inv.send(Method::POST, &release, &cashier, None).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    }
    assert_eq!(inv.stock(store, phone).await["available"], "1");
    assert_eq!(inv.events("inventory.reservation.released").await, 1);

    // A hold lapses after its TTL without any job running.
    let short = inv
        .send(
            Method::POST,
            "/api/v1/inventory/reservations",
            &cashier,
            Some(json!({"location_id": store, "ttl_seconds": 1,
                                     "lines": [{"product_id": phone, "quantity": "1"}]})),
        )
        .await;
    assert_eq!(short.status, StatusCode::CREATED, "{}", short.body);
    assert_eq!(inv.stock(store, phone).await["available"], "0");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(inv.stock(store, phone).await["available"], "1");
}

#[tokio::test]
async fn other_tenants_and_other_stores_are_walled_off() {
    let inv = Inventory::start().await;
    let (store_1, store_2) = (Uuid::new_v4(), Uuid::new_v4());
    let blr1 = inv.location("BLR-01", Some(store_1)).await;
    let blr2 = inv.location("BLR-02", Some(store_2)).await;
    let soap = inv.product("SOAP-1", 0, None).await;
    inv.opening(blr1, soap, "5", 2_500, None).await;
    inv.opening(blr2, soap, "7", 2_500, None).await;

    // The manager of store 1 sees and moves store 1 only.
    let manager = inv.issuer.token_for(
        inv.tenant,
        &[Role::StoreManager],
        Stores::Only(vec![store_1]),
    );
    let inv = &inv;
    let get = |path: String, token: String| async move {
        inv.send(Method::GET, &path, &token, None).await
    };
    let own = get(
        format!("/api/v1/inventory/stock?location_id={blr1}"),
        manager.clone(),
    )
    .await;
    assert_eq!(own.status, StatusCode::OK);
    let theirs = get(
        format!("/api/v1/inventory/stock?location_id={blr2}"),
        manager.clone(),
    )
    .await;
    assert_eq!(theirs.code(), "unknown_location");
    let everything = get("/api/v1/inventory/stock".to_owned(), manager.clone()).await;
    assert_eq!(
        everything.body.as_array().unwrap().len(),
        1,
        "only store 1's stock"
    );
    let locations = get("/api/v1/inventory/locations".to_owned(), manager.clone()).await;
    assert_eq!(locations.body.as_array().unwrap().len(), 1);
    let write_off = inv.send(Method::POST, "/api/v1/inventory/adjust", &manager,
                             Some(json!({"location_id": blr2, "product_id": soap, "quantity": "1", "reason": "theft"}))).await;
    assert_eq!(write_off.code(), "unknown_location");
    let steal = inv
        .send(
            Method::POST,
            "/api/v1/inventory/transfer",
            &manager,
            Some(json!({"from_location_id": blr2, "to_location_id": blr1,
                                     "lines": [{"product_id": soap, "quantity": "7"}]})),
        )
        .await;
    assert_eq!(steal.code(), "unknown_location");

    // A cashier cannot adjust stock at all.
    let cashier = inv
        .issuer
        .token_for(inv.tenant, &[Role::Cashier], Stores::Only(vec![store_1]));
    let adjust = inv.send(Method::POST, "/api/v1/inventory/adjust", &cashier,
                          Some(json!({"location_id": blr1, "product_id": soap, "quantity": "1", "reason": "theft"}))).await;
    assert_eq!(adjust.status, StatusCode::FORBIDDEN);

    // Another tenant's owner sees nothing of this tenant.
    let stranger = inv.issuer.token(Uuid::new_v4(), &[Role::Owner]);
    let stock = get(
        format!("/api/v1/inventory/stock?location_id={blr1}"),
        stranger.clone(),
    )
    .await;
    assert_eq!(stock.code(), "unknown_location");
    let listing = get("/api/v1/inventory/stock".to_owned(), stranger.clone()).await;
    assert_eq!(listing.body, json!([]));
    let by_sku = inv
        .send(
            Method::POST,
            "/api/v1/inventory/reservations",
            &stranger,
            Some(json!({"location_id": blr1, "lines": [{"sku": "SOAP-1", "quantity": "1"}]})),
        )
        .await;
    assert_eq!(by_sku.code(), "unknown_location");

    assert_eq!(inv.stock(blr2, soap).await["on_hand"], "7");
}

/// Goods back to their vendor leave at what they cost, whether inventory applies the
/// return before or after the receipt (they travel on different keys), and what stays is
/// re-averaged: on hand at the average is always the value of the movements.
#[tokio::test]
async fn goods_back_to_the_vendor_leave_at_their_cost_whatever_the_order() {
    let inv = Inventory::start().await;
    let store = inv.location("BLR-01", Some(Uuid::new_v4())).await;
    let rice = inv.product("RICE-1", 0, None).await;
    let feed = async |event_type: &str, payload: Value| {
        let event = event(event_type, inv.tenant, &payload);
        assert!(
            consumer::apply(&inv.owner, &InventorySnapshots::default(), &event)
                .await
                .unwrap()
        );
    };
    let receipt = |quantity: &str, cost: i64| {
        json!({"tenant_id": inv.tenant, "grn_id": Uuid::new_v4(), "grn_number": "GRN-1",
            "purchase_order_id": Uuid::new_v4(), "vendor_id": Uuid::new_v4(), "location_id": store,
            "currency": "INR", "lines": [{"product_id": rice, "sku": "RICE-1", "quantity_received": quantity,
            "quantity_rejected": "0", "rejection_reason": null, "batch": "", "expiry_date": null,
            "unit_cost_minor": cost}], "received_by": Uuid::new_v4(), "received_at": 0})
    };
    let back = |quantity: &str, cost: i64| {
        json!({"tenant_id": inv.tenant, "return_id": Uuid::new_v4(), "debit_note_number": "DN-1",
            "grn_id": Uuid::new_v4(), "vendor_id": Uuid::new_v4(), "location_id": store,
            "place_of_supply": "29", "currency": "INR", "lines": [{"product_id": rice, "sku": "RICE-1",
            "quantity": quantity, "batch": "", "unit_cost_minor": cost, "taxable_minor": 0, "gst_rate_bp": 0,
            "cgst_minor": 0, "sgst_minor": 0, "igst_minor": 0, "cess_minor": 0, "total_minor": 0}],
            "total_minor": 0, "reason": "damp", "returned_by": Uuid::new_v4(), "returned_at": 0})
    };
    let stock = async || {
        inv.get(&format!("/api/v1/inventory/stock?product_id={rice}"))
            .await[0]
            .clone()
    };

    // The return of 5 at ₹45 arrives before the receipt of 100 at ₹45.
    feed("purchase.return.processed", back("5", 45_00)).await;
    feed("purchase.grn.received", receipt("100", 45_00)).await;
    let item = stock().await;
    assert_eq!(
        (&item["on_hand"], &item["average_cost_minor"]),
        (&json!("95"), &json!("4500"))
    );
    assert_eq!(item["stock_value"]["amount_minor"], 95 * 45_00);

    // 95 at ₹45 and 95 at ₹55 average ₹50; the ₹55 ones go back and ₹45 is left.
    feed("purchase.grn.received", receipt("95", 55_00)).await;
    assert_eq!(stock().await["average_cost_minor"], "5000");
    feed("purchase.return.processed", back("95", 55_00)).await;
    let item = stock().await;
    assert_eq!(
        (&item["on_hand"], &item["average_cost_minor"]),
        (&json!("95"), &json!("4500"))
    );
    let movements = inv
        .get(&format!("/api/v1/inventory/movements?product_id={rice}"))
        .await;
    let number = |v: &Value| v.as_str().unwrap().parse::<Decimal>().unwrap();
    let value: Decimal = movements
        .as_array()
        .unwrap()
        .iter()
        .map(|m| number(&m["quantity"]) * number(&m["unit_cost_minor"]))
        .sum();
    assert_eq!(
        value,
        Decimal::from(item["stock_value"]["amount_minor"].as_i64().unwrap())
    );
}

/// Two items at a store with stock, the lower id first.
async fn two_items(inv: &Inventory, store: Uuid) -> (Uuid, Uuid) {
    let (a, b) = (
        inv.product("DAL-1", 0, None).await,
        inv.product("OIL-1", 0, None).await,
    );
    for item in [a, b] {
        inv.opening(store, item, "10", 10_000, None).await;
    }
    (a.min(b), a.max(b))
}

/// Holds the `low` item's stock as a till does, then starts `applying`; once that waits
/// for it, tries the `high` item's without waiting, and says whether it was free, i.e.
/// whether `applying` kept to the tills' order. Then lets `applying` finish.
async fn higher_item_stays_free(
    inv: &Inventory,
    store: Uuid,
    (low, high): (Uuid, Uuid),
    applying: impl std::future::Future<Output = ()> + Send + 'static,
) -> bool {
    let lock = "SELECT 1 FROM stock_levels WHERE tenant_id = $1 AND location_id = $2 \
                AND product_id = $3 FOR UPDATE";
    let mut till = db::begin_for_tenant(&inv.owner, inv.tenant).await.unwrap();
    sqlx::query(lock)
        .bind(inv.tenant)
        .bind(store)
        .bind(low)
        .execute(&mut *till)
        .await
        .unwrap();
    let applying = tokio::spawn(applying);
    let waiting = "SELECT count(*) FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
    for _ in 0..500 {
        let n: i64 = sqlx::query_scalar(waiting)
            .fetch_one(&inv.owner)
            .await
            .unwrap();
        if n > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(!applying.is_finished(), "it did not wait for the till");
    let free = sqlx::query(&format!("{lock} NOWAIT"))
        .bind(inv.tenant)
        .bind(store)
        .bind(high)
        .execute(&mut *till)
        .await
        .is_ok();
    till.rollback().await.unwrap();
    applying.await.unwrap();
    free
}

/// A goods receipt locks its items' stock in product order, as a till's reservation
/// does, whatever order its lines come in. Locked line by line, a receipt of the higher
/// item then the lower one and a till's reservation of both could deadlock.
#[tokio::test(flavor = "multi_thread")]
async fn a_goods_receipt_locks_its_items_in_the_order_tills_do() {
    let inv = Inventory::start().await;
    let store = inv.location("BLR-01", Some(Uuid::new_v4())).await;
    let (low, high) = two_items(&inv, store).await;
    let line = |product: Uuid| {
        json!({"product_id": product, "sku": "X", "quantity_received": "5", "quantity_rejected": "0",
            "rejection_reason": null, "batch": "", "expiry_date": null, "unit_cost_minor": 10_000})
    };
    let receipt = event(
        "purchase.grn.received",
        inv.tenant,
        &json!({"tenant_id": inv.tenant, "grn_id": Uuid::new_v4(), "grn_number": "GRN-1",
            "purchase_order_id": Uuid::new_v4(), "vendor_id": Uuid::new_v4(), "location_id": store,
            "currency": "INR", "lines": [line(high), line(low)], "received_by": Uuid::new_v4(),
            "received_at": 0}),
    );
    let owner = inv.owner.clone();
    let receiving = async move {
        let snapshots = InventorySnapshots::default();
        assert!(consumer::apply(&owner, &snapshots, &receipt).await.unwrap());
    };
    assert!(
        higher_item_stays_free(&inv, store, (low, high), receiving).await,
        "the receipt took the higher item first"
    );
    for item in [low, high] {
        assert_eq!(inv.stock(store, item).await["on_hand"], "15");
    }
}

/// A poll's sales are applied in one transaction, and all their items are locked
/// first: the first sale's higher item is not taken before the second sale's lower one.
#[tokio::test(flavor = "multi_thread")]
async fn a_polls_sales_lock_all_their_items_in_the_order_tills_do() {
    let inv = Inventory::start().await;
    let store_id = Uuid::new_v4();
    let store = inv.location("BLR-01", Some(store_id)).await;
    let (low, high) = two_items(&inv, store).await;
    let sale = |number: &str, product: Uuid| {
        let line = json!({"line_no": 1, "product_id": product, "sku": "X", "quantity": "2",
            "unit_price_minor": 10_000, "discount_minor": 0, "salesperson_id": null, "taxable_minor": 10_000,
            "gst_rate_bp": 0, "cgst_minor": 0, "sgst_minor": 0, "igst_minor": 0, "cess_minor": 0,
            "total_minor": 10_000});
        event(
            "sales.invoice.issued",
            inv.tenant,
            &json!({"tenant_id": inv.tenant, "invoice_id": Uuid::new_v4(), "invoice_number": number,
                "store_id": store_id, "terminal_id": "T1", "cashier_id": Uuid::new_v4(), "customer_id": null,
                "reservation_id": null, "offline": false, "currency": "INR", "place_of_supply": "29",
                "lines": [line], "payments": [{"mode": "cash", "amount_minor": 10_000, "reference": null}],
                "subtotal_minor": 10_000, "discount_minor": 0, "tax_minor": 0, "round_off_minor": 0,
                "total_minor": 10_000, "issued_at": 0}),
        )
    };
    let poll = [sale("BLR01T1-1", high), sale("BLR01T1-2", low)];
    let processed = inv.count("SELECT count(*) FROM processed_events").await;
    let (owner, tenant) = (inv.owner.clone(), inv.tenant);
    let selling = async move {
        let snapshots = InventorySnapshots::default();
        consumer::apply_poll(&owner, &snapshots, tenant, poll.iter())
            .await
            .unwrap();
    };
    assert!(
        higher_item_stays_free(&inv, store, (low, high), selling).await,
        "the first sale's item was taken before the second's"
    );
    for item in [low, high] {
        assert_eq!(inv.stock(store, item).await["on_hand"], "8");
    }
    assert_eq!(
        inv.count("SELECT count(*) FROM processed_events").await,
        processed + 2
    );
}

/// Receive 5 at ₹100, sell 5, receive 5 at ₹130, return 2: the two come back at the ₹100
/// they left at (stock ₹850.00, average ₹121.4286), as ERPNext and Odoo value them, not
/// at today's ₹130 (₹910.00). A void brings its goods back at their cost too.
#[tokio::test]
// Amounts in paise are written rupees_paise (200_00 is ₹200.00).
#[allow(clippy::inconsistent_digit_grouping)]
async fn goods_sold_come_back_at_the_cost_they_left_at() {
    let inv = Inventory::start().await;
    let store_id = Uuid::new_v4();
    let store = inv.location("BLR-01", Some(store_id)).await;
    let soap = inv.product("SOAP-1", 0, None).await;
    let feed = async |event_type: &str, payload: Value| {
        let event = event(event_type, inv.tenant, &payload);
        assert!(
            consumer::apply(&inv.owner, &InventorySnapshots::default(), &event)
                .await
                .unwrap()
        );
    };
    let receipt = |quantity: &str, cost: i64| {
        json!({"tenant_id": inv.tenant, "grn_id": Uuid::new_v4(), "grn_number": "GRN-1",
            "purchase_order_id": Uuid::new_v4(), "vendor_id": Uuid::new_v4(), "location_id": store,
            "currency": "INR", "lines": [{"product_id": soap, "sku": "SOAP-1", "quantity_received": quantity,
            "quantity_rejected": "0", "rejection_reason": null, "batch": "", "expiry_date": null,
            "unit_cost_minor": cost}], "received_by": Uuid::new_v4(), "received_at": 0})
    };
    let sale = |invoice: Uuid, quantity: &str| {
        let line = json!({"line_no": 1, "product_id": soap, "sku": "SOAP-1", "quantity": quantity,
            "unit_price_minor": 200_00, "discount_minor": 0, "salesperson_id": null, "taxable_minor": 200_00,
            "gst_rate_bp": 0, "cgst_minor": 0, "sgst_minor": 0, "igst_minor": 0, "cess_minor": 0,
            "total_minor": 200_00});
        json!({"tenant_id": inv.tenant, "invoice_id": invoice, "invoice_number": "BLR1T126000001",
            "store_id": store_id, "terminal_id": "T1", "cashier_id": Uuid::new_v4(), "customer_id": null,
            "reservation_id": null, "offline": false, "currency": "INR", "place_of_supply": "29",
            "lines": [line], "payments": [{"mode": "cash", "amount_minor": 200_00, "reference": null}],
            "subtotal_minor": 200_00, "discount_minor": 0, "tax_minor": 0, "round_off_minor": 0,
            "total_minor": 200_00, "issued_at": 0})
    };
    let item = async || inv.stock(store, soap).await;

    feed("purchase.grn.received", receipt("5", 100_00)).await;
    let first = Uuid::new_v4();
    feed("sales.invoice.issued", sale(first, "5")).await;
    feed("purchase.grn.received", receipt("5", 130_00)).await;
    feed("sales.return.processed", json!({"tenant_id": inv.tenant, "return_id": Uuid::new_v4(),
        "credit_note_number": "BLR1C26000001", "invoice_id": first, "store_id": store_id,
        "customer_id": null, "currency": "INR", "lines": [{"line_no": 1, "product_id": soap,
        "sku": "SOAP-1", "quantity": "2", "restock": true, "taxable_minor": 400_00, "gst_rate_bp": 0,
        "cgst_minor": 0, "sgst_minor": 0, "igst_minor": 0, "cess_minor": 0, "total_minor": 400_00}],
        "refund_mode": "cash", "total_minor": 400_00, "processed_by": Uuid::new_v4(),
        "processed_at": 0})).await;
    let after_return = item().await;
    assert_eq!(
        (
            &after_return["on_hand"],
            &after_return["average_cost_minor"],
            &after_return["stock_value"]["amount_minor"]
        ),
        (&json!("7"), &json!("12142.8571"), &json!(850_00))
    );

    // A sale at the ₹121.4286 average, voided: back at that, the value as it was.
    let second = Uuid::new_v4();
    feed("sales.invoice.issued", sale(second, "3")).await;
    feed("purchase.grn.received", receipt("3", 150_00)).await;
    feed("sales.invoice.voided", json!({"tenant_id": inv.tenant, "invoice_id": second,
        "invoice_number": "BLR1T126000002", "store_id": store_id, "customer_id": null,
        "currency": "INR", "lines": [{"line_no": 1, "product_id": soap, "sku": "SOAP-1",
        "quantity": "3", "total_minor": 600_00}], "payments": [{"mode": "cash", "amount_minor": 600_00}],
        "total_minor": 600_00, "reason": "rang up twice", "voided_by": Uuid::new_v4(),
        "voided_at": 0})).await;
    let after_void = item().await;
    // 4 at ₹121.4286 + 3 at ₹150 + 3 back at ₹121.4286.
    let expected =
        (Decimal::from(7) * Decimal::new(121_428_571, 4) + Decimal::from(3 * 150_00)).round();
    assert_eq!(after_void["on_hand"], "10");
    assert_eq!(
        Decimal::from(after_void["stock_value"]["amount_minor"].as_i64().unwrap()),
        expected
    );
    assert_ledger_folds_to_stock(&inv).await;
}

/// Every event type InventorySnapshots claims reaches an arm of its `apply`.
#[tokio::test]
async fn inventory_snapshots_apply_every_type_they_claim() {
    let service = TestService::start(
        "inventory",
        bazaar_inventory::migrator(),
        bazaar_inventory::router,
    )
    .await;
    claimed_types_are_applied(&service.owner, &InventorySnapshots::default()).await;
}
