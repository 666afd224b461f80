//! `bazaar demo`: the demo tenant `./dev up` prints a login for: three stores and a
//! warehouse, 300 products in six categories with barcodes, and opening stock at every
//! location. It drives each service through its own API in-process, so the demo data
//! obeys the same rules and writes the same events as real data.

use std::sync::Arc;

use anyhow::Context;
use axum::{http::Method, Router};
use bazaar_identity::{keys::PublishedKeys, Bootstrap, BootstrapError};
use bazaar_inventory::snapshots::InventorySnapshots;
use bazaar_platform::{
    auth::Verifier,
    consumer::{self, ConsumedEvent, Projection},
    db,
    http::call,
    ServiceContext, Settings,
};
use bazaar_purchase::references::PurchaseReferences;
use bazaar_sales::references::SalesReferences;
use bazaar_schemas::{Catalogue, CloudEvent};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub(crate) mod day;

/// `bazaar demo day`.
#[derive(clap::Subcommand)]
pub(crate) enum DemoCommand {
    /// A cashier's full day at a demo till over the API of a running mesh (./dev up):
    /// sales, held bills, a credit sale, a return, an offline batch and the day close.
    Day(day::Day),
}

/// The demo tenant's slug, owner and password. Demo data only: never a real tenant.
pub(crate) const TENANT: &str = "demo";
pub(crate) const OWNER_EMAIL: &str = "owner@demo.bazaar";
pub(crate) const OWNER_PASSWORD: &str = "demo-owner-password";

const STORES: [(&str, &str); 3] = [
    ("BLR-01", "Bengaluru Indiranagar"),
    ("BLR-02", "Bengaluru Koramangala"),
    ("MUM-01", "Mumbai Bandra"),
];

/// Each store's invoice code and GST state (Karnataka 29, Maharashtra 27).
const SERIES: [(&str, &str, &str); 3] = [
    ("BLR1", "29", "29AAFCD5678Q1ZN"),
    ("BLR2", "29", "29AAFCD5678Q1ZN"),
    ("MUM1", "27", "27AAFCD5678Q1ZR"),
];

