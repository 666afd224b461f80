//! Forged, stale and misdirected tokens are refused with 401, and roles with 403;
//! never a 200, never a 500.

use std::{
    pin::Pin,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
    routing::post,
    Router,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bazaar_platform::auth::{self, Claims, KeySource, Principal, Role, Stores, Verifier};
use jsonwebtoken::{jwk::JwkSet, Algorithm, EncodingKey, Header};
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use serde_json::json;
use tower::ServiceExt;
use uuid::Uuid;

const ISSUER: &str = "https://identity.bazaar.test";
const AUDIENCE: &str = "bazaar";

/// A signing key with its public JWK.
struct SigningKey {
    kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl SigningKey {
    fn new(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let public = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        Self {
            kid: kid.to_owned(),
            pkcs8: pkcs8.as_ref().to_vec(),
            public,
        }
    }

    fn jwk(&self) -> serde_json::Value {
        json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
               "kid": self.kid, "x": URL_SAFE_NO_PAD.encode(&self.public)})
    }

    fn sign(&self, claims: &serde_json::Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    fn sign_as(&self, kid: &str, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&self.pkcs8)).unwrap()
    }
}

fn key_set(keys: &[&SigningKey]) -> JwkSet {
    serde_json::from_value(json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}))
        .unwrap()
}

/// Serves key sets in turn (the last one forever) and counts the fetches.
struct RotatingKeys {
    sets: Mutex<Vec<JwkSet>>,
    fetches: Arc<AtomicUsize>,
}

