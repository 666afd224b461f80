//! Helpers for services' tests (feature `testing`): tokens for any tenant, roles and
//! stores without running identity, and a request helper for a router without a socket.

use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use uuid::Uuid;

use crate::auth::{AllStores, Claims, Role, Stores, Verifier};

const ISSUER: &str = "bazaar-test-identity";
const AUDIENCE: &str = "bazaar";

/// Issues access tokens that [`TestIssuer::verifier`] accepts.
#[derive(Clone)]
pub struct TestIssuer {
    pkcs8: Vec<u8>,
    verifier: Arc<Verifier>,
}

impl Default for TestIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl TestIssuer {
    /// A fresh key.
    pub fn new() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .expect("a random key")
            .as_ref()
            .to_vec();
        let public = Ed25519KeyPair::from_pkcs8(&pkcs8)
            .expect("a generated key parses")
            .public_key()
            .as_ref()
            .to_vec();
        let jwks = serde_json::json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "test",
            "x": URL_SAFE_NO_PAD.encode(public)}]});
        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(jwks).expect("a valid JWK set");
        Self {
            pkcs8,
            verifier: Arc::new(Verifier::new(ISSUER, AUDIENCE, jwks)),
        }
    }

    /// The verifier to build the service's router with.
    pub fn verifier(&self) -> Arc<Verifier> {
        self.verifier.clone()
    }

    /// A token of a new user of `tenant` with `roles` at every store.
    pub fn token(&self, tenant: Uuid, roles: &[Role]) -> String {
        self.token_for(tenant, roles, Stores::All(AllStores::All))
    }

    /// A token of a new user of `tenant` with `roles` at `stores`.
    pub fn token_for(&self, tenant: Uuid, roles: &[Role], stores: Stores) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: Uuid::new_v4(),
            tenant,
            stores,
            roles: roles.to_vec(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            exp: now + 900,
            nbf: now,
            iat: now,
            jti: Uuid::new_v4(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("test".to_owned());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&self.pkcs8))
            .expect("a test token signs")
    }
}

/// A response as a test sees it.
pub use crate::http::LocalReply as Reply;

/// Sends one request to `app`: a bearer `token`, a JSON `body`, extra `headers`, and
/// the peer address 10.0.0.1 unless a `x-test-peer` header names another.
pub async fn send(
    app: &axum::Router,
    method: axum::http::Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
    headers: &[(&str, &str)],
) -> Reply {
    let peer = headers
        .iter()
        .find(|(name, _)| *name == "x-test-peer")
        .and_then(|(_, ip)| ip.parse().ok())
        .unwrap_or(std::net::IpAddr::from([10, 0, 0, 1]));
    crate::http::call(app, method, path, token, body, headers, peer).await
}

/// A service under test: its router on a fresh database of its own, the database's
/// owner pool (to look behind the API) and the issuer of the tokens it accepts.
pub struct TestService {
    /// The service's routes, connected as `bazaar_app`.
    pub app: axum::Router,
    /// The database's name (a relay needs it).
    pub database: String,
    /// The database's owner: migrations ran as it; row-level security still applies.
    pub owner: sqlx::PgPool,
    /// Mints tokens the router accepts.
    pub issuer: TestIssuer,
    /// A tenant of its own.
    pub tenant: Uuid,
    /// An admin of that tenant, for every store.
    pub admin: String,
}

impl TestService {
    /// Creates `test_<service>_<random>`, migrates it and builds the router, for a tenant
    /// and an issuer of its own.
    pub async fn start(
        service: &str,
        migrator: sqlx::migrate::Migrator,
        router: fn(crate::ServiceContext) -> axum::Router,
    ) -> Self {
        Self::start_for(
            service,
            migrator,
            router,
            &TestIssuer::new(),
            Uuid::new_v4(),
        )
        .await
    }

    /// The same for a given tenant and issuer: several services of one mesh in a test.
    pub async fn start_for(
        service: &str,
        migrator: sqlx::migrate::Migrator,
        router: fn(crate::ServiceContext) -> axum::Router,
        issuer: &TestIssuer,
        tenant: Uuid,
    ) -> Self {
        let settings = crate::Settings::from_env().expect("valid BAZAAR_* variables");
        Self::start_with(service, migrator, router, issuer, tenant, settings).await
    }

    /// The same with given settings (another service's URL, say).
    pub async fn start_with(
        service: &str,
        migrator: sqlx::migrate::Migrator,
        router: fn(crate::ServiceContext) -> axum::Router,
        issuer: &TestIssuer,
        tenant: Uuid,
        settings: crate::Settings,
    ) -> Self {
        let name = format!("test_{service}_{}", Uuid::new_v4().simple());
        let owner = crate::db::prepare(&settings, &name, migrator)
            .await
            .expect("a test database");
        let pool = crate::db::app_pool(&settings, &name)
            .await
            .expect("the app role connects");
        let issuer = issuer.clone();
        let app = router(crate::ServiceContext {
            pool,
            verifier: issuer.verifier(),
            settings,
            // A test's services live as long as its runtime.
            shutdown: tokio_util::sync::CancellationToken::new(),
        });
        let admin = issuer.token(tenant, &[Role::Admin]);
        Self {
            app,
            database: name,
            owner,
            issuer,
            tenant,
            admin,
        }
    }
}