/// A demo category: its unit, HSN code, GST percent, brand, shelf life (perishables get
/// dated batches) and ten products.
struct Category {
    name: &'static str,
    unit: &'static str,
    hsn: &'static str,
    gst: &'static str,
    brand: &'static str,
    shelf_life_days: Option<i64>,
    products: [&'static str; 10],
}

const CATEGORIES: [Category; 6] = [
    Category {
        name: "Staples",
        unit: "kg",
        hsn: "1006",
        gst: "5",
        brand: "Annapurna",
        shelf_life_days: None,
        products: [
            "Basmati rice",
            "Sona masoori rice",
            "Toor dal",
            "Moong dal",
            "Chana dal",
            "Wheat atta",
            "Sugar",
            "Jaggery",
            "Poha",
            "Rava",
        ],
    },
    Category {
        name: "Beverages",
        unit: "piece",
        hsn: "0902",
        gst: "18",
        brand: "Chai Point",
        shelf_life_days: None,
        products: [
            "Assam tea",
            "Darjeeling tea",
            "Green tea",
            "Filter coffee",
            "Instant coffee",
            "Malt drink",
            "Mango drink",
            "Lemon soda",
            "Coconut water",
            "Mineral water",
        ],
    },
    Category {
        name: "Personal care",
        unit: "piece",
        hsn: "3401",
        gst: "18",
        brand: "Herbal Veda",
        shelf_life_days: None,
        products: [
            "Neem soap",
            "Sandal soap",
            "Shampoo",
            "Conditioner",
            "Toothpaste",
            "Toothbrush",
            "Hair oil",
            "Face wash",
            "Talc",
            "Deodorant",
        ],
    },
    Category {
        name: "Household",
        unit: "piece",
        hsn: "3402",
        gst: "18",
        brand: "Sparkle",
        shelf_life_days: None,
        products: [
            "Dish wash bar",
            "Dish wash gel",
            "Detergent powder",
            "Detergent liquid",
            "Floor cleaner",
            "Toilet cleaner",
            "Glass cleaner",
            "Garbage bags",
            "Scrub pad",
            "Naphthalene balls",
        ],
    },
    Category {
        name: "Snacks",
        unit: "piece",
        hsn: "1905",
        gst: "12",
        brand: "Crunchy",
        shelf_life_days: Some(120),
        products: [
            "Salted chips",
            "Masala chips",
            "Bhujia",
            "Mixture",
            "Peanuts",
            "Cream biscuits",
            "Marie biscuits",
            "Rusk",
            "Khakhra",
            "Chikki",
        ],
    },
    Category {
        name: "Dairy",
        unit: "piece",
        hsn: "0406",
        gst: "5",
        brand: "Nandini",
        shelf_life_days: Some(10),
        products: [
            "Toned milk",
            "Full cream milk",
            "Curd",
            "Paneer",
            "Butter",
            "Ghee",
            "Cheese slices",
            "Buttermilk",
            "Lassi",
            "Flavoured milk",
        ],
    },
];

/// Five pack sizes per product, with a price factor.
const PACKS: [(&str, i64); 5] = [("S", 1), ("M", 2), ("L", 4), ("XL", 8), ("F", 15)];

/// Seeds the demo tenant unless it exists, then prints how to log in.
pub(crate) async fn seed(settings: &Settings) -> anyhow::Result<()> {
    let identity = db::prepare(
        settings,
        bazaar_identity::SERVICE,
        bazaar_identity::migrator(),
    )
    .await?;
    let request = Bootstrap {
        slug: TENANT.to_owned(),
        name: "Demo Retail".to_owned(),
        email: OWNER_EMAIL.to_owned(),
        password: OWNER_PASSWORD.to_owned(),
        stores: STORES
            .map(|(code, name)| (code.to_owned(), name.to_owned()))
            .to_vec(),
    };
    match bazaar_identity::bootstrap(&identity, request).await {
        Ok(created) => {
            out!("demo tenant created: {}", created.tenant);
            let stop = CancellationToken::new();
            let mesh = Mesh::start(settings, &identity, &stop).await?;
            let seeded = mesh.seed(&created.stores).await;
            stop.cancel();
            out!("demo data: {}", seeded?);
        }
        Err(BootstrapError::TenantExists(_)) => out!("demo tenant already seeded"),
        Err(err) => return Err(err.into()),
    }
    identity.close().await;
    let addr = settings.http_addr;
    out!("demo login: tenant {TENANT}, email {OWNER_EMAIL}, password {OWNER_PASSWORD}");
    out!(
        "  curl -s http://{addr}/api/v1/auth/login -H 'content-type: application/json' \\\n    -d '{{\"tenant\":\"{TENANT}\",\"email\":\"{OWNER_EMAIL}\",\"password\":\"{OWNER_PASSWORD}\"}}'"
    );
    Ok(())
}

/// The services' routers, in this process, verifying tokens against identity's keys.
struct Mesh {
    identity: Router,
    identity_owner: sqlx::PgPool,
    catalog: Router,
    inventory: Router,
    inventory_owner: sqlx::PgPool,
    catalog_owner: sqlx::PgPool,
    partners: Router,
    partners_owner: sqlx::PgPool,
    purchase: Router,
    purchase_owner: sqlx::PgPool,
    sales: Router,
    sales_owner: sqlx::PgPool,
}

impl Mesh {
    /// The services in this process; what they start in the background ends with `stop`.
    async fn start(
        settings: &Settings,
        identity: &sqlx::PgPool,
        stop: &CancellationToken,
    ) -> anyhow::Result<Self> {
        let verifier = Arc::new(Verifier::new(
            &settings.token_issuer,
            &settings.token_audience,
            PublishedKeys(identity.clone()),
        ));
        let context = |pool| ServiceContext {
            pool,
            verifier: verifier.clone(),
            settings: settings.clone(),
            shutdown: stop.clone(),
        };
        let catalog_owner = db::prepare(
            settings,
            bazaar_catalog::SERVICE,
            bazaar_catalog::migrator(),
        )
        .await?;
        let partners_owner = db::prepare(
            settings,
            bazaar_partners::SERVICE,
            bazaar_partners::migrator(),
        )
        .await?;
        let purchase_owner = db::prepare(
            settings,
            bazaar_purchase::SERVICE,
            bazaar_purchase::migrator(),
        )
        .await?;
        let sales_owner =
            db::prepare(settings, bazaar_sales::SERVICE, bazaar_sales::migrator()).await?;
        let inventory_owner = db::prepare(
            settings,
            bazaar_inventory::SERVICE,
            bazaar_inventory::migrator(),
        )
        .await?;
        Ok(Self {
            identity: bazaar_identity::router(context(
                db::app_pool(settings, bazaar_identity::SERVICE).await?,
            )),
            catalog: bazaar_catalog::router(context(
                db::app_pool(settings, bazaar_catalog::SERVICE).await?,
            )),
            inventory: bazaar_inventory::router(context(
                db::app_pool(settings, bazaar_inventory::SERVICE).await?,
            )),
            inventory_owner,
            catalog_owner,
            partners: bazaar_partners::router(context(
                db::app_pool(settings, bazaar_partners::SERVICE).await?,
            )),
            partners_owner,
            purchase: bazaar_purchase::router(context(
                db::app_pool(settings, bazaar_purchase::SERVICE).await?,
            )),
            purchase_owner,
            sales: bazaar_sales::router(context(
                db::app_pool(settings, bazaar_sales::SERVICE).await?,
            )),
            sales_owner,
            identity_owner: identity.clone(),
        })
    }

