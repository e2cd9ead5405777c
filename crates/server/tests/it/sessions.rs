//! The host application's session API and the operational endpoints.

use crate::common::*;
use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

const SESSIONS: &str = "/app/v1/sessions";
const INTROSPECT: &str = "/app/v1/sessions/introspect";

async fn as_operator(app: &TestApp, path: &str, body: Value) -> TestResponse {
    let auth = format!("Bearer {APP_TOKEN}");
    app.request_with("POST", path, Some(body), &[("authorization", &auth)])
        .await
}

async fn create_session(app: &TestApp, user: &str) -> String {
    let res = as_operator(app, SESSIONS, json!({"userId": user})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    res.body["token"].as_str().expect("token").to_owned()
}

async fn introspect(app: &TestApp, token: &str) -> Value {
    let res = as_operator(app, INTROSPECT, json!({"token": token})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body
}

async fn operator_token_is_required(app: &TestApp) {
    let user = app.create_user("s@example.com").await;
    // The tenant's SCIM key is not the operator token.
    let res = app
        .request("POST", SESSIONS, Some(json!({"userId": user})))
        .await;
    res.assert_error(401, None);
    assert!(
        res.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    let req = Request::builder()
        .method("POST")
        .uri(INTROSPECT)
        .header("content-type", "application/json")
        .body(Body::from(json!({"token": "sess_x"}).to_string()))
        .unwrap();
    app.send(req).await.assert_error(401, None);
}

async fn session_is_active_until_the_user_is_deprovisioned(app: &TestApp) {
    let user = app.create_user("session@example.com").await;
    let res = as_operator(app, SESSIONS, json!({"userId": user})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["userId"], user.as_str());
    assert_eq!(res.body["tenantId"], app.tenant.as_str());
    assert!(res.body["expiresAt"].is_string());
    let token = res.body["token"].as_str().unwrap().to_owned();

    let answer = introspect(app, &token).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["sub"], user.as_str());
    assert_eq!(answer["tenant_id"], app.tenant.as_str());
    assert!(answer["exp"].as_i64().unwrap() > answer["iat"].as_i64().unwrap());

    let res = app
        .request(
            "PATCH",
            &app.scim(&format!("/Users/{user}")),
            Some(patch_op(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(introspect(app, &token).await, json!({"active": false}));
}

async fn every_session_of_a_deleted_user_dies(app: &TestApp) {
    let user = app.create_user("many@example.com").await;
    let other = app.create_user("other@example.com").await;
    let a = create_session(app, &user).await;
    let b = create_session(app, &user).await;
    let kept = create_session(app, &other).await;
    let res = app
        .request("DELETE", &app.scim(&format!("/Users/{user}")), None)
        .await;
    assert_eq!(res.status, 204);
    assert_eq!(introspect(app, &a).await["active"], false);
    assert_eq!(introspect(app, &b).await["active"], false);
    assert_eq!(introspect(app, &kept).await["active"], true);
}

async fn bad_session_requests_are_scim_errors(app: &TestApp) {
    let res = as_operator(
        app,
        SESSIONS,
        json!({"userId": "2f0f7d5c-1111-4e5c-9b0a-000000000000"}),
    )
    .await;
    res.assert_error(404, None);
    for (path, body, detail) in [
        (SESSIONS, json!({}), "missing field `userId`"),
        (
            SESSIONS,
            json!({"userId": 5}),
            "'userId' is required and must be a string",
        ),
        (
            SESSIONS,
            json!([]),
            "the request body must be a JSON object",
        ),
        (
            INTROSPECT,
            json!({"token": null}),
            "'token' is required and must be a string",
        ),
    ] {
        let res = as_operator(app, path, body).await;
        res.assert_error(400, Some("invalidValue"));
        assert_eq!(res.detail(), detail);
    }
    assert_eq!(
        introspect(app, "sess_forged").await,
        json!({"active": false})
    );
    assert_eq!(introspect(app, "").await, json!({"active": false}));
    let auth = format!("Bearer {APP_TOKEN}");
    let res = app
        .send(
            Request::builder()
                .method("POST")
                .uri(SESSIONS)
                .header("authorization", auth)
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    res.assert_error(400, Some("invalidSyntax"));
}

async fn health_and_readiness_need_no_key(app: &TestApp) {
    for path in ["/healthz", "/readyz"] {
        let req = Request::builder().uri(path).body(Body::empty()).unwrap();
        let res = app.send(req).await;
        assert_eq!(res.status, 200, "{path}: {}", res.text);
        assert!(!res.text.is_empty());
    }
}

backends!(
    operator_token_is_required,
    session_is_active_until_the_user_is_deprovisioned,
    every_session_of_a_deleted_user_dies,
    bad_session_requests_are_scim_errors,
    health_and_readiness_need_no_key,
);

/// Without an operator token the application API is off.
mod without_operator_token {
    use super::*;

    fn config() -> ServerConfig {
        ServerConfig {
            app_token: None,
            ..test_config()
        }
    }

    async fn application_api_is_off_without_an_operator_token(app: &TestApp) {
        let user = app.create_user("off@example.com").await;
        let res = as_operator(app, SESSIONS, json!({"userId": user})).await;
        res.assert_error(403, None);
        assert!(res.detail().contains("--app-token"), "{}", res.detail());
    }

    backends!(config = config(); application_api_is_off_without_an_operator_token);
}
