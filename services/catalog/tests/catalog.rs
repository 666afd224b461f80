//! Catalog against a real database: products, variants, prices, barcodes, search, and
//! the attacks (other tenants, cashiers on price changes, smuggled fields).

use axum::http::{Method, StatusCode};
use bazaar_platform::{
    auth::Role,
    testing::{send, Reply, TestService},
};
use serde_json::{json, Value};
use uuid::Uuid;

/// The service on a database of its own, with a tenant and its admin.
struct Catalog(TestService);

impl std::ops::Deref for Catalog {
    type Target = TestService;

    fn deref(&self) -> &TestService {
        &self.0
    }
}

impl Catalog {
    async fn start() -> Self {
        Self(
            TestService::start(
                "catalog",
                bazaar_catalog::migrator(),
                bazaar_catalog::router,
            )
            .await,
        )
    }

    async fn send(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
        send(&self.app, method, path, Some(token), body, &[]).await
    }

    async fn create(&self, body: Value) -> Reply {
        self.send(Method::POST, "/api/v1/products", &self.admin, Some(body))
            .await
    }

    async fn product(&self, sku: &str) -> Value {
        let reply = self.create(product(sku)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    async fn events(&self, event_type: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = $1")
            .bind(event_type)
            .fetch_one(&self.owner)
            .await
            .unwrap()
    }
}

fn inr(minor: i64) -> Value {
    json!({"amount_minor": minor, "currency": "INR"})
}

fn product(sku: &str) -> Value {
    json!({"sku": sku, "name": format!("Basmati rice {sku}"), "brand": "India Gate",
           "unit": "kg", "hsn_code": "1006", "gst_rate": "5", "mrp": inr(12_000),
           "selling_price": inr(11_000), "tax_inclusive": true, "reorder_level": "10.5"})
}

#[tokio::test]
async fn a_product_is_created_with_its_event_and_found_by_barcode() {
    let c = Catalog::start().await;
    let mut body = product("RICE-5");
    body["barcodes"] = json!(["8901030865275"]);
    let reply = c.create(body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let p = reply.body;
    assert_eq!(p["unit_decimals"], 3);
    assert_eq!(p["gst_rate"], "5");
    assert_eq!(p["reorder_level"], "10.5");
    assert_eq!(p["mrp"], inr(12_000));
    assert_eq!(p["status"], "active");

    let cashier = c.issuer.token(c.tenant, &[Role::Cashier]);
    let scan = c
        .send(
            Method::GET,
            "/api/v1/barcodes/8901030865275",
            &cashier,
            None,
        )
        .await;
    assert_eq!(scan.status, StatusCode::OK);
    assert_eq!(scan.body["id"], p["id"]);
    assert_eq!(c.events("catalog.product.created").await, 1);
    assert_eq!(c.events("catalog.barcode.assigned").await, 1);

    // A generated EAN-13 from the tenant's prefix, valid and unique.
    let path = format!("/api/v1/products/{}/barcodes", p["id"].as_str().unwrap());
    let first = c.send(Method::POST, &path, &c.admin, Some(json!({}))).await;
    let second = c.send(Method::POST, &path, &c.admin, Some(json!({}))).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let codes = second.body["barcodes"].as_array().unwrap();
    assert_eq!(codes.len(), 3);
    for code in codes {
        let code = code.as_str().unwrap();
        assert!(bazaar_catalog::domain::barcode(code).is_ok(), "{code}");
    }
}

#[tokio::test]
async fn bad_products_get_a_code_naming_the_field_and_nothing_is_written() {
    let c = Catalog::start().await;
    let cases = [
        (json!({"sku": "has space"}), "invalid_sku"),
        (json!({"unit": "bushel"}), "unknown_unit"),
        (json!({"gst_rate": "7"}), "invalid_gst_rate"),
        (json!({"hsn_code": "12"}), "invalid_hsn_code"),
        (json!({"selling_price": inr(13_000)}), "price_above_mrp"),
        // A price no bill could be paid at: every sum of it would wrap.
        (json!({"mrp": inr(i64::MAX / 3)}), "amount_too_large"),
        (
            json!({"mrp": {"amount_minor": 100, "currency": "USD"}}),
            "currency_mismatch",
        ),
        (json!({"reorder_level": "1.2345"}), "too_many_decimals"),
        (json!({"reorder_level": "1_000"}), "invalid_quantity"),
        (
            json!({"barcodes": ["8901030865271"]}),
            "invalid_barcode_check_digit",
        ),
        (json!({"barcodes": ["12345"]}), "invalid_barcode"),
        (
            json!({"variant_of": Uuid::new_v4()}),
            "variant_without_attributes",
        ),
        (
            json!({"mrp": {"amount_minor": 120.5, "currency": "INR"}}),
            "invalid_body",
        ),
        (json!({"tenant_id": Uuid::new_v4()}), "invalid_body"),
        (json!({"status": "archived"}), "invalid_body"),
        // Texts copied into events are bounded: a megabyte of description once stalled
        // the relay for every tenant.
        (json!({"description": "d".repeat(2_001)}), "too_long"),
        (json!({"brand": "b".repeat(101)}), "too_long"),
    ];
    for (change, code) in cases {
        let mut body = product("BAD-1");
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let reply = c.create(body).await;
        assert!(reply.status.is_client_error(), "{code}: {}", reply.status);
        assert_eq!(reply.code(), code, "{}", reply.body);
    }
    let reply = c
        .create({
            let mut body = product("BAD-2");
            body["category_id"] = json!(Uuid::new_v4());
            body
        })
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "unknown_category");
    assert_eq!(c.events("catalog.product.created").await, 0);

    c.product("DUP").await;
    let dup = c.create(product("DUP")).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.code(), "sku_taken");
    // A barcode already used by another product: 409, and the product is not created.
    let mut first = product("B-1");
    first["barcodes"] = json!(["036000291452"]);
    c.create(first).await;
    let mut second = product("B-2");
    second["barcodes"] = json!(["036000291452"]);
    let taken = c.create(second).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.code(), "barcode_taken");
    let listed = c
        .send(Method::GET, "/api/v1/products?sku=B-2", &c.admin, None)
        .await;
    assert_eq!(listed.body, json!([]));
}

