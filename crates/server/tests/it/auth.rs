//! Tenant authentication and isolation: a key reads and changes only its
//! own tenant's data; another tenant's resource does not exist for it.

use crate::common::*;
use axum::body::Body;
use axum::http::Request;
use serde_json::json;

#[track_caller]
fn assert_unauthorized(res: &TestResponse) {
    res.assert_error(401, None);
    assert!(
        res.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer")),
        "WWW-Authenticate: {:?}",
        res.headers
    );
}

async fn missing_key_is_401_with_bearer_challenge(app: &TestApp) {
    for (method, path) in [
        ("GET", "/Users"),
        ("GET", "/Groups"),
        ("POST", "/Users"),
        ("DELETE", "/Users/x"),
    ] {
        let req = Request::builder()
            .method(method)
            .uri(app.scim(path))
            .body(Body::empty())
            .unwrap();
        assert_unauthorized(&app.send(req).await);
    }
}

async fn wrong_key_or_scheme_is_401(app: &TestApp) {
    let res = app
        .request_as("scim_nope", "GET", &app.scim("/Users"), None)
        .await;
    assert_unauthorized(&res);
    assert!(res.detail().contains("revoked") || res.detail().contains("not valid"));
    // The key under another scheme is no bearer token.
    let basic = format!("Basic {}", app.key);
    let res = app
        .request_with(
            "GET",
            &app.scim("/Users"),
            None,
            &[("authorization", &basic)],
        )
        .await;
    assert_unauthorized(&res);
    let res = app
        .request_with(
            "GET",
            &app.scim("/Users"),
            None,
            &[("authorization", "Bearer")],
        )
        .await;
    assert_unauthorized(&res);
}

async fn bearer_scheme_is_case_insensitive(app: &TestApp) {
    let auth = format!("bearer {}", app.key);
    let res = app
        .request_with(
            "GET",
            &app.scim("/Users"),
            None,
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
}

/// A key revoked through this server stops working at once.
async fn revoked_key_is_401(app: &TestApp) {
    let (key, secret) = app
        .store
        .create_api_key(&app.tenant, Some("old"))
        .await
        .unwrap();
    assert_eq!(
        app.request_as(&secret, "GET", &app.scim("/Users"), None)
            .await
            .status,
        200
    );
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let path = format!(
        "/admin/v1/tenants/{}/apikeys/{}/revoke",
        app.tenant.as_str(),
        key.id.as_str()
    );
    let res = app
        .request_with("POST", &path, None, &[("authorization", &admin)])
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = app
        .request_as(&secret, "GET", &app.scim("/Users"), None)
        .await;
    assert_unauthorized(&res);
    // The tenant's other key still works.
    assert_eq!(app.get(&app.scim("/Users")).await.status, 200);
}

/// A key revoked by another process (here: in the database directly) is
/// trusted for at most `TRUSTED_FOR` more; the server's clock is a
/// manual one.
async fn a_key_revoked_elsewhere_stops_working_within_a_second(app: &TestApp) {
    let (key, secret) = app
        .store
        .create_api_key(&app.tenant, Some("old"))
        .await
        .unwrap();
    let list = |secret: String| async move {
        app.request_as(&secret, "GET", &app.scim("/Users"), None)
            .await
    };
    assert_eq!(list(secret.clone()).await.status, 200);
    app.store.revoke_api_key(&key.id).await.unwrap();
    assert_eq!(list(secret.clone()).await.status, 200, "still trusted");
    app.config.clock.advance(scimitar_core::domain::TRUSTED_FOR);
    assert_unauthorized(&list(secret.clone()).await);
    assert_unauthorized(&list(secret).await);
    assert_eq!(app.get(&app.scim("/Users")).await.status, 200);
}

async fn unauthenticated_requests_write_no_log_row(app: &TestApp) {
    app.request_as("scim_nope", "GET", &app.scim("/Users"), None)
        .await;
    app.get(&app.scim("/Users")).await;
    let log = app.log_entries(1).await;
    assert_eq!(log.len(), 1, "only the authenticated request: {log:?}");
    assert_eq!(log[0].status, 200);
}

async fn another_tenants_user_is_404_on_every_method(app: &TestApp) {
    let (_, other_key) = app.other_tenant().await;
    let theirs = app
        .request_as(
            &other_key,
            "POST",
            &app.scim("/Users"),
            Some(json!({"userName": "theirs@example.com", "displayName": "Theirs"})),
        )
        .await;
    assert_eq!(theirs.status, 201);
    let id = theirs.body["id"].as_str().unwrap().to_owned();
    let path = app.scim(&format!("/Users/{id}"));

    app.get(&path).await.assert_error(404, None);
    app.request(
        "PUT",
        &path,
        Some(json!({"userName": "theirs@example.com", "displayName": "Mine"})),
    )
    .await
    .assert_error(404, None);
    app.request(
        "PATCH",
        &path,
        Some(patch_op(
            json!([{"op": "replace", "path": "active", "value": false}]),
        )),
    )
    .await
    .assert_error(404, None);
    app.request("DELETE", &path, None)
        .await
        .assert_error(404, None);

    for filter in [
        "userName+eq+%22theirs%40example.com%22".to_owned(),
        format!("id+eq+%22{id}%22"),
        "userName+pr".to_owned(),
    ] {
        let res = app.get(&app.scim(&format!("/Users?filter={filter}"))).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.body["totalResults"], 0, "{filter}: {}", res.text);
    }

    // Untouched for its owner.
    let res = app.request_as(&other_key, "GET", &path, None).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["displayName"], "Theirs");
}

async fn another_tenants_group_is_404_on_every_method(app: &TestApp) {
    let (other, other_key) = app.other_tenant().await;
    let group = app
        .create_group_in(&other, "Their group", Some("their-ext"))
        .await;
    let mine = app.create_user("mine@example.com").await;
    let path = app.scim(&format!("/Groups/{group}"));

    app.get(&path).await.assert_error(404, None);
    app.request("PUT", &path, Some(json!({"displayName": "Hijacked"})))
        .await
        .assert_error(404, None);
    app.request(
        "PATCH",
        &path,
        Some(patch_op(
            json!([{"op": "add", "path": "members", "value": [{"value": mine}]}]),
        )),
    )
    .await
    .assert_error(404, None);
    app.request("DELETE", &path, None)
        .await
        .assert_error(404, None);

    for filter in [
        "externalId+eq+%22their-ext%22",
        "displayName+eq+%22Their+group%22",
    ] {
        let res = app
            .get(&app.scim(&format!("/Groups?filter={filter}")))
            .await;
        assert_eq!(res.body["totalResults"], 0, "{filter}: {}", res.text);
    }
    let res = app.get(&app.scim("/Groups")).await;
    assert_eq!(res.body["totalResults"], 0);

    let res = app.request_as(&other_key, "GET", &path, None).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["displayName"], "Their group");
    assert_eq!(res.body["members"], json!([]));
}

backends!(
    missing_key_is_401_with_bearer_challenge,
    wrong_key_or_scheme_is_401,
    bearer_scheme_is_case_insensitive,
    revoked_key_is_401,
    unauthenticated_requests_write_no_log_row,
    another_tenants_user_is_404_on_every_method,
    another_tenants_group_is_404_on_every_method,
);

mod on_a_manual_clock {
    use super::*;

    fn config() -> ServerConfig {
        ServerConfig {
            clock: scimitar_server::Clock::manual(),
            ..test_config()
        }
    }

    backends!(config = config(); a_key_revoked_elsewhere_stops_working_within_a_second);
}
