//! Roles, tenant isolation (in the handlers and in PostgreSQL's row-level security),
//! mass assignment, page caps and Idempotency-Key: each attack gets a 4xx, never a 200
//! or a 500.

mod support;

use axum::http::{Method, StatusCode};
use bazaar_platform::db;
use serde_json::{json, Value};
use support::Identity;
use uuid::Uuid;

#[tokio::test]
async fn a_cashier_is_forbidden_from_user_and_role_administration() {
    let id = Identity::start().await;
    let victim = id
        .user(
            &id.a,
            "manager@alpha.test",
            &["store_manager"],
            json!("all"),
        )
        .await;
    id.user(&id.a, "cashier@alpha.test", &["cashier"], json!("all"))
        .await;
    let (cashier, _) = id.login(&id.a.slug, "cashier@alpha.test").await;

    let new_user = json!({"email": "x@alpha.test", "name": "X", "password": "long enough!",
                          "roles": ["admin"], "stores": "all"});
    let attempts = [
        (Method::GET, "/api/v1/users".to_owned(), None),
        (Method::POST, "/api/v1/users".to_owned(), Some(new_user)),
        (Method::GET, format!("/api/v1/users/{victim}"), None),
        (
            Method::PUT,
            format!("/api/v1/users/{victim}/roles"),
            Some(json!({"roles": ["cashier"], "stores": "all"})),
        ),
        (
            Method::POST,
            "/api/v1/stores".to_owned(),
            Some(json!({"code": "X", "name": "X"})),
        ),
    ];
    for (method, path, body) in attempts {
        let reply = id
            .send(method.clone(), &path, Some(&cashier), body, &[])
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(reply.code(), "forbidden");
    }
    // Without any token: 401.
    let reply = id.send(Method::GET, "/api/v1/users", None, None, &[]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn only_owners_grant_owner_and_nobody_changes_their_own_roles() {
    let id = Identity::start().await;
    let admin = id
        .user(&id.a, "admin@alpha.test", &["admin"], json!("all"))
        .await;
    let cashier = id
        .user(&id.a, "cashier@alpha.test", &["cashier"], json!("all"))
        .await;
    let (admin_token, _) = id.login(&id.a.slug, "admin@alpha.test").await;

    let to_owner = json!({"roles": ["owner"], "stores": "all"});
    let reply = id
        .send(
            Method::PUT,
            &format!("/api/v1/users/{cashier}/roles"),
            Some(&admin_token),
            Some(to_owner),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.code(), "owner_role_reserved");

    let reply = id
        .send(
            Method::PUT,
            &format!("/api/v1/users/{admin}/roles"),
            Some(&admin_token),
            Some(json!({"roles": ["admin", "accountant"], "stores": "all"})),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.code(), "own_roles");

    // An allowed change is audited, and the next refresh carries it.
    let (_, cashier_refresh) = id.login(&id.a.slug, "cashier@alpha.test").await;
    let store = id.a.ids.stores[0];
    let reply = id
        .send(
            Method::PUT,
            &format!("/api/v1/users/{cashier}/roles"),
            Some(&admin_token),
            Some(json!({"roles": ["store_manager"], "stores": [store]})),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["roles"], json!(["store_manager"]));
    let refreshed = id
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": cashier_refresh}),
        )
        .await;
    let me = id
        .get(
            "/api/v1/auth/me",
            refreshed.body["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(me.body["roles"], json!(["store_manager"]));
    assert_eq!(me.body["stores"], json!([store]));
    // The owner at bootstrap, two users created, one change.
    assert_eq!(id.audit_events("audit.role.changed").await, 2 + 2 + 1);
}

#[tokio::test]
async fn a_store_scoped_admin_grants_no_reach_wider_than_their_own() {
    let id = Identity::start().await;
    let (mine, other) = (id.a.ids.stores[0], id.a.ids.stores[1]);
    id.user(&id.a, "store-admin@alpha.test", &["admin"], json!([mine]))
        .await;
    let cashier = id
        .user(&id.a, "cashier@alpha.test", &["cashier"], json!([mine]))
        .await;
    let (token, _) = id.login(&id.a.slug, "store-admin@alpha.test").await;
    let new_user = |stores: Value| {
        json!({"email": "new@alpha.test", "name": "New", "password": "long enough password",
               "roles": ["cashier"], "stores": stores})
    };
    for stores in [json!("all"), json!([mine, other])] {
        let created = id
            .send(
                Method::POST,
                "/api/v1/users",
                Some(&token),
                Some(new_user(stores.clone())),
                &[],
            )
            .await;
        assert_eq!(
            (created.status, created.code()),
            (StatusCode::FORBIDDEN, "reach_beyond_own"),
            "{stores}"
        );
        let widened = id
            .send(
                Method::PUT,
                &format!("/api/v1/users/{cashier}/roles"),
                Some(&token),
                Some(json!({"roles": ["cashier"], "stores": stores})),
                &[],
            )
            .await;
        assert_eq!(
            (widened.status, widened.code()),
            (StatusCode::FORBIDDEN, "reach_beyond_own"),
            "{stores}"
        );
    }
    let within = id
        .send(
            Method::POST,
            "/api/v1/users",
            Some(&token),
            Some(new_user(json!([mine]))),
            &[],
        )
        .await;
    assert_eq!(within.status, StatusCode::CREATED, "{}", within.body);
}

#[tokio::test]
async fn tenant_a_never_reaches_tenant_b() {
    let id = Identity::start().await;
    let b_user = id
        .user(&id.b, "cashier@beta.test", &["cashier"], json!("all"))
        .await;
    let a_owner = id.owner_token(&id.a).await;
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/users/{b_user}"), None),
        (
            Method::PUT,
            format!("/api/v1/users/{b_user}/roles"),
            Some(json!({"roles": ["admin"], "stores": "all"})),
        ),
    ] {
        let reply = id.send(method, &path, Some(&a_owner), body, &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    let users = id.get("/api/v1/users", &a_owner).await;
    assert!(!users.body.to_string().contains("beta"), "{}", users.body);
    let stores = id.get("/api/v1/stores", &a_owner).await;
    let ids: Vec<&str> = stores
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids
        .iter()
        .all(|s| !id.b.ids.stores.iter().any(|b| b.to_string() == *s)));

    // Granting tenant B's store to a tenant A user is refused.
    let reply = id
        .post(
            "/api/v1/users",
            Some(&a_owner),
            json!({"email": "m@alpha.test", "name": "M", "password": "long enough!",
                   "roles": ["store_manager"], "stores": [id.b.ids.stores[0]]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.code(), "unknown_store");
}

#[tokio::test]
async fn a_store_scoped_user_sees_only_their_stores() {
    let id = Identity::start().await;
    let store_one = id.a.ids.stores[0];
    id.user(
        &id.a,
        "m1@alpha.test",
        &["store_manager"],
        json!([store_one]),
    )
    .await;
    let (token, _) = id.login(&id.a.slug, "m1@alpha.test").await;
    let stores = id.get("/api/v1/stores", &token).await;
    assert_eq!(stores.status, StatusCode::OK);
    assert_eq!(stores.body.as_array().unwrap().len(), 1);
    assert_eq!(stores.body[0]["id"], store_one.to_string());
}

#[tokio::test]
async fn bodies_carrying_tenant_or_role_fields_are_rejected() {
    let id = Identity::start().await;
    let owner = id.owner_token(&id.a).await;
    let base = json!({"email": "n@alpha.test", "name": "N", "password": "long enough!",
                      "roles": ["cashier"], "stores": "all"});
    for (field, value) in [
        ("tenant_id", json!(id.b.ids.tenant)),
        ("role", json!("owner")),
        ("active", json!(true)),
        ("id", json!(Uuid::new_v4())),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let reply = id.post("/api/v1/users", Some(&owner), body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(reply.code(), "invalid_body");
        assert!(reply.body["detail"].as_str().unwrap().contains(field));
    }
    let reply = id
        .post(
            "/api/v1/stores",
            Some(&owner),
            json!({"code": "S9", "name": "Nine", "tenant_id": id.b.ids.tenant}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let users = id.get("/api/v1/users", &owner).await;
    assert_eq!(
        users.body.as_array().unwrap().len(),
        1,
        "nothing was created"
    );
}

#[tokio::test]
async fn bad_user_fields_get_their_own_codes() {
    let id = Identity::start().await;
    let owner = id.owner_token(&id.a).await;
    let cases = [
        (json!({"email": "nope"}), "invalid_email"),
        (json!({"password": "short"}), "weak_password"),
        (json!({"roles": []}), "no_roles"),
        (json!({"stores": []}), "no_stores"),
        (json!({"roles": ["superuser"]}), "invalid_body"),
        (json!({"stores": "some"}), "invalid_body"),
    ];
    for (change, code) in cases {
        let mut body = json!({"email": "u@alpha.test", "name": "U", "password": "long enough!",
                              "roles": ["cashier"], "stores": "all"});
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let reply = id.post("/api/v1/users", Some(&owner), body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{code}");
        assert_eq!(reply.code(), code);
    }
    id.user(&id.a, "u@alpha.test", &["cashier"], json!("all"))
        .await;
    let again = id
        .post(
            "/api/v1/users",
            Some(&owner),
            json!({"email": "U@alpha.test", "name": "U", "password": "long enough!",
                   "roles": ["cashier"], "stores": "all"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "email_taken");
}

#[tokio::test]
async fn page_sizes_are_capped() {
    let id = Identity::start().await;
    let owner = id.owner_token(&id.a).await;
    for query in ["limit=201", "limit=0", "page=0", "limit=-1", "limit=lots"] {
        let reply = id.get(&format!("/api/v1/users?{query}"), &owner).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.code(), "invalid_query");
    }
    let reply = id.get("/api/v1/users?limit=200&page=3", &owner).await;
    assert_eq!(reply.status, StatusCode::OK);
}

async fn create_store(id: &Identity, token: &str, key: &str, body: Value) -> support::Reply {
    id.send(
        Method::POST,
        "/api/v1/stores",
        Some(token),
        Some(body),
        &[("idempotency-key", key)],
    )
    .await
}

#[tokio::test]
async fn the_same_idempotency_key_sent_concurrently_has_one_effect() {
    let id = Identity::start().await;
    let owner = id.owner_token(&id.a).await;
    let body = json!({"code": "S3", "name": "Store three"});
    let replies = futures::future::join_all(
        (0..8).map(|_| create_store(&id, &owner, "open-s3", body.clone())),
    )
    .await;
    let created: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty());
    for reply in &replies {
        assert!(
            reply.status == StatusCode::CREATED
                || (reply.status == StatusCode::CONFLICT
                    && reply.code() == "idempotency_request_in_progress"),
            "{} {}",
            reply.status,
            reply.body
        );
    }
    // Every 201 is the same store: the first one, or its replay.
    let first = &created[0].body;
    assert!(created.iter().all(|r| r.body == *first));

    // A retry gets the stored response.
    let retry = create_store(&id, &owner, "open-s3", body.clone()).await;
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!(retry.body, *first);
    assert_eq!(retry.headers["idempotent-replayed"], "true");

    // The same key with another body is a client bug.
    let reused = create_store(
        &id,
        &owner,
        "open-s3",
        json!({"code": "S4", "name": "Four"}),
    )
    .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.code(), "idempotency_key_reused");

    // Keys are per tenant: tenant B's "open-s3" is its own.
    let b_owner = id.owner_token(&id.b).await;
    let other = create_store(&id, &b_owner, "open-s3", body).await;
    assert_eq!(other.status, StatusCode::CREATED);
    assert_ne!(other.body["id"], first["id"]);

    let stores = id.get("/api/v1/stores", &owner).await;
    let s3 = stores
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["code"] == "S3")
        .count();
    assert_eq!(s3, 1);

    let bad = create_store(
        &id,
        &owner,
        "bad key with spaces",
        json!({"code": "S5", "name": "Five"}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.code(), "invalid_idempotency_key");
}

#[tokio::test]
async fn row_level_security_is_a_second_wall_under_the_handlers() {
    let id = Identity::start().await;
    let (a, b) = (id.a.ids.tenant, id.b.ids.tenant);
    for pool in [&id.app_pool, &id.owner] {
        // No tenant set: no rows at all, even for the owner of the tables.
        let unscoped: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(unscoped, 0);

        // Tenant A set: a query that forgets its WHERE still sees only A.
        let mut tx = db::begin_for_tenant(pool, a).await.unwrap();
        let tenants: Vec<Uuid> = sqlx::query_scalar("SELECT DISTINCT tenant_id FROM users")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        assert_eq!(tenants, vec![a]);
        // ... and cannot write into B.
        let wrote =
            sqlx::query("INSERT INTO stores (id, tenant_id, code, name) VALUES ($1, $2, 'X', 'X')")
                .bind(Uuid::new_v4())
                .bind(b)
                .execute(&mut *tx)
                .await;
        let err = wrote.unwrap_err().to_string();
        assert!(err.contains("row-level security"), "{err}");
        tx.rollback().await.unwrap();
    }
    // The setting lasts one transaction: the pooled connection forgets it.
    let mut conn = id.app_pool.acquire().await.unwrap();
    let mut tx = db::begin_for_tenant(&mut *conn, a).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let after: Option<String> =
        sqlx::query_scalar("SELECT nullif(current_setting('bazaar.tenant', true), '')")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(after, None);

    // The handlers' role owns nothing and cannot bypass the policies.
    let (owns, bypass): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user), \
                (SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user)",
    )
    .fetch_one(&id.app_pool)
    .await
    .unwrap();
    assert!(!owns && !bypass);
}
