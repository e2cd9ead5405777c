//! The provisioning log: one row per SCIM request of a tenant, with what
//! its admins and support need to understand a failed sync.

use crate::common::*;
use serde_json::json;

async fn every_scim_request_gets_a_row_with_outcome_and_reason(app: &TestApp) {
    let ok = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(json!({"userName": "logged@example.com", "displayName": "L", "password": "x"})),
        )
        .await;
    assert_eq!(ok.status, 201);
    let id = ok.body["id"].as_str().unwrap().to_owned();
    let bad = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(json!({"userName": "not-an-email", "displayName": "L"})),
        )
        .await;
    assert_eq!(bad.status, 400);
    app.get(&app.scim("/Users?aadOptscim062020&filter=userName+eq+%22x%40y.z%22"))
        .await;
    app.request(
        "PATCH",
        &app.scim(&format!("/Users/{id}")),
        Some(patch_op(
            json!([{"op": "replace", "path": "title", "value": "T"}]),
        )),
    )
    .await;
    app.request(
        "POST",
        &app.scim("/Groups"),
        Some(json!({"displayName": "G"})),
    )
    .await;
    app.request("DELETE", &app.scim(&format!("/Users/{id}")), None)
        .await;
    app.get(&app.scim(&format!("/Users/{id}"))).await;

    let log = app.log_entries(7).await;
    assert_eq!(log.len(), 7, "{log:#?}");
    // Newest first.
    let summary: Vec<(&str, u16)> = log.iter().map(|e| (e.method.as_str(), e.status)).collect();
    assert_eq!(
        summary,
        [
            ("GET", 404),
            ("DELETE", 204),
            ("POST", 403),
            ("PATCH", 200),
            ("GET", 200),
            ("POST", 400),
            ("POST", 201)
        ]
    );
    let created = &log[6];
    assert_eq!(created.tenant_id, app.tenant);
    assert_eq!(created.path, "/scim/v2/Users");
    assert_eq!(created.ignored, ["password"]);
    assert!(created.scim_type.is_none() && created.detail.is_none());
    assert_eq!(Some(created.request_id.as_str()), ok.header("x-request-id"));

    let refused = &log[5];
    assert_eq!(refused.scim_type.as_deref(), Some("invalidValue"));
    assert_eq!(refused.detail.as_deref(), Some(bad.detail()));
    assert!(refused.detail.as_deref().unwrap().contains("not-an-email"));

    // The path as the client sent it, query included.
    assert_eq!(
        log[4].path,
        "/scim/v2/Users?aadOptscim062020&filter=userName+eq+%22x%40y.z%22"
    );
    assert!(log[2].detail.as_deref().unwrap().contains("administrator"));
    assert!(log.windows(2).all(|w| w[0].time >= w[1].time));
}

async fn other_tenants_and_anonymous_requests_are_not_in_the_log(app: &TestApp) {
    let (_, other_key) = app.other_tenant().await;
    app.request_as(&other_key, "GET", &app.scim("/Users"), None)
        .await;
    app.request_as("scim_wrong", "GET", &app.scim("/Users"), None)
        .await;
    app.get(&app.scim("/ServiceProviderConfig")).await;
    app.get(&app.scim("/Groups")).await;
    // Entries are queued before each answer is returned and written in
    // queue order, so once the last request's entry is there, an entry of
    // any earlier request would be too: no need to wait for stragglers.
    let log = app.log_entries(1).await;
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].path, "/scim/v2/Groups");
}

backends!(
    every_scim_request_gets_a_row_with_outcome_and_reason,
    other_tenants_and_anonymous_requests_are_not_in_the_log,
);
