//! Against the real PostgreSQL and Kafka started by `./dev infra up`.

use std::path::Path;

use axum::{body::Body, http::Request, Router};
use bazaar_platform::{
    db,
    http::{self, HttpMetrics, Problem, Readiness},
    kafka::KafkaProbe,
    Settings,
};
use http_body_util::BodyExt;
use sqlx::migrate::Migrator;
use tower::ServiceExt;

fn settings() -> Settings {
    Settings::from_env().expect("BAZAAR_* variables are valid")
}

fn unique_database() -> String {
    format!("test_{}", uuid::Uuid::new_v4().simple())
}

async fn fixture_migrator() -> Migrator {
    Migrator::new(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/migrations"
    )))
    .await
    .unwrap()
}

async fn drop_database(settings: &Settings, name: &str) {
    let pool = db::pool(settings, "postgres").await.unwrap();
    sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
        .execute(&pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn prepare_creates_a_missing_database_and_migrates_it_even_when_raced() {
    let settings = settings();
    let name = unique_database();
    // Two replicas starting at once must both come up.
    let (a, b) = tokio::join!(
        db::prepare(&settings, &name, fixture_migrator().await),
        db::prepare(&settings, &name, fixture_migrator().await)
    );
    let pool = a.unwrap();
    b.unwrap();
    sqlx::query("INSERT INTO ledger_note (body) VALUES ('opening balance')")
        .execute(&pool)
        .await
        .unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    let platform = db::platform_migrator().iter().count() as i64;
    assert_eq!(
        applied,
        platform + 1,
        "the platform's tables, then the service's, once each"
    );
    let outbox: bool = sqlx::query_scalar("SELECT to_regclass('outbox') IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(outbox);
    pool.close().await;
    drop_database(&settings, &name).await;
}

#[tokio::test]
async fn a_process_connects_under_its_name_and_a_consumer_plans_once() {
    let session = |settings: Settings| async move {
        let owner = db::pool(&settings, "postgres").await.unwrap();
        let app = db::app_pool(&settings, "postgres").await.unwrap();
        let mut seen = Vec::new();
        for pool in [owner, app] {
            let row: (String, String) = sqlx::query_as(
                "SELECT current_setting('application_name'), current_setting('plan_cache_mode')",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            seen.push(row);
            pool.close().await;
        }
        seen
    };
    let named = |name: &str, mode: &str| vec![(name.to_owned(), mode.to_owned()); 2];
    assert_eq!(
        session(settings().connecting_as("bazaar serve")).await,
        named("bazaar serve", "auto")
    );
    let consumer = settings()
        .connecting_as("bazaar consume finance-ledger")
        .planning_once();
    assert_eq!(
        session(consumer).await,
        named("bazaar consume finance-ledger", "force_generic_plan")
    );

    // The till's hot transactions plan once too, and only they: the connection forgets it.
    let pool = db::pool(&settings(), "postgres").await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let tenant = uuid::Uuid::new_v4();
    let setting =
        "SELECT current_setting('bazaar.tenant', true), current_setting('plan_cache_mode')";
    let mut tx = db::begin_for_tenant_planned_once(&mut *conn, tenant)
        .await
        .unwrap();
    let inside: (Option<String>, String) =
        sqlx::query_as(setting).fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let after: (Option<String>, String) =
        sqlx::query_as(setting).fetch_one(&mut *conn).await.unwrap();
    assert_eq!(
        inside,
        (Some(tenant.to_string()), "force_generic_plan".to_owned())
    );
    assert_eq!(after.1, "auto");
    assert_ne!(after.0, Some(tenant.to_string()));
}

#[tokio::test]
async fn a_database_name_that_is_not_an_identifier_is_refused() {
    let err = db::create_database(&settings().database, "x\"; DROP DATABASE postgres; --")
        .await
        .unwrap_err();
    assert!(matches!(err, db::DbError::InvalidName(_)));
}

/// `/readyz` of an app that needs the `postgres` database and the Kafka of `settings`.
async fn readyz(settings: &Settings) -> (u16, serde_json::Value) {
    let pool = db::pool(settings, "postgres").await.unwrap();
    let readiness = Readiness::new()
        .database("postgres", pool)
        .kafka(KafkaProbe::new(settings).unwrap());
    let app = http::app(
        Router::new(),
        http::openapi([]),
        readiness,
        HttpMetrics::new(),
    );
    let response = app
        .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn readyz_is_200_when_database_and_kafka_answer() {
    let (status, body) = readyz(&settings()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(body["checks"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn readyz_is_503_naming_kafka_when_no_broker_answers() {
    let mut settings = settings();
    settings.kafka_brokers = "127.0.0.1:1".into();
    let (status, body) = readyz(&settings).await;
    assert_eq!(status, 503);
    let problem: Problem = serde_json::from_value(body).unwrap();
    assert_eq!(problem.code, "not_ready");
    assert_eq!(problem.errors.len(), 1);
    assert_eq!(problem.errors[0].field, "kafka");
}

/// A currency column reads as a `Currency`; a code that names none fails the row, where
/// a `String` column once fell back to rupees.
#[tokio::test]
async fn a_stored_currency_code_that_names_no_currency_fails_the_row() {
    use bazaar_platform::money::Currency;
    let pool = db::pool(&settings(), "postgres").await.unwrap();
    let (sgd,): (Currency,) = sqlx::query_as("SELECT 'SGD'::text")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sgd.code(), "SGD");
    let (back,): (String,) = sqlx::query_as("SELECT $1::text")
        .bind(Currency::INR)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(back, "INR");
    let corrupt = sqlx::query_as::<_, (Currency,)>("SELECT 'RUPEES'::text")
        .fetch_one(&pool)
        .await;
    assert!(
        matches!(corrupt, Err(sqlx::Error::ColumnDecode { .. })),
        "{corrupt:?}"
    );
}
