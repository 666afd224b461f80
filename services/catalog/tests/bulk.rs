//! Catalog's CSV import and export against a real database: created, updated and
//! unchanged rows, every bad row reported by line and column, all-or-nothing versus
//! partial, and export feeding back into import with nothing to change.

use axum::http::{Method, StatusCode};
use bazaar_platform::{
    auth::Role,
    db,
    http::{call_with, LocalReply},
    testing::TestService,
};

/// The service on a database of its own, with a tenant and its admin.
struct Catalog(TestService);

impl std::ops::Deref for Catalog {
    type Target = TestService;

    fn deref(&self) -> &TestService {
        &self.0
    }
}

const HEADER: &str =
    "sku,name,brand,category,unit,hsn_code,gst_rate,mrp,selling_price,reorder_level,barcodes";

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

    async fn import_as(&self, token: &str, mode: &str, csv: &str) -> LocalReply {
        let path = format!("/api/v1/products/bulk-import?mode={mode}");
        let body = Some(("text/csv", csv.as_bytes().to_vec()));
        let peer = std::net::IpAddr::from([10, 0, 0, 1]);
        call_with(&self.app, Method::POST, &path, Some(token), body, &[], peer).await
    }

    async fn import(&self, mode: &str, csv: &str) -> LocalReply {
        self.import_as(&self.admin, mode, csv).await
    }

    async fn export(&self) -> String {
        let peer = std::net::IpAddr::from([10, 0, 0, 1]);
        let reply = call_with(
            &self.app,
            Method::GET,
            "/api/v1/products/export",
            Some(&self.admin),
            None,
            &[],
            peer,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers["content-type"], "text/csv; charset=utf-8");
        reply.body.as_str().unwrap().to_owned()
    }

    async fn events(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox")
            .fetch_one(&self.owner)
            .await
            .unwrap()
    }

    async fn products(&self) -> i64 {
        let mut tx = db::begin_for_tenant(&self.owner, self.tenant)
            .await
            .unwrap();
        let n = sqlx::query_scalar("SELECT count(*) FROM products")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        n
    }
}

fn file(rows: &[&str]) -> String {
    let mut text = HEADER.to_owned();
    for row in rows {
        text.push('\n');
        text.push_str(row);
    }
    text.push('\n');
    text
}

const GOOD: [&str; 3] = [
    "RICE-5,Basmati rice 5 kg,India Gate,Staples / Rice,kg,1006,5,650.00,599.50,10.5,8901030865275",
    "TEA-250,\"Assam tea, 250 g\",Brahmaputra,Beverages,piece,0902,5,180,165,24,",
    "SOAP-1,Neem soap,Herbal Veda,,piece,3401,18,45.00,42.00,,036000291452|8901030865282",
];

