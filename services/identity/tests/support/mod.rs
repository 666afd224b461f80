//! An identity service on its own database with two tenants, called without a socket.

#![allow(dead_code)]

use std::{sync::Arc, time::Duration};

use axum::{
    http::{Method, StatusCode},
    Router,
};
use bazaar_identity::{keys::PublishedKeys, Bootstrap, Bootstrapped};
use bazaar_platform::{auth::Verifier, db, ServiceContext, Settings};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

pub(crate) const PASSWORD: &str = "correct horse battery";

/// One tenant bootstrapped in the test database.
pub(crate) struct Tenant {
    pub(crate) slug: String,
    pub(crate) ids: Bootstrapped,
    pub(crate) owner_email: String,
}

pub(crate) struct Identity {
    pub(crate) app: Router,
    /// As the owning role (bootstrap, key rotation, inspection).
    pub(crate) owner: PgPool,
    /// As the handlers' role, under row-level security.
    pub(crate) app_pool: PgPool,
    pub(crate) a: Tenant,
    pub(crate) b: Tenant,
}

pub(crate) use bazaar_platform::testing::Reply;

pub(crate) fn settings() -> Settings {
    Settings::from_env().expect("valid BAZAAR_* variables")
}

impl Identity {
    pub(crate) async fn start() -> Self {
        Self::with_refresh_cooldown(Duration::from_secs(30)).await
    }

    /// With a verifier that may refetch keys this often.
    pub(crate) async fn with_refresh_cooldown(cooldown: Duration) -> Self {
        let settings = settings();
        let name = format!("test_identity_{}", Uuid::new_v4().simple());
        let owner = db::prepare(&settings, &name, bazaar_identity::migrator())
            .await
            .unwrap();
        let app_pool = db::app_pool(&settings, &name).await.unwrap();
        let a = tenant(&owner, "alpha").await;
        let b = tenant(&owner, "beta").await;
        let verifier = Verifier::new(
            &settings.token_issuer,
            &settings.token_audience,
            PublishedKeys(app_pool.clone()),
        )
        .with_refresh_cooldown(cooldown);
        let app = bazaar_identity::router(ServiceContext {
            pool: app_pool.clone(),
            verifier: Arc::new(verifier),
            settings,
            shutdown: tokio_util::sync::CancellationToken::new(),
        });
        Self {
            app,
            owner,
            app_pool,
            a,
            b,
        }
    }

    /// Sends a request (`x-test-peer` in `headers` sets the client address).
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        bazaar_platform::testing::send(&self.app, method, path, token, body, headers).await
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), None, &[]).await
    }

    pub(crate) async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(Method::POST, path, token, Some(body), &[]).await
    }

    pub(crate) async fn login_reply(&self, tenant: &str, email: &str, password: &str) -> Reply {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({"tenant": tenant, "email": email, "password": password}),
        )
        .await
    }

    /// Logs in and returns (access token, refresh token).
    pub(crate) async fn login(&self, tenant: &str, email: &str) -> (String, String) {
        let reply = self.login_reply(tenant, email, PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        (
            reply.body["access_token"].as_str().unwrap().to_owned(),
            reply.body["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    /// The owner's access token of tenant `t`.
    pub(crate) async fn owner_token(&self, t: &Tenant) -> String {
        self.login(&t.slug, &t.owner_email).await.0
    }

    /// Creates a user in `t` (as its owner) and returns its id.
    pub(crate) async fn user(
        &self,
        t: &Tenant,
        email: &str,
        roles: &[&str],
        stores: Value,
    ) -> Uuid {
        let owner = self.owner_token(t).await;
        let reply = self
            .post(
                "/api/v1/users",
                Some(&owner),
                json!({"email": email, "name": email, "password": PASSWORD,
                       "roles": roles, "stores": stores}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().unwrap().parse().unwrap()
    }

    /// Audit events of `event_type` in the outbox.
    pub(crate) async fn audit_events(&self, event_type: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = $1")
            .bind(event_type)
            .fetch_one(&self.owner)
            .await
            .unwrap()
    }
}

async fn tenant(owner: &PgPool, prefix: &str) -> Tenant {
    let slug = format!("{prefix}-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let owner_email = format!("owner@{slug}.test");
    let ids = bazaar_identity::bootstrap(
        owner,
        Bootstrap {
            slug: slug.clone(),
            name: format!("{prefix} retail"),
            email: owner_email.clone(),
            password: PASSWORD.to_owned(),
            stores: vec![
                ("S1".to_owned(), "Store one".to_owned()),
                ("S2".to_owned(), "Store two".to_owned()),
            ],
        },
    )
    .await
    .unwrap();
    Tenant {
        slug,
        ids,
        owner_email,
    }
}
