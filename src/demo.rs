//! `bazaar demo`: the demo tenant `./dev up` prints a login for: three stores and a
//! warehouse, 300 products in six categories with barcodes, and opening stock at every
//! location. It drives each service through its own API in-process, so the demo data
//! obeys the same rules and writes the same events as real data.

use std::sync::Arc;

use anyhow::Context;
use axum::{http::Method, Router};
use bazaar_identity::{keys::PublishedKeys, Bootstrap, BootstrapError};
use bazaar_platform::{auth::Verifier, db, http::call, ServiceContext, Settings};
use serde_json::{json, Value};
use uuid::Uuid;

/// The demo tenant's slug, owner and password. Demo data only: never a real tenant.
pub(crate) const TENANT: &str = "demo";
pub(crate) const OWNER_EMAIL: &str = "owner@demo.bazaar";
pub(crate) const OWNER_PASSWORD: &str = "demo-owner-password";

const STORES: [(&str, &str); 3] = [
    ("BLR-01", "Bengaluru Indiranagar"),
    ("BLR-02", "Bengaluru Koramangala"),
    ("MUM-01", "Mumbai Bandra"),
];

/// A demo category: its unit, GST percent, brand, shelf life (perishables get dated
/// batches) and ten products.
struct Category {
    name: &'static str,
    unit: &'static str,
    gst: &'static str,
    brand: &'static str,
    shelf_life_days: Option<i64>,
    products: [&'static str; 10],
}

const CATEGORIES: [Category; 6] = [
    Category {
        name: "Staples",
        unit: "kg",
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
            let mesh = Mesh::start(settings, &identity).await?;
            let seeded = mesh.seed(created.tenant, &created.stores).await?;
            out!("demo data: {seeded}");
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
    catalog: Router,
    inventory: Router,
    inventory_owner: sqlx::PgPool,
    partners: Router,
}

impl Mesh {
    async fn start(settings: &Settings, identity: &sqlx::PgPool) -> anyhow::Result<Self> {
        let verifier = Arc::new(Verifier::new(
            &settings.token_issuer,
            &settings.token_audience,
            PublishedKeys(identity.clone()),
        ));
        let context = |pool| ServiceContext {
            pool,
            verifier: verifier.clone(),
            settings: settings.clone(),
        };
        db::prepare(
            settings,
            bazaar_catalog::SERVICE,
            bazaar_catalog::migrator(),
        )
        .await?;
        db::prepare(
            settings,
            bazaar_partners::SERVICE,
            bazaar_partners::migrator(),
        )
        .await?;
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
            partners: bazaar_partners::router(context(
                db::app_pool(settings, bazaar_partners::SERVICE).await?,
            )),
        })
    }

    async fn seed(&self, tenant: Uuid, stores: &[Uuid]) -> anyhow::Result<String> {
        let login = json!({"tenant": TENANT, "email": OWNER_EMAIL, "password": OWNER_PASSWORD});
        let tokens = post(&self.identity, "/api/v1/auth/login", None, login).await?;
        let token = tokens["access_token"]
            .as_str()
            .context("login answered without a token")?
            .to_owned();
        let token = Some(token.as_str());

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

        let today = chrono::Utc::now().date_naive();
        let mut products = 0;
        for (c, category) in CATEGORIES.iter().enumerate() {
            let Category {
                name: category,
                unit,
                gst,
                brand,
                shelf_life_days: shelf_life,
                products: names,
            } = category;
            let category_id = id(post(
                &self.catalog,
                "/api/v1/categories",
                token,
                json!({"name": category}),
            )
            .await?)?;
            for (n, name) in names.iter().enumerate() {
                for (p, (pack, factor)) in PACKS.iter().enumerate() {
                    let sku = format!("{}-{:02}-{pack}", &category[..3].to_uppercase(), n + 1);
                    let mrp = (40 + 7 * (c as i64 * 10 + n as i64)) * 100 * factor;
                    let body = json!({
                        "sku": sku, "name": format!("{brand} {name} ({pack})"), "brand": brand,
                        "category_id": category_id, "unit": unit, "gst_rate": gst,
                        "mrp": inr(mrp), "selling_price": inr(mrp * 95 / 100),
                        "tax_inclusive": true, "reorder_level": "10",
                    });
                    let product = post(&self.catalog, "/api/v1/products", token, body).await?;
                    let product_id = id(product.clone())?;
                    let barcodes = format!("/api/v1/products/{product_id}/barcodes");
                    post(&self.catalog, &barcodes, token, json!({})).await?;
                    self.know(tenant, product_id, &sku, unit).await?;
                    for (l, location) in locations.iter().enumerate() {
                        let warehouse = l == locations.len() - 1;
                        let quantity = if warehouse {
                            200
                        } else {
                            12 + (n * 5 + p * 3 + l * 7) % 40
                        };
                        let mut body = json!({
                            "location_id": location, "product_id": product_id,
                            "quantity": quantity.to_string(), "reason": "opening_stock",
                            "unit_cost": inr(mrp * 70 / 100),
                        });
                        if let Some(days) = shelf_life {
                            let expiry =
                                today + chrono::Duration::days(days - (n + l) as i64 % days);
                            body["batch"] = json!(format!("{sku}-B1"));
                            body["expiry_date"] = json!(expiry.to_string());
                        }
                        post(&self.inventory, "/api/v1/inventory/adjust", token, body).await?;
                    }
                    products += 1;
                }
            }
        }
        let (customers, vendors) = self.partners(token).await?;
        Ok(format!(
            "{} locations, {products} products with barcodes, opening stock at each location, \
             {customers} customers, {vendors} vendors",
            locations.len()
        ))
    }

    /// Walk-in and business customers (some on credit) and the chain's vendors.
    async fn partners(&self, token: Option<&str>) -> anyhow::Result<(usize, usize)> {
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
        for (name, gstin, state) in vendors {
            let body = json!({"name": name, "gstin": gstin, "state_code": state, "payment_terms_days": 30,
                "contacts": [{"name": "Accounts", "phone": "9876543210"}],
                "bank": {"account_number": "50100123456789", "ifsc": "HDFC0001234", "bank_name": "HDFC Bank"}});
            post(&self.partners, "/api/v1/vendors", token, body).await?;
        }
        Ok((NAMES.len() + 1, vendors.len()))
    }

    /// Tells inventory about a product now, as its consumer of catalog's events will
    /// again (idempotently) once the relay publishes them.
    async fn know(&self, tenant: Uuid, product: Uuid, sku: &str, unit: &str) -> anyhow::Result<()> {
        let facts = bazaar_inventory::store::ProductFacts {
            id: product,
            sku: sku.to_owned(),
            unit_decimals: if unit == "kg" { 3 } else { 0 },
            currency: "INR".to_owned(),
            reorder_level: Some(10.into()),
        };
        let mut tx = db::begin_for_tenant(&self.inventory_owner, tenant).await?;
        bazaar_inventory::store::upsert_product(&mut tx, tenant, &facts).await?;
        bazaar_inventory::store::register_tenant(&mut tx, tenant).await?;
        tx.commit().await?;
        Ok(())
    }
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
