//! The `clickhouse` crate against the ClickHouse `./dev infra up` runs (Debian's 18.16).

use bazaar_platform::{clickhouse, Settings};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clickhouse::Row)]
struct SaleLine {
    event_id: String,
    store: String,
    amount_minor: i64,
}

#[tokio::test]
async fn rows_inserted_with_the_crate_read_back_on_this_clickhouse() {
    let settings = Settings::from_env().unwrap();
    let database = format!("test_{}", uuid::Uuid::new_v4().simple());
    let admin = clickhouse::client(&settings, "default");
    admin
        .query(&format!("CREATE DATABASE {database}"))
        .execute()
        .await
        .unwrap();

    let db = clickhouse::client(&settings, &database);
    // Syntax 18.16 accepts and current releases still do.
    db.query(
        "CREATE TABLE sale_lines (event_id String, store String, amount_minor Int64) \
         ENGINE = ReplacingMergeTree() ORDER BY event_id",
    )
    .execute()
    .await
    .unwrap();
    let rows = vec![
        SaleLine {
            event_id: "e1".into(),
            store: "MUM-01".into(),
            amount_minor: 129_950,
        },
        SaleLine {
            event_id: "e2".into(),
            store: "BLR-02".into(),
            amount_minor: -4_500,
        },
    ];
    let mut insert = db.insert("sale_lines").unwrap();
    for row in &rows {
        insert.write(row).await.unwrap();
    }
    insert.end().await.unwrap();

    let read: Vec<SaleLine> = db
        .query("SELECT ?fields FROM sale_lines ORDER BY event_id")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(read, rows);
    let total: i64 = db
        .query("SELECT sum(amount_minor) FROM sale_lines")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(total, 125_450);

    admin
        .query(&format!("DROP DATABASE {database}"))
        .execute()
        .await
        .unwrap();
}
