//! Offboarding: deactivating and reactivating a user, an admin setting a password the
//! user must then change, and who may do either to whom.

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::{Identity, PASSWORD};

#[tokio::test]
async fn a_deactivated_user_is_out_at_once_and_back_only_when_reactivated() {
    let id = Identity::start().await;
    let cashier = id
        .user(&id.a, "leaver@alpha.test", &["cashier"], json!("all"))
        .await;
    let (_, refresh) = id.login(&id.a.slug, "leaver@alpha.test").await;
    let owner = id.owner_token(&id.a).await;

    let deactivated = id
        .post(
            &format!("/api/v1/users/{cashier}/deactivate"),
            Some(&owner),
            json!({"reason": "left the company"}),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK, "{}", deactivated.body);
    assert_eq!(deactivated.body["active"], false);
    // The login they had ends at its next refresh; a new one is refused like a bad password.
    let refreshed = id
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    let again = id
        .login_reply(&id.a.slug, "leaver@alpha.test", PASSWORD)
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    // The list shows who is out.
    let users = id.get("/api/v1/users", &owner).await.body;
    let leaver = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "leaver@alpha.test")
        .unwrap();
    assert_eq!(leaver["active"], false);

    let reactivated = id
        .post(
            &format!("/api/v1/users/{cashier}/reactivate"),
            Some(&owner),
            json!({"reason": "rehired"}),
        )
        .await;
    assert_eq!(reactivated.body["active"], true, "{}", reactivated.body);
    id.login(&id.a.slug, "leaver@alpha.test").await;
    assert_eq!(id.audit_events("audit.user.access_changed").await, 2);
}

#[tokio::test]
async fn a_password_an_admin_set_must_be_changed_before_any_token() {
    let id = Identity::start().await;
    let cashier = id
        .user(&id.a, "forgetful@alpha.test", &["cashier"], json!("all"))
        .await;
    let (_, refresh) = id.login(&id.a.slug, "forgetful@alpha.test").await;
    let owner = id.owner_token(&id.a).await;
    let set = "temporary password 1";
    let reset = id
        .post(
            &format!("/api/v1/users/{cashier}/password"),
            Some(&owner),
            json!({"password": set, "reason": "forgot it"}),
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert_eq!(reset.body["password_change_required"], true);
    let refreshed = id
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(
        refreshed.status,
        StatusCode::UNAUTHORIZED,
        "the old login ended"
    );
    let old = id
        .login_reply(&id.a.slug, "forgetful@alpha.test", PASSWORD)
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let must_change = id
        .login_reply(&id.a.slug, "forgetful@alpha.test", set)
        .await;
    assert_eq!(
        (must_change.status, must_change.code()),
        (StatusCode::FORBIDDEN, "password_change_required")
    );
    assert!(must_change.body["access_token"].is_null());

    let change = |current: &str, new: &str| {
        json!({"tenant": id.a.slug, "email": "forgetful@alpha.test", "password": current,
               "new_password": new})
    };
    let same = id
        .post("/api/v1/auth/password", None, change(set, set))
        .await;
    assert_eq!(same.code(), "same_password");
    let wrong = id
        .post(
            "/api/v1/auth/password",
            None,
            change("not it at all", "my own password 2"),
        )
        .await;
    assert_eq!(wrong.code(), "invalid_credentials");
    let changed = id
        .post(
            "/api/v1/auth/password",
            None,
            change(set, "my own password 2"),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert!(changed.body["access_token"].is_string());
    let fine = id
        .login_reply(&id.a.slug, "forgetful@alpha.test", "my own password 2")
        .await;
    assert_eq!(fine.status, StatusCode::OK, "{}", fine.body);
    assert_eq!(id.audit_events("audit.user.access_changed").await, 2);
}

#[tokio::test]
async fn only_someone_who_could_grant_the_access_may_take_it_away() {
    let id = Identity::start().await;
    let (mine, other) = (id.a.ids.stores[0], id.a.ids.stores[1]);
    let admin = id
        .user(&id.a, "store-admin@alpha.test", &["admin"], json!([mine]))
        .await;
    let theirs = id
        .user(
            &id.a,
            "other-store@alpha.test",
            &["cashier"],
            json!([other]),
        )
        .await;
    let ours = id
        .user(&id.a, "our-store@alpha.test", &["cashier"], json!([mine]))
        .await;
    let (token, _) = id.login(&id.a.slug, "store-admin@alpha.test").await;
    let cashier = id.login(&id.a.slug, "our-store@alpha.test").await.0;
    for (user, code) in [
        (id.a.ids.owner, "owner_role_reserved"),
        (theirs, "reach_beyond_own"),
        (admin, "own_account"),
    ] {
        for action in ["deactivate", "reactivate"] {
            let refused = id
                .post(
                    &format!("/api/v1/users/{user}/{action}"),
                    Some(&token),
                    json!({}),
                )
                .await;
            assert_eq!(
                (refused.status, refused.code()),
                (StatusCode::FORBIDDEN, code),
                "{action} {user}"
            );
        }
        let refused = id
            .post(
                &format!("/api/v1/users/{user}/password"),
                Some(&token),
                json!({"password": "a long new password"}),
            )
            .await;
        assert_eq!(refused.code(), code);
    }
    // A cashier manages nobody; another tenant's user is not found.
    let by_cashier = id
        .post(
            &format!("/api/v1/users/{ours}/deactivate"),
            Some(&cashier),
            json!({}),
        )
        .await;
    assert_eq!(by_cashier.status, StatusCode::FORBIDDEN);
    let b_owner = id.owner_token(&id.b).await;
    let across = id
        .post(
            &format!("/api/v1/users/{ours}/deactivate"),
            Some(&b_owner),
            json!({}),
        )
        .await;
    assert_eq!(across.status, StatusCode::NOT_FOUND);
    // Within reach it works.
    let done = id
        .post(
            &format!("/api/v1/users/{ours}/deactivate"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(done.body["active"], false, "{}", done.body);
    assert_eq!(id.audit_events("audit.user.access_changed").await, 1);
}

/// Changes sent together with the same current password: the first one changes it, and the
/// rest no longer match what they checked, so exactly one is answered with tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_password_changes_exactly_one_wins() {
    let id = std::sync::Arc::new(Identity::start().await);
    id.user(&id.a, "racer@alpha.test", &["cashier"], json!("all"))
        .await;
    let changes = (0..12).map(|i| {
        let id = id.clone();
        tokio::spawn(async move {
            let body = json!({"tenant": id.a.slug, "email": "racer@alpha.test",
                              "password": PASSWORD, "new_password": format!("new password {i:02}")});
            let reply = id.post("/api/v1/auth/password", None, body).await;
            (i, reply.status, reply.code().to_owned())
        })
    });
    let mut won = Vec::new();
    for change in changes.collect::<Vec<_>>() {
        let (i, status, code) = change.await.unwrap();
        match (status, code.as_str()) {
            (StatusCode::OK, _) => won.push(i),
            (StatusCode::UNAUTHORIZED, "invalid_credentials")
            | (StatusCode::SERVICE_UNAVAILABLE, "busy") => {}
            other => panic!("unexpected answer to a password change: {other:?}"),
        }
    }
    assert_eq!(won.len(), 1, "changes answered with tokens: {won:?}");
    let password = format!("new password {:02}", won[0]);
    let login = id
        .login_reply(&id.a.slug, "racer@alpha.test", &password)
        .await;
    assert_eq!(
        login.status,
        StatusCode::OK,
        "the winner's password is the one in force"
    );
}