    async fn seed(&self, stores: &[Uuid]) -> anyhow::Result<String> {
        let login = json!({"tenant": TENANT, "email": OWNER_EMAIL, "password": OWNER_PASSWORD});
        let tokens = post(&self.identity, "/api/v1/auth/login", None, login).await?;
        let token = tokens["access_token"]
            .as_str()
            .context("login answered without a token")?
            .to_owned();
        let token = Some(token.as_str());

        // Inventory learns the stores from identity's events, as it will from the topic.
        replay(
            &self.identity_owner,
            &self.inventory_owner,
            &InventorySnapshots::default(),
        )
        .await?;
        let mut locations = Vec::new();
        for ((code, name), store) in STORES.iter().zip(stores) {
            let body = json!({"code": code, "name": name, "kind": "store", "store_id": store});
            locations.push(id(post(
                &self.inventory,
                "/api/v1/inventory/locations",
                token,
                body,
            )
            .await?)?);
        }
        let warehouse =
            json!({"code": "WH-SOUTH", "name": "Bengaluru warehouse", "kind": "warehouse"});
        locations.push(id(post(
            &self.inventory,
            "/api/v1/inventory/locations",
            token,
            warehouse,
        )
        .await?)?);

        let mut products = Vec::new();
        for (c, category) in CATEGORIES.iter().enumerate() {
            let category_id = id(post(
                &self.catalog,
                "/api/v1/categories",
                token,
                json!({"name": category.name}),
            )
            .await?)?;
            for (n, name) in category.products.iter().enumerate() {
                for (pack, factor) in PACKS {
                    let sku = format!("{}-{:02}-{pack}", &category.name[..3].to_uppercase(), n + 1);
                    let mrp = (40 + 7 * (c as i64 * 10 + n as i64)) * 100 * factor;
                    let body = json!({
                        "sku": sku, "name": format!("{} {name} ({pack})", category.brand),
                        "brand": category.brand, "category_id": category_id, "unit": category.unit,
                        "hsn_code": category.hsn, "gst_rate": category.gst, "mrp": inr(mrp), "selling_price": inr(mrp * 95 / 100),
                        "tax_inclusive": true, "reorder_level": "10",
                    });
                    let product_id =
                        id(post(&self.catalog, "/api/v1/products", token, body).await?)?;
                    let barcodes = format!("/api/v1/products/{product_id}/barcodes");
                    post(&self.catalog, &barcodes, token, json!({})).await?;
                    products.push(DemoProduct {
                        id: product_id,
                        sku,
                        cost: mrp * 70 / 100,
                        shelf_life: category.shelf_life_days,
                    });
                }
            }
        }
        // Inventory and purchase learn the products from catalog's events, through their
        // own projections, as they will from the topic.
        replay(
            &self.catalog_owner,
            &self.inventory_owner,
            &InventorySnapshots::default(),
        )
        .await?;
        replay(
            &self.catalog_owner,
            &self.purchase_owner,
            &PurchaseReferences::default(),
        )
        .await?;
        self.opening_stock(token, &locations, &products).await?;
        let (customers, vendors) = self.partners(token).await?;
        replay(
            &self.partners_owner,
            &self.purchase_owner,
            &PurchaseReferences::default(),
        )
        .await?;
        replay(
            &self.catalog_owner,
            &self.sales_owner,
            &SalesReferences::default(),
        )
        .await?;
        replay(
            &self.partners_owner,
            &self.sales_owner,
            &SalesReferences::default(),
        )
        .await?;
        replay(
            &self.identity_owner,
            &self.sales_owner,
            &SalesReferences::default(),
        )
        .await?;
        // Each store's invoice series, the state its GST is charged in and that state's
        // registration.
        for ((code, state, gstin), (store, location)) in
            SERIES.iter().zip(stores.iter().zip(&locations))
        {
            let body =
                json!({"code": code, "state_code": state, "gstin": gstin, "location_id": location});
            let path = format!("/api/v1/pos/stores/{store}");
            let localhost = std::net::IpAddr::from([127, 0, 0, 1]);
            let reply = call(
                &self.sales,
                Method::PUT,
                &path,
                token,
                Some(body),
                &[],
                localhost,
            )
            .await;
            anyhow::ensure!(
                reply.status.is_success(),
                "demo seeding: {path}: {}",
                reply.body
            );
        }
        // Purchase orders go to locations purchase learnt of from inventory's events.
        replay(
            &self.inventory_owner,
            &self.purchase_owner,
            &PurchaseReferences::default(),
        )
        .await?;
        let orders = self
            .purchases(token, &vendors, locations[locations.len() - 1], &products)
            .await?;
        Ok(format!(
            "{} locations, {} products with barcodes, opening stock at each location, \
             {customers} customers, {} vendors, {orders} purchase orders",
            locations.len(),
            products.len(),
            vendors.len()
        ))
    }