/// `payload` as a consumed event of the current version of `event_type` for `tenant`, as the
/// runner hands it to a projection (encoded and decoded with the schema on the way).
pub fn event(
    event_type: &str,
    tenant: Uuid,
    payload: &serde_json::Value,
) -> crate::consumer::ConsumedEvent {
    let catalogue = bazaar_schemas::Catalogue::embedded();
    let schema = catalogue.current(event_type).expect("a known event type");
    let bytes = schema
        .encode(payload)
        .expect("a payload that fits the schema");
    let (schema, payload) = catalogue.decode(&bytes).expect("decodes");
    crate::consumer::ConsumedEvent {
        cloud: bazaar_schemas::CloudEvent::new(schema, "test", "key", tenant),
        schema,
        payload,
        topic: format!("{}.events.v1", schema.domain()),
        partition: 0,
        offset: 0,
    }
}

/// Applies a sample of every event type `projection` claims, each in a transaction rolled
/// back afterwards, and fails if one reaches `apply`'s catch-all ([`Unhandled`]) or is
/// not on a topic the projection reads: a type claimed and not applied would otherwise
/// be lost without a trace. Other errors are the sample's plainness, not a missing arm.
///
/// [`Unhandled`]: crate::consumer::Unhandled
pub async fn claimed_types_are_applied<P: crate::consumer::Projection>(
    pool: &sqlx::PgPool,
    projection: &P,
) {
    let catalogue = bazaar_schemas::Catalogue::embedded();
    let topics = projection.topics();
    assert!(
        !projection.event_types().is_empty(),
        "{} claims nothing",
        projection.name()
    );
    for event_type in projection.event_types() {
        let schema = catalogue
            .current(event_type)
            .unwrap_or_else(|_| panic!("{}: {event_type} has no schema", projection.name()));
        let topic = format!("{}.events.v1", schema.domain());
        assert!(
            topics.contains(&topic),
            "{} claims {event_type} but does not read {topic}",
            projection.name()
        );
        let tenant = Uuid::new_v4();
        let sample = event(event_type, tenant, &schema.sample());
        let mut tx = crate::db::begin_for_tenant(pool, tenant)
            .await
            .expect("a transaction");
        let applied = projection.apply(&mut tx, &sample).await;
        tx.rollback().await.expect("rolled back");
        if let Err(err) = applied {
            assert!(
                !err.is::<crate::consumer::Unhandled>(),
                "{} claims {event_type}: {err}",
                projection.name()
            );
        }
    }
}

/// Tells the service behind `pool`, through `projection`, that `store` is one of
/// `tenant`'s, as identity's `identity.store.opened` would.
pub async fn store_opened<P: crate::consumer::Projection>(
    pool: &sqlx::PgPool,
    projection: &P,
    tenant: Uuid,
    store: Uuid,
) {
    let opened = event(
        crate::stores::OPENED,
        tenant,
        &serde_json::json!({"tenant_id": tenant, "store_id": store, "code": "BLR-01",
                            "name": "Indiranagar", "opened_at": 0}),
    );
    let applied = crate::consumer::apply(pool, projection, &opened)
        .await
        .expect("the store is recorded");
    assert!(applied, "{} took the store once", projection.name());
}

/// The events in `pool`'s outbox of type `event_type`, in the order they were written,
/// as the runner would hand them to a projection: another service's projection can be
/// fed a service's real events without Kafka.
pub async fn outbox_events(
    pool: &sqlx::PgPool,
    event_type: &str,
) -> Vec<crate::consumer::ConsumedEvent> {
    type Row = (Uuid, Uuid, String, Vec<u8>, chrono::DateTime<chrono::Utc>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT event_id, tenant_id, key, payload, created_at FROM outbox WHERE event_type = $1 ORDER BY id",
    )
    .bind(event_type)
    .fetch_all(pool)
    .await
    .expect("the outbox");
    let catalogue = bazaar_schemas::Catalogue::embedded();
    rows.into_iter()
        .map(|(id, tenant, key, bytes, created)| {
            let (schema, payload) = catalogue.decode(&bytes).expect("an outbox payload decodes");
            let mut cloud = bazaar_schemas::CloudEvent::new(schema, "test", &key, tenant);
            cloud.id = id;
            cloud.time = created;
            crate::consumer::ConsumedEvent {
                cloud,
                schema,
                payload,
                topic: format!("{}.events.v1", schema.domain()),
                partition: 0,
                offset: 0,
            }
        })
        .collect()
}

impl TestService {
    /// Serves the router on a loopback port of its own, until the test ends, and returns
    /// its base URL: for services that call it over HTTP.
    pub async fn listen(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        // As `bazaar serve` serves it: the request spans, metrics and fallbacks around it.
        let app = crate::http::app(
            self.app.clone(),
            crate::http::openapi([]),
            crate::http::Readiness::new(),
            crate::http::HttpMetrics::new(),
        );
        let options = crate::config::Settings::local_defaults().http_server;
        tokio::spawn(crate::http::serve_on(
            listener,
            app,
            tokio_util::sync::CancellationToken::new(),
            std::time::Duration::ZERO,
            options,
        ));
        format!("http://{addr}")
    }
}