#[tokio::test]
async fn another_tenant_sees_none_of_it() {
    let c = Catalog::start().await;
    let mut body = product("MINE");
    body["barcodes"] = json!(["8901030865275"]);
    let mine = c.create(body).await.body;
    let id = mine["id"].as_str().unwrap();
    let other = c.issuer.token(Uuid::new_v4(), &[Role::Owner]);
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/products/{id}"), None),
        (
            Method::GET,
            "/api/v1/barcodes/8901030865275".to_owned(),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/products/{id}"),
            Some(json!({"name": "stolen"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/products/{id}/price"),
            Some(json!({"mrp": inr(1), "selling_price": inr(1)})),
        ),
        (Method::POST, format!("/api/v1/products/{id}/archive"), None),
        (
            Method::POST,
            format!("/api/v1/products/{id}/barcodes"),
            Some(json!({})),
        ),
    ] {
        let reply = c.send(method.clone(), &path, &other, body).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let list = c.send(Method::GET, "/api/v1/products", &other, None).await;
    assert_eq!(list.body, json!([]));
    // The other tenant can use the same SKU and barcode.
    let mut theirs = product("MINE");
    theirs["barcodes"] = json!(["8901030865275"]);
    let reply = c
        .send(Method::POST, "/api/v1/products", &other, Some(theirs))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let still = c
        .send(
            Method::GET,
            &format!("/api/v1/products/{id}"),
            &c.admin,
            None,
        )
        .await;
    assert_eq!(still.body["name"], mine["name"]);
}

#[tokio::test]
async fn a_cashier_cannot_change_prices_or_the_catalog() {
    let c = Catalog::start().await;
    let p = c.product("P-1").await;
    let id = p["id"].as_str().unwrap();
    let cashier = c.issuer.token(c.tenant, &[Role::Cashier]);
    let manager = c.issuer.token(c.tenant, &[Role::StoreManager]);
    for token in [&cashier, &manager] {
        for (method, path, body) in [
            (
                Method::PUT,
                format!("/api/v1/products/{id}/price"),
                Some(json!({"mrp": inr(1), "selling_price": inr(1)})),
            ),
            (
                Method::POST,
                "/api/v1/products".to_owned(),
                Some(product("P-2")),
            ),
            (
                Method::PATCH,
                format!("/api/v1/products/{id}"),
                Some(json!({"name": "x"})),
            ),
            (Method::POST, format!("/api/v1/products/{id}/archive"), None),
            (
                Method::POST,
                "/api/v1/categories".to_owned(),
                Some(json!({"name": "x"})),
            ),
        ] {
            let reply = c.send(method.clone(), &path, token, body).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}");
        }
    }
    let unchanged = c
        .send(
            Method::GET,
            &format!("/api/v1/products/{id}"),
            &cashier,
            None,
        )
        .await;
    assert_eq!(unchanged.body["selling_price"], inr(11_000));
}

#[tokio::test]
async fn a_price_change_is_an_event_and_an_audit_record() {
    let c = Catalog::start().await;
    let p = c.product("P-1").await;
    let path = format!("/api/v1/products/{}/price", p["id"].as_str().unwrap());
    let reply = c
        .send(
            Method::PUT,
            &path,
            &c.admin,
            Some(json!({"mrp": inr(12_500), "selling_price": inr(11_500)})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["selling_price"], inr(11_500));
    assert_eq!(reply.body["version"], 2);
    assert_eq!(c.events("catalog.price.changed").await, 1);
    assert_eq!(c.events("audit.price.changed").await, 1);
    let topic: String =
        sqlx::query_scalar("SELECT topic FROM outbox WHERE event_type = 'audit.price.changed'")
            .fetch_one(&c.owner)
            .await
            .unwrap();
    assert_eq!(topic, "audit.events.v1");

    let above = c
        .send(
            Method::PUT,
            &path,
            &c.admin,
            Some(json!({"mrp": inr(100), "selling_price": inr(200)})),
        )
        .await;
    assert_eq!(above.code(), "price_above_mrp");
}

#[tokio::test]
async fn variants_categories_updates_and_archiving() {
    let c = Catalog::start().await;
    let grocery = c
        .send(
            Method::POST,
            "/api/v1/categories",
            &c.admin,
            Some(json!({"name": "Grocery"})),
        )
        .await;
    assert_eq!(grocery.status, StatusCode::CREATED);
    let rice = c
        .send(
            Method::POST,
            "/api/v1/categories",
            &c.admin,
            Some(json!({"name": "Rice", "parent_id": grocery.body["id"]})),
        )
        .await;
    assert_eq!(rice.body["path"], "Grocery / Rice");
    let again = c
        .send(
            Method::POST,
            "/api/v1/categories",
            &c.admin,
            Some(json!({"name": "rice", "parent_id": grocery.body["id"]})),
        )
        .await;
    assert_eq!(again.code(), "category_exists");

    let shirt = c
        .create(
            json!({"sku": "TEE", "name": "Tee", "unit": "piece", "gst_rate": "12",
                       "mrp": inr(99_900), "selling_price": inr(79_900), "tax_inclusive": true}),
        )
        .await
        .body;
    let variant = c
        .create(
            json!({"sku": "TEE-L-RED", "name": "Tee L red", "unit": "piece",
                       "gst_rate": "12", "variant_of": shirt["id"],
                       "attributes": {"size": "L", "colour": "red"},
                       "mrp": inr(99_900), "selling_price": inr(79_900), "tax_inclusive": true}),
        )
        .await;
    assert_eq!(variant.status, StatusCode::CREATED, "{}", variant.body);
    let nested = c
        .create(
            json!({"sku": "TEE-L-RED-2", "name": "x", "unit": "piece", "gst_rate": "12",
                       "variant_of": variant.body["id"], "attributes": {"size": "L"},
                       "mrp": inr(1), "selling_price": inr(1), "tax_inclusive": true}),
        )
        .await;
    assert_eq!(nested.code(), "nested_variant");
    let orphan = c
        .create(
            json!({"sku": "TEE-XL", "name": "x", "unit": "piece", "gst_rate": "12",
                       "variant_of": Uuid::new_v4(), "attributes": {"size": "XL"},
                       "mrp": inr(1), "selling_price": inr(1), "tax_inclusive": true}),
        )
        .await;
    assert_eq!(orphan.status, StatusCode::NOT_FOUND);
    assert_eq!(orphan.code(), "unknown_product", "as documented");

    let id = shirt["id"].as_str().unwrap();
    let updated = c
        .send(
            Method::PATCH,
            &format!("/api/v1/products/{id}"),
            &c.admin,
            Some(json!({"name": "Cotton tee", "category_id": rice.body["id"], "gst_rate": "5"})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["gst_rate"], "5");
    assert_eq!(c.events("catalog.product.updated").await, 1);

    let archived = c
        .send(
            Method::POST,
            &format!("/api/v1/products/{id}/archive"),
            &c.admin,
            None,
        )
        .await;
    assert_eq!(archived.body["status"], "archived");
    let twice = c
        .send(
            Method::POST,
            &format!("/api/v1/products/{id}/archive"),
            &c.admin,
            None,
        )
        .await;
    assert_eq!(twice.status, StatusCode::OK);
    assert_eq!(c.events("catalog.product.archived").await, 1);
    let patch = c
        .send(
            Method::PATCH,
            &format!("/api/v1/products/{id}"),
            &c.admin,
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(patch.code(), "product_archived");
}

#[tokio::test]
async fn search_filters_sorts_and_pages() {
    let c = Catalog::start().await;
    for (sku, name, brand) in [
        ("A-1", "Basmati Rice 5kg", "India Gate"),
        ("A-2", "Sona Masoori rice", "Fortune"),
        ("A-3", "Toor dal 1kg", "Tata"),
        ("A-4", "100% pure ghee", "Amul"),
    ] {
        let mut body = product(sku);
        body["name"] = json!(name);
        body["brand"] = json!(brand);
        c.create(body).await;
    }
    let skus = |reply: &Reply| -> Vec<String> {
        reply
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["sku"].as_str().unwrap().to_owned())
            .collect()
    };
    let get = |query: &str| {
        let path = format!("/api/v1/products?{query}");
        let c = &c;
        async move { c.send(Method::GET, &path, &c.admin, None).await }
    };
    assert_eq!(skus(&get("q=RICE").await), ["A-1", "A-2"]);
    assert_eq!(skus(&get("q=%25").await), ["A-4"]);
    assert_eq!(skus(&get("brand=tata").await), ["A-3"]);
    assert_eq!(skus(&get("sort=-sku&limit=2").await), ["A-4", "A-3"]);
    assert_eq!(skus(&get("sort=-sku&limit=2&page=2").await), ["A-2", "A-1"]);
    for bad in ["sort=price", "status=gone", "limit=500"] {
        let reply = get(bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.code(), "invalid_query");
    }
}