    async fn opening_stock(
        &self,
        token: Option<&str>,
        locations: &[Uuid],
        products: &[DemoProduct],
    ) -> anyhow::Result<()> {
        let today = chrono::Utc::now().date_naive();
        for (n, product) in products.iter().enumerate() {
            for (l, location) in locations.iter().enumerate() {
                let warehouse = l == locations.len() - 1;
                let quantity = if warehouse {
                    200
                } else {
                    12 + (n * 3 + l * 7) % 40
                };
                let mut body = json!({
                    "location_id": location, "product_id": product.id,
                    "quantity": quantity.to_string(), "reason": "opening_stock",
                    "unit_cost": inr(product.cost),
                });
                if let Some(days) = product.shelf_life {
                    let expiry = today + chrono::Duration::days(days - (n + l) as i64 % days);
                    body["batch"] = json!(format!("{}-B1", product.sku));
                    body["expiry_date"] = json!(expiry.to_string());
                }
                post(&self.inventory, "/api/v1/inventory/adjust", token, body).await?;
            }
        }
        Ok(())
    }

    /// Three purchase cycles to the warehouse: one received and invoiced, one received
    /// in part, one awaiting approval.
    async fn purchases(
        &self,
        token: Option<&str>,
        vendors: &[Uuid],
        warehouse: Uuid,
        products: &[DemoProduct],
    ) -> anyhow::Result<usize> {
        let order = |vendor: Uuid, from: usize| {
            let lines: Vec<Value> = products[from..from + 4]
                .iter()
                .map(|p| json!({"product_id": p.id, "quantity": "48", "unit_price_minor": p.cost}))
                .collect();
            json!({"vendor_id": vendor, "location_id": warehouse, "place_of_supply": "29", "lines": lines})
        };
        let today = chrono::Utc::now().date_naive();
        for (n, vendor) in vendors.iter().take(3).enumerate() {
            let po = id(post(
                &self.purchase,
                "/api/v1/purchase-orders",
                token,
                order(*vendor, n * 10),
            )
            .await?)?;
            if n == 2 {
                continue; // left in draft, for someone to approve
            }
            post(
                &self.purchase,
                &format!("/api/v1/purchase-orders/{po}/approve"),
                token,
                Value::Null,
            )
            .await?;
            let received = if n == 0 { "48" } else { "30" };
            let lines: Vec<Value> = (1..=4)
                .map(|line| json!({"line_no": line, "quantity_received": received}))
                .collect();
            let grn = id(post(
                &self.purchase,
                &format!("/api/v1/purchase-orders/{po}/grns"),
                token,
                json!({"lines": lines}),
            )
            .await?)?;
            if n == 0 {
                let lines: Vec<Value> = products[0..4]
                    .iter()
                    .map(|p| json!({"product_id": p.id, "quantity": "48", "unit_price_minor": p.cost}))
                    .collect();
                post(
                    &self.purchase,
                    "/api/v1/purchase-invoices",
                    token,
                    json!({"vendor_id": vendor,
                    "vendor_invoice_number": "AF/2026/0042", "invoice_date": today,
                    "grn_ids": [grn], "lines": lines}),
                )
                .await?;
            }
        }
        Ok(vendors.len().min(3))
    }