fn errors(reply: &LocalReply) -> Vec<(String, String)> {
    reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["message"]
                    .as_str()
                    .unwrap()
                    .split(':')
                    .next()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_file_imports_once_and_exports_back_to_itself() {
    let c = Catalog::start().await;
    let first = c.import("all-or-nothing", &file(&GOOD)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let report = &first.body;
    assert_eq!(
        (
            report["rows"].as_u64(),
            report["created"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(3), Some(3), Some(0))
    );
    assert_eq!(
        report["categories_created"], 3,
        "Staples, Staples / Rice, Beverages"
    );
    // 3 categories, 3 products, 3 barcodes.
    assert_eq!(c.events().await, 9);

    // The same file again changes nothing and says so.
    let again = c.import("all-or-nothing", &file(&GOOD)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(
        (
            again.body["created"].as_u64(),
            again.body["updated"].as_u64(),
            again.body["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(3))
    );
    assert_eq!(c.events().await, 9);

    // Export writes every column; importing the export changes nothing either.
    let exported = c.export().await;
    let lines: Vec<&str> = exported.lines().collect();
    assert_eq!(lines[0], "sku,name,description,brand,category,unit,hsn_code,gst_rate,cess_rate,currency,mrp,selling_price,tax_inclusive,reorder_level,barcodes");
    assert_eq!(lines[1], "RICE-5,Basmati rice 5 kg,,India Gate,Staples / Rice,kg,1006,5,0,INR,650.00,599.50,true,10.5,8901030865275");
    assert_eq!(lines[3], "TEA-250,\"Assam tea, 250 g\",,Brahmaputra,Beverages,piece,0902,5,0,INR,180.00,165.00,true,24,");
    let round_trip = c.import("all-or-nothing", &exported).await;
    assert_eq!(round_trip.body["unchanged"], 3, "{}", round_trip.body);
    assert_eq!(c.events().await, 9);

    // A name a spreadsheet would run as a formula is exported inert, and comes back as it
    // was.
    let formula = "SOAP-9,\"=HYPERLINK(\"\"http://x.test\"\",\"\"win\"\")\",@brand,,piece,3401,18,45.00,42.00,,";
    let created = c.import("all-or-nothing", &file(&[formula])).await;
    assert_eq!(created.body["created"], 1, "{}", created.body);
    let exported = c.export().await;
    let soap = exported.lines().find(|l| l.starts_with("SOAP-9")).unwrap();
    assert!(
        soap.starts_with("SOAP-9,\"'=HYPERLINK(") && soap.contains(",'@brand,"),
        "{soap}"
    );
    let again = c.import("all-or-nothing", &exported).await;
    assert_eq!(again.body["unchanged"], 4, "{}", again.body);
    let events = c.events().await;

    // A changed price is an update, audited like any price change.
    let cheaper = GOOD[0].replace("599.50", "579.00");
    let update = c.import("all-or-nothing", &file(&[&cheaper])).await;
    assert_eq!(update.body["updated"], 1, "{}", update.body);
    let price_events: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type IN ('catalog.price.changed', 'audit.price.changed')")
        .fetch_one(&c.owner).await.unwrap();
    assert_eq!(price_events, 2);
    assert_eq!(c.events().await, events + 2);
    assert!(c.export().await.contains("650.00,579.00"));

    // Only owners and admins import; the tills do not take the catalog away in a file.
    let cashier = c.issuer.token(c.tenant, &[Role::Cashier]);
    assert_eq!(
        c.import_as(&cashier, "partial", &file(&GOOD)).await.status,
        StatusCode::FORBIDDEN
    );
    for (role, status) in [
        (Role::Cashier, StatusCode::FORBIDDEN),
        (Role::Hr, StatusCode::FORBIDDEN),
        (Role::StoreManager, StatusCode::OK),
        (Role::Accountant, StatusCode::OK),
    ] {
        let token = c.issuer.token(c.tenant, &[role]);
        let reply = call_with(
            &c.app,
            Method::GET,
            "/api/v1/products/export",
            Some(&token),
            None,
            &[],
            std::net::IpAddr::from([10, 0, 0, 1]),
        )
        .await;
        assert_eq!(reply.status, status, "{role:?}");
    }
}

#[tokio::test]
async fn every_bad_row_is_reported_and_all_or_nothing_writes_nothing() {
    let c = Catalog::start().await;
    let long_brand = format!(
        "SOAP-4,Rose soap,{},,piece,3401,18,45.00,42.00,,",
        "R".repeat(101)
    );
    let bad = [
        GOOD[0],
        "TEA-250,Assam tea,,Beverages,piece,0902,7,180,165,,", // line 3: GST 7%
        "OIL-1,Sunflower oil,,,litre,1512,5,150.00,160.00,,",  // line 4: above MRP
        "SALT-1,Salt,,,sack,2501,5,20,18,,",                   // line 5: unit
        "RICE-5,Rice again,,,kg,1006,5,650,600,,",             // line 6: repeated SKU
        "DAL-1,Toor dal,,,kg,0713,5,12.345,11,,",              // line 7: paise
        "MILK-1,Milk,,,piece,0401,5,30,28,,8901030865276",     // line 8: check digit
        "SUGAR-1,Sugar,,,kg,1701,5,45,44,2.5555,",             // line 9: kg has 3 decimals
        ",No SKU,,,piece,,5,10,9,,",                           // line 10: sku
        "SOAP-2,Sandal soap,,,piece,3401,18,45.00,42.00,,8901030865275", // line 11: barcode of line 2
        "SOAP-3,Neem soap,Ne\u{0}em,,piece,3401,18,45.00,42.00,,", // line 12: a NUL in the brand
        &long_brand, // line 13: a brand longer than 100 characters
        GOOD[2],
    ];
    let reply = c.import("all-or-nothing", &file(&bad)).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.body
    );
    assert_eq!(reply.code(), "import_rejected");
    assert_eq!(
        errors(&reply),
        [
            ("line 3, column gst_rate", "invalid_gst_rate"),
            ("line 4, column selling_price", "price_above_mrp"),
            ("line 5, column unit", "unknown_unit"),
            ("line 6, column sku", "repeated_in_file"),
            ("line 7, column mrp", "invalid_price"),
            ("line 8, column barcodes", "invalid_barcode_check_digit"),
            ("line 9, column reorder_level", "too_many_decimals"),
            ("line 10, column sku", "required"),
            ("line 11, column barcodes", "repeated_in_file"),
            ("line 12, column brand", "invalid_character"),
            ("line 13, column brand", "too_long"),
        ]
        .map(|(f, c)| (f.to_owned(), c.to_owned()))
    );
    assert_eq!(c.products().await, 0);
    assert_eq!(c.events().await, 0);

    // Partial: the good rows go in, the same bad ones come back.
    let partial = c.import("partial", &file(&bad)).await;
    assert_eq!(partial.status, StatusCode::OK, "{}", partial.body);
    assert_eq!(
        (
            partial.body["created"].as_u64(),
            partial.body["rejected"].as_u64()
        ),
        (Some(2), Some(11))
    );
    let lines: Vec<u64> = partial.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    assert_eq!(c.products().await, 2);

    // A barcode another product already has is refused in a later file too.
    let taken = c
        .import(
            "all-or-nothing",
            &file(&["OIL-2,Oil,,,litre,1512,5,150,140,,8901030865275"]),
        )
        .await;
    assert_eq!(
        errors(&taken),
        [(
            "line 2, column barcodes".to_owned(),
            "barcode_taken".to_owned()
        )]
    );
    // So is a new unit for an existing SKU.
    let kg = c
        .import(
            "all-or-nothing",
            &file(&["SOAP-1,Neem soap,,,kg,3401,18,45.00,42.00,,"]),
        )
        .await;
    assert_eq!(
        errors(&kg),
        [("line 2, column unit".to_owned(), "unit_changed".to_owned())]
    );
}

#[tokio::test]
async fn unusable_files_are_refused_whole() {
    let c = Catalog::start().await;
    let unknown = c.import("partial", "sku,name,colour\nA,B,red\n").await;
    assert_eq!(unknown.code(), "invalid_header");
    assert!(unknown.body["detail"].as_str().unwrap().contains("colour"));
    let missing = c
        .import("partial", "sku,name,unit,gst_rate,mrp\nA,B,piece,5,10\n")
        .await;
    assert_eq!(missing.code(), "invalid_header");
    assert!(missing.body["detail"]
        .as_str()
        .unwrap()
        .contains("selling_price"));
    let twice = c
        .import("partial", "sku,sku,name,unit,gst_rate,mrp,selling_price\n")
        .await;
    assert_eq!(twice.code(), "invalid_header");
    let empty = c.import("partial", &file(&[])).await;
    assert_eq!(empty.code(), "empty_file");
    let nothing = c.import("partial", "").await;
    assert_eq!(nothing.code(), "invalid_header");
    let mode = c.import("sometimes", &file(&GOOD)).await;
    assert_eq!(mode.code(), "invalid_query");
    assert_eq!(c.products().await, 0);
}
