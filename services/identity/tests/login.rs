//! Login, lockout, refresh-token rotation and theft detection, logout, and signing-key
//! rotation, against a real identity database.

mod support;

use std::time::Duration;

use axum::http::{header, Method, StatusCode};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bazaar_identity::domain::{FREE_FAILURES, IP_FAILURE_LIMIT};
use serde_json::{json, Value};
use support::{Identity, PASSWORD};

fn token_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn login_issues_a_short_lived_eddsa_token_with_every_claim() {
    let id = Identity::start().await;
    let (access, refresh) = id.login(&id.a.slug, &id.a.owner_email).await;
    let header = token_part(&access, 0);
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].is_string());
    let claims = token_part(&access, 1);
    for claim in [
        "sub", "tenant", "stores", "roles", "iss", "aud", "exp", "nbf", "iat", "jti",
    ] {
        assert!(!claims[claim].is_null(), "claim {claim} missing: {claims}");
    }
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(claims["tenant"], id.a.ids.tenant.to_string());
    assert_eq!(claims["roles"], json!(["owner"]));
    assert!(refresh.starts_with(&id.a.ids.tenant.simple().to_string()));

    let me = id.get("/api/v1/auth/me", &access).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"], id.a.ids.owner.to_string());

    // The refresh token is stored as its SHA-256, never as sent.
    let mut tx = bazaar_platform::db::begin_for_tenant(&id.owner, id.a.ids.tenant)
        .await
        .unwrap();
    let (hashed, plain): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE token_hash = sha256(convert_to($1, 'UTF8'))), \
                count(*) FILTER (WHERE token_hash = convert_to($1, 'UTF8')) \
         FROM refresh_tokens",
    )
    .bind(&refresh)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!((hashed, plain), (1, 0));
}

#[tokio::test]
async fn wrong_unknown_and_other_tenant_credentials_all_get_the_same_401() {
    let id = Identity::start().await;
    let cases = [
        (
            id.a.slug.as_str(),
            id.a.owner_email.as_str(),
            "wrong password!",
        ),
        (id.a.slug.as_str(), "nobody@alpha.test", PASSWORD),
        ("no-such-tenant", id.a.owner_email.as_str(), PASSWORD),
        // Tenant B's owner at tenant A.
        (id.a.slug.as_str(), id.b.owner_email.as_str(), PASSWORD),
        (id.a.slug.as_str(), "not an email", PASSWORD),
    ];
    for (tenant, email, password) in cases {
        let reply = id.login_reply(tenant, email, password).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{tenant} {email}");
        assert_eq!(reply.code(), "invalid_credentials");
        assert!(reply.body["access_token"].is_null());
    }
    // Failures at a known tenant are audited; the unknown tenant has nobody to tell.
    assert_eq!(id.audit_events("audit.login.failed").await, 3);
}

#[tokio::test]
async fn repeated_failures_lock_the_user_out_even_with_the_right_password() {
    let id = Identity::start().await;
    id.user(&id.a, "cashier@alpha.test", &["cashier"], json!("all"))
        .await;
    for attempt in 1..=FREE_FAILURES + 1 {
        let reply = id
            .login_reply(&id.a.slug, &id.a.owner_email, "wrong password!")
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let reply = id
        .login_reply(&id.a.slug, &id.a.owner_email, PASSWORD)
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.code(), "login_locked");
    let retry: u64 = reply.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Another user of the tenant is not affected.
    id.login(&id.a.slug, "cashier@alpha.test").await;
    assert_eq!(
        id.audit_events("audit.login.failed").await,
        i64::from(FREE_FAILURES) + 2
    );
}

#[tokio::test]
async fn an_address_nobody_has_is_locked_out_like_a_user_s() {
    // Only real users used to get 429 login_locked: the lockout told which addresses exist.
    let id = Identity::start().await;
    for (email, password) in [
        (id.a.owner_email.as_str(), "wrong password!"),
        ("nobody@alpha.test", "wrong password!"),
    ] {
        for attempt in 1..=FREE_FAILURES + 1 {
            let reply = id.login_reply(&id.a.slug, email, password).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{email} {attempt}");
        }
        let reply = id.login_reply(&id.a.slug, email, PASSWORD).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::TOO_MANY_REQUESTS, "login_locked"),
            "{email}"
        );
        assert!(reply.headers.contains_key(header::RETRY_AFTER), "{email}");
    }
}

