//! `bazaar demo`: the demo tenant `./dev up` prints a login for.

use bazaar_identity::{Bootstrap, BootstrapError};
use bazaar_platform::{db, Settings};

/// The demo tenant's slug, owner and password. Demo data only: never a real tenant.
pub(crate) const TENANT: &str = "demo";
pub(crate) const OWNER_EMAIL: &str = "owner@demo.bazaar";
pub(crate) const OWNER_PASSWORD: &str = "demo-owner-password";

/// Seeds the demo tenant unless it exists, then prints how to log in.
pub(crate) async fn seed(settings: &Settings) -> anyhow::Result<()> {
    let pool = db::prepare(
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
        stores: [
            ("BLR-01", "Bengaluru Indiranagar"),
            ("BLR-02", "Bengaluru Koramangala"),
            ("MUM-01", "Mumbai Bandra"),
        ]
        .map(|(code, name)| (code.to_owned(), name.to_owned()))
        .to_vec(),
    };
    match bazaar_identity::bootstrap(&pool, request).await {
        Ok(created) => out!("demo tenant created: {}", created.tenant),
        Err(BootstrapError::TenantExists(_)) => out!("demo tenant already seeded"),
        Err(err) => return Err(err.into()),
    }
    pool.close().await;
    let addr = settings.http_addr;
    out!("demo login: tenant {TENANT}, email {OWNER_EMAIL}, password {OWNER_PASSWORD}");
    out!(
        "  curl -s http://{addr}/api/v1/auth/login -H 'content-type: application/json' \\\n    -d '{{\"tenant\":\"{TENANT}\",\"email\":\"{OWNER_EMAIL}\",\"password\":\"{OWNER_PASSWORD}\"}}'"
    );
    Ok(())
}