impl KeySource for RotatingKeys {
    fn fetch(
        &self,
    ) -> Pin<Box<dyn std::future::Future<Output = Result<JwkSet, String>> + Send + '_>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let mut sets = self.sets.lock().unwrap();
        let set = if sets.len() > 1 {
            sets.remove(0)
        } else {
            sets[0].clone()
        };
        Box::pin(async move { Ok(set) })
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(roles: &[&str]) -> serde_json::Value {
    json!({
        "sub": Uuid::new_v4(), "tenant": Uuid::from_u128(7), "stores": "all", "roles": roles,
        "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 900, "nbf": now(), "iat": now(),
        "jti": Uuid::new_v4(),
    })
}

struct App {
    router: Router,
    fetches: Arc<AtomicUsize>,
}

fn app(sets: Vec<JwkSet>) -> App {
    app_with_cooldown(sets, Duration::from_secs(30))
}

fn app_with_cooldown(sets: Vec<JwkSet>, cooldown: Duration) -> App {
    let fetches = Arc::new(AtomicUsize::new(0));
    let verifier = Arc::new(
        Verifier::new(
            ISSUER,
            AUDIENCE,
            RotatingKeys {
                sets: Mutex::new(sets),
                fetches: fetches.clone(),
            },
        )
        .with_refresh_cooldown(cooldown),
    );
    async fn tenant_of(principal: Principal) -> String {
        principal.tenant.to_string()
    }
    let router = Router::new()
        .route(
            "/api/v1/prices",
            post(tenant_of).route_layer(auth::allow(&verifier, &[Role::Owner, Role::Admin])),
        )
        .route(
            "/api/v1/sales",
            post(tenant_of).route_layer(auth::allow(
                &verifier,
                &[Role::Owner, Role::StoreManager, Role::Cashier],
            )),
        );
    App { router, fetches }
}

async fn call(app: &App, path: &str, authorization: Option<String>) -> StatusCode {
    let mut request = Request::post(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = app
        .router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    response.status()
}

async fn bearer(app: &App, token: String) -> StatusCode {
    call(app, "/api/v1/prices", Some(format!("Bearer {token}"))).await
}

#[tokio::test]
async fn a_valid_admin_token_is_admitted_with_its_tenant() {
    let key = SigningKey::new("k1");
    let app = app(vec![key_set(&[&key])]);
    let response = app
        .router
        .clone()
        .oneshot(
            Request::post("/api/v1/prices")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", key.sign(&claims(&["admin"]))),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(body, Uuid::from_u128(7).to_string());
}

#[tokio::test]
async fn no_token_or_another_scheme_is_401() {
    let key = SigningKey::new("k1");
    let app = app(vec![key_set(&[&key])]);
    assert_eq!(
        call(&app, "/api/v1/prices", None).await,
        StatusCode::UNAUTHORIZED
    );
    let basic = format!("Basic {}", URL_SAFE_NO_PAD.encode("admin:admin"));
    assert_eq!(
        call(&app, "/api/v1/prices", Some(basic)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        bearer(&app, "not.a.jwt".into()).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn alg_none_is_401() {
    let key = SigningKey::new("k1");
    let app = app(vec![key_set(&[&key])]);
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(&["owner"]).to_string());
    assert_eq!(
        bearer(&app, format!("{header}.{payload}.")).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_401() {
    let key = SigningKey::new("k1");
    let app = app(vec![key_set(&[&key])]);
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    for secret in [
        key.public.clone(),
        URL_SAFE_NO_PAD.encode(&key.public).into_bytes(),
    ] {
        let forged = jsonwebtoken::encode(
            &header,
            &claims(&["owner"]),
            &EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert_eq!(bearer(&app, forged).await, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn expired_future_or_misdirected_tokens_are_401() {
    let key = SigningKey::new("k1");
    let app = app(vec![key_set(&[&key])]);
    let cases = [
        ("exp", json!(now() - 60)),
        ("nbf", json!(now() + 600)),
        ("iss", json!("https://evil.example")),
        ("aud", json!("another-product")),
    ];
    for (claim, value) in cases {
        let mut claims = claims(&["admin"]);
        claims[claim] = value;
        assert_eq!(
            bearer(&app, key.sign(&claims)).await,
            StatusCode::UNAUTHORIZED,
            "{claim}"
        );
    }
    for claim in ["exp", "nbf", "iss", "aud", "stores", "tenant"] {
        let mut claims = claims(&["admin"]);
        claims.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            bearer(&app, key.sign(&claims)).await,
            StatusCode::UNAUTHORIZED,
            "without {claim}"
        );
    }
}

#[tokio::test]
async fn a_tampered_payload_is_401() {
    let key = SigningKey::new("k1");
    let app = app(vec![key_set(&[&key])]);
    let token = key.sign(&claims(&["cashier"]));
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["roles"] = json!(["owner"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    assert_eq!(bearer(&app, forged).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_signed_by_a_key_outside_the_key_set_is_401() {
    let published = SigningKey::new("k1");
    let stranger = SigningKey::new("k1");
    let app = app(vec![key_set(&[&published])]);
    assert_eq!(
        bearer(&app, stranger.sign(&claims(&["owner"]))).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_key_set_once_then_is_401() {
    let key = SigningKey::new("k1");
    let app = app(vec![key_set(&[&key])]);
    assert_eq!(
        bearer(&app, key.sign(&claims(&["admin"]))).await,
        StatusCode::OK
    );
    assert_eq!(app.fetches.load(Ordering::SeqCst), 1);

    assert_eq!(
        bearer(&app, key.sign_as("k9", &claims(&["admin"]))).await,
        StatusCode::UNAUTHORIZED
    );
    // Within the cooldown, made-up kids cost no fetch at all.
    for kid in ["k10", "k11", "k12"] {
        assert_eq!(
            bearer(&app, key.sign_as(kid, &claims(&["admin"]))).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.fetches.load(Ordering::SeqCst),
        1,
        "the first fetch is within the cooldown"
    );
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_without_a_restart() {
    let old = SigningKey::new("2026-11");
    let new = SigningKey::new("2026-12");
    // The verifier's first fetch predates the rotation; identity then publishes both.
    let app = app_with_cooldown(
        vec![key_set(&[&old]), key_set(&[&old, &new])],
        Duration::from_millis(50),
    );
    assert_eq!(
        bearer(&app, old.sign(&claims(&["admin"]))).await,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(
        bearer(&app, new.sign(&claims(&["admin"]))).await,
        StatusCode::OK
    );
    assert_eq!(
        bearer(&app, old.sign(&claims(&["admin"]))).await,
        StatusCode::OK,
        "old tokens stay valid"
    );
    assert_eq!(app.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_cashier_is_403_on_an_admin_route_and_200_on_a_till_route() {
    let key = SigningKey::new("k1");
    let app = app(vec![key_set(&[&key])]);
    let cashier = format!("Bearer {}", key.sign(&claims(&["cashier"])));
    assert_eq!(
        call(&app, "/api/v1/prices", Some(cashier.clone())).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, "/api/v1/sales", Some(cashier)).await,
        StatusCode::OK
    );
    let nobody = format!("Bearer {}", key.sign(&claims(&[])));
    assert_eq!(
        call(&app, "/api/v1/sales", Some(nobody)).await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_unknown_role_or_stores_value_is_401() {
    let key = SigningKey::new("k1");
    let app = app(vec![key_set(&[&key])]);
    assert_eq!(
        bearer(&app, key.sign(&claims(&["superuser"]))).await,
        StatusCode::UNAUTHORIZED
    );
    let mut everything = claims(&["admin"]);
    everything["stores"] = json!("everything");
    assert_eq!(
        bearer(&app, key.sign(&everything)).await,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn a_store_scoped_principal_reaches_only_its_stores() {
    let (store_1, store_2) = (Uuid::from_u128(1), Uuid::from_u128(2));
    let manager = Principal {
        user: Uuid::new_v4(),
        tenant: Uuid::from_u128(7),
        stores: Stores::Only(vec![store_1]),
        roles: vec![Role::StoreManager],
    };
    assert!(manager.reaches_store(store_1));
    assert!(!manager.reaches_store(store_2));
    let claims: Claims = serde_json::from_value(claims(&["owner"])).unwrap();
    assert!(matches!(claims.stores, Stores::All(_)));
}

/// The first fetch answers at once; later ones wait until `release` is notified.
struct StallingKeys {
    set: JwkSet,
    fetches: AtomicUsize,
    release: Arc<tokio::sync::Notify>,
}

impl KeySource for StallingKeys {
    fn fetch(
        &self,
    ) -> Pin<Box<dyn std::future::Future<Output = Result<JwkSet, String>> + Send + '_>> {
        let first = self.fetches.fetch_add(1, Ordering::SeqCst) == 0;
        Box::pin(async move {
            if !first {
                self.release.notified().await;
            }
            Ok(self.set.clone())
        })
    }
}

#[tokio::test]
async fn a_slow_key_fetch_does_not_hold_up_tokens_with_known_keys() {
    let key = SigningKey::new("k1");
    let release = Arc::new(tokio::sync::Notify::new());
    let verifier = Arc::new(
        Verifier::new(
            ISSUER,
            AUDIENCE,
            StallingKeys {
                set: key_set(&[&key]),
                fetches: AtomicUsize::new(0),
                release: release.clone(),
            },
        )
        .with_refresh_cooldown(Duration::ZERO),
    );
    verifier
        .verify(&key.sign(&claims(&["admin"])))
        .await
        .unwrap();

    // An unknown kid starts a fetch that hangs, as a JWKS endpoint that stopped answering.
    let pending = {
        let (verifier, token) = (verifier.clone(), key.sign_as("k9", &claims(&["admin"])));
        tokio::spawn(async move { verifier.verify(&token).await })
    };
    tokio::task::yield_now().await;

    let known = tokio::time::timeout(
        Duration::from_secs(10),
        verifier.verify(&key.sign(&claims(&["admin"]))),
    )
    .await
    .expect("a token with a known key must not wait for the fetch");
    assert!(known.is_ok());

    release.notify_one();
    assert!(
        pending.await.unwrap().is_err(),
        "k9 is still unknown after the fetch"
    );
}