#[tokio::test]
async fn one_address_guessing_many_users_is_throttled() {
    let id = Identity::start().await;
    let peer = [("x-test-peer", "192.0.2.7")];
    for n in 0..IP_FAILURE_LIMIT {
        let body = json!({"tenant": id.a.slug, "email": format!("guess{n}@alpha.test"),
                          "password": "guessing it"});
        let reply = id
            .send(Method::POST, "/api/v1/auth/login", None, Some(body), &peer)
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let body = json!({"tenant": id.a.slug, "email": id.a.owner_email, "password": PASSWORD});
    let reply = id
        .send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(body.clone()),
            &peer,
        )
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.code(), "too_many_login_attempts");
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
    // Another address still logs in.
    let reply = id
        .send(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(body),
            &[("x-test-peer", "192.0.2.8")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn a_nul_in_a_login_is_refused_not_a_server_error() {
    // Unauthenticated: a NUL in the tenant reached PostgreSQL, which answered 500.
    let id = Identity::start().await;
    let body = json!({"tenant": "a\u{0}b", "email": id.a.owner_email, "password": PASSWORD});
    let reply = id
        .send(Method::POST, "/api/v1/auth/login", None, Some(body), &[])
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_character")
    );
}

async fn refresh(id: &Identity, token: &str) -> support::Reply {
    id.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": token}),
    )
    .await
}

#[tokio::test]
async fn a_refresh_token_used_twice_revokes_its_whole_family() {
    let id = Identity::start().await;
    let (_, first) = id.login(&id.a.slug, &id.a.owner_email).await;
    // A second login is another family, untouched by the theft below.
    let (_, other_login) = id.login(&id.a.slug, &id.a.owner_email).await;

    let rotated = refresh(&id, &first).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let second = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(
        id.get(
            "/api/v1/auth/me",
            rotated.body["access_token"].as_str().unwrap()
        )
        .await
        .status,
        StatusCode::OK
    );

    // The old token again: someone kept a copy.
    let reused = refresh(&id, &first).await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reused.code(), "refresh_token_reused");
    // The legitimate holder's newer token is revoked with it.
    let revoked = refresh(&id, &second).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(revoked.code(), "invalid_refresh_token");
    assert_eq!(id.audit_events("audit.refresh_token.reused").await, 1);

    assert_eq!(refresh(&id, &other_login).await.status, StatusCode::OK);
}

#[tokio::test]
async fn forged_and_foreign_refresh_tokens_are_refused() {
    let id = Identity::start().await;
    let (_, token) = id.login(&id.a.slug, &id.a.owner_email).await;
    let secret = token.split_once('.').unwrap().1;
    let cases = [
        "".to_owned(),
        "garbage".to_owned(),
        // Tenant A's secret presented as tenant B's.
        format!("{}.{secret}", id.b.ids.tenant.simple()),
        format!(
            "{}.{}",
            id.a.ids.tenant.simple(),
            URL_SAFE_NO_PAD.encode([7u8; 32])
        ),
    ];
    for case in cases {
        let reply = refresh(&id, &case).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case:?}");
        assert_eq!(reply.code(), "invalid_refresh_token");
    }
    let reply = id
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": token, "tenant_id": id.b.ids.tenant}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refresh(&id, &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_ends_the_login() {
    let id = Identity::start().await;
    let (_, token) = id.login(&id.a.slug, &id.a.owner_email).await;
    let reply = id
        .post("/api/v1/auth/logout", None, json!({"refresh_token": token}))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let again = refresh(&id, &token).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.code(), "invalid_refresh_token");
}

#[tokio::test]
async fn signing_keys_rotate_without_downtime() {
    let id = Identity::with_refresh_cooldown(Duration::ZERO).await;
    let (old_token, _) = id.login(&id.a.slug, &id.a.owner_email).await;
    let old_kid = token_part(&old_token, 0)["kid"].clone();

    // A new key is published first and does not sign yet.
    let published = bazaar_identity::keys::rotate(&id.owner, Duration::from_secs(60))
        .await
        .unwrap();
    let jwks = id
        .send(Method::GET, "/.well-known/jwks.json", None, None, &[])
        .await;
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&published.kid.as_str()));
    let (still_old, _) = id.login(&id.a.slug, &id.a.owner_email).await;
    assert_eq!(token_part(&still_old, 0)["kid"], old_kid);

    // Once a new key signs, tokens of both keys are accepted, with no restart.
    let signing = bazaar_identity::keys::rotate(&id.owner, Duration::ZERO)
        .await
        .unwrap();
    let (new_token, _) = id.login(&id.a.slug, &id.a.owner_email).await;
    assert_eq!(token_part(&new_token, 0)["kid"], signing.kid.as_str());
    for token in [&old_token, &new_token] {
        assert_eq!(
            id.get("/api/v1/auth/me", token).await.status,
            StatusCode::OK
        );
    }
    // Superseded keys stay published until their tokens have expired.
    assert!(signing.retired.is_empty());
}