    /// Walk-in and business customers (some on credit) and the chain's vendors.
    async fn partners(&self, token: Option<&str>) -> anyhow::Result<(usize, Vec<Uuid>)> {
        const NAMES: [&str; 10] = [
            "Asha", "Ravi", "Meera", "Arjun", "Kavya", "Rahul", "Priya", "Vikram", "Sneha", "Imran",
        ];
        for (n, name) in NAMES.iter().enumerate() {
            let mut body =
                json!({"name": format!("{name} Kumar"), "phone": format!("98450{:05}", n + 1)});
            if n % 3 == 0 {
                body["credit_limit"] = inr(2_500_000); // ₹25,000
                body["payment_terms_days"] = json!(30);
                body["customer_group"] = json!("regular");
            }
            post(&self.partners, "/api/v1/customers", token, body).await?;
        }
        let business = json!({"name": "Koramangala Caterers", "phone": "8041234567",
            "gstin": "29AAGCB7383J1Z4", "customer_group": "wholesale",
            "billing_address": {"line1": "80 Feet Road", "city": "Bengaluru", "state_code": "29", "pincode": "560034"},
            "credit_limit": inr(20_000_000), "payment_terms_days": 45}); // ₹2 lakh
        post(&self.partners, "/api/v1/customers", token, business).await?;
        let vendors = [
            ("Annapurna Foods", "27AAPFU0939F1ZV", None),
            ("Nandini Dairy Distributors", "", Some("29")),
            ("Herbal Veda Wholesale", "", Some("29")),
            ("Sparkle Home Care", "", Some("33")),
        ];
        let mut ids = Vec::new();
        for (name, gstin, state) in vendors {
            let body = json!({"name": name, "gstin": gstin, "state_code": state, "payment_terms_days": 30,
                "contacts": [{"name": "Accounts", "phone": "9876543210"}],
                "bank": {"account_number": "50100123456789", "ifsc": "HDFC0001234", "bank_name": "HDFC Bank"}});
            ids.push(id(
                post(&self.partners, "/api/v1/vendors", token, body).await?
            )?);
        }
        Ok((NAMES.len() + 1, ids))
    }
}

/// A product the demo made, for its stock and purchases.
struct DemoProduct {
    id: Uuid,
    sku: String,
    cost: i64,
    shelf_life: Option<i64>,
}

/// Applies every event in `source`'s outbox to `projection` in `target`, exactly as its
/// consumer does; when the relay later publishes them, the consumer finds them applied.
async fn replay<P: Projection>(
    source: &PgPool,
    target: &PgPool,
    projection: &P,
) -> anyhow::Result<()> {
    let rows: Vec<(Vec<u8>, Value, String)> =
        sqlx::query_as("SELECT payload, headers, topic FROM outbox ORDER BY id")
            .fetch_all(source)
            .await?;
    for (payload, headers, topic) in rows {
        if !projection.topics().contains(&topic) {
            continue;
        }
        let mut kafka_headers = rdkafka::message::OwnedHeaders::new();
        for (key, value) in headers.as_object().into_iter().flatten() {
            kafka_headers = kafka_headers.insert(rdkafka::message::Header {
                key,
                value: value.as_str(),
            });
        }
        let cloud = CloudEvent::from_kafka_headers(&kafka_headers)?;
        let (schema, payload) = Catalogue::embedded().decode(&payload)?;
        let event = ConsumedEvent {
            cloud,
            schema,
            payload,
            topic,
            partition: 0,
            offset: 0,
        };
        consumer::apply(target, projection, &event)
            .await
            .map_err(|err| anyhow::anyhow!("demo replay into {}: {err}", projection.name()))?;
    }
    Ok(())
}

fn inr(minor: i64) -> Value {
    json!({"amount_minor": minor, "currency": "INR"})
}

fn id(body: Value) -> anyhow::Result<Uuid> {
    body["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .with_context(|| format!("no id in {body}"))
}

/// POSTs through a service's own router; anything but success stops the seeding.
async fn post(app: &Router, path: &str, token: Option<&str>, body: Value) -> anyhow::Result<Value> {
    let localhost = std::net::IpAddr::from([127, 0, 0, 1]);
    let reply = call(app, Method::POST, path, token, Some(body), &[], localhost).await;
    anyhow::ensure!(
        reply.status.is_success(),
        "demo seeding: {path} answered {}: {}",
        reply.status,
        reply.body
    );
    Ok(reply.body)
}
