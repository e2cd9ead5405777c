//! `deprovision: deactivate`: a leaver stays, inactive, its sessions end,
//! its memberships kept or dropped as the second switch says; `active:
//! true` brings it back with the same id; `DELETE` still deletes. The
//! default (`delete`) is in `users.rs`; here only what the switch changes,
//! and what a change of policy does to the users already there.

use scimitar_core::model::{DeactivatedMemberships, Deprovision};
use serde_json::{Value, json};

use crate::common::*;

async fn set_policy(app: &TestApp, body: Value) {
    let path = format!("/admin/v1/tenants/{}/policy", app.tenant);
    let res = admin(app, "PATCH", &path, Some(body)).await;
    assert_eq!(res.status, 200, "{}", res.text);
}

/// Entra's shape of a deactivation (the value a string, the op capitalised).
fn set_active(value: Value) -> Value {
    patch_op(json!([{"op": "Replace", "path": "active", "value": value}]))
}

/// A PUT or PATCH of the user `id`.
async fn to_user(app: &TestApp, method: &str, id: &str, body: Value) -> TestResponse {
    app.request(method, &app.scim(&format!("/Users/{id}")), Some(body))
        .await
}

async fn join(app: &TestApp, group: &str, user: &str) {
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": user}]}]));
    let res = app
        .request("PATCH", &app.scim(&format!("/Groups/{group}")), Some(add))
        .await;
    assert!(res.status == 200 || res.status == 204, "{}", res.text);
}

/// A session through the host application's API: its status and body.
async fn start_session(app: &TestApp, user: &str) -> TestResponse {
    let auth = format!("Bearer {APP_TOKEN}");
    app.request_with(
        "POST",
        "/app/v1/sessions",
        Some(json!({"userId": user})),
        &[("authorization", &auth)],
    )
    .await
}

async fn session_is_live(app: &TestApp, token: &str) -> bool {
    let auth = format!("Bearer {APP_TOKEN}");
    let res = app
        .request_with(
            "POST",
            "/app/v1/sessions/introspect",
            Some(json!({"token": token})),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["active"] == true
}

async fn listed(app: &TestApp, filter: &str) -> Vec<String> {
    let path = format!("/Users?filter={}", urlencode(filter));
    let res = app.get(&app.scim(&path)).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.ids()
}

fn urlencode(s: &str) -> String {
    s.replace(' ', "%20").replace('"', "%22")
}

/// Deactivated, a user keeps its id, attributes and (by default) groups;
/// its sessions end and none can begin; `active: true` re-activates it;
/// `DELETE` deletes it. Each step is an event that says which happened.
async fn a_deactivated_user_stays_and_comes_back(app: &TestApp) {
    set_policy(app, json!({"deprovision": "deactivate"})).await;
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let group = app.create_group("Sales", Some("obj-sales")).await;
    join(app, &group, &ann).await;
    let res = start_session(app, &ann).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let token = res.body["token"].as_str().unwrap().to_owned();

    let res = to_user(app, "PATCH", &ann, set_active(json!("False"))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], false);
    assert_eq!(res.body["id"], ann.as_str());
    let res = app.get(&app.scim(&format!("/Users/{ann}"))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], false);
    assert_eq!(res.body["userName"], "ann@example.com");
    assert_eq!(res.body["groups"][0]["value"], group.as_str(), "kept");
    assert!(!session_is_live(app, &token).await, "its session ended");
    let refused = start_session(app, &ann).await;
    refused.assert_error(403, None);
    assert!(refused.detail().contains("deactivated"), "{}", refused.text);
    assert_eq!(listed(app, "active eq false").await, vec![ann.clone()]);
    assert_eq!(listed(app, "active eq true").await, vec![bob.clone()]);
    assert_eq!(listed(app, "active ne true").await, vec![ann.clone()]);
    let res = app
        .get(&app.scim("/Users?filter=active%20gt%20false"))
        .await;
    res.assert_error(400, Some("invalidFilter"));

    let gone = events_of(app, "user.deprovisioned").await;
    assert_eq!(gone.len(), 1);
    let data = &gone[0].payload;
    assert_eq!(data["outcome"], "deactivated", "{data}");
    assert_eq!(data["how"], "PATCH");
    assert_eq!(data["sessionsRevoked"], 1);
    assert_eq!(data["groups"], json!([]), "no membership went: {data}");
    assert_eq!(events_of(app, "sessions.revoked").await.len(), 1);

    // Deactivating again changes nothing and says nothing.
    let res = to_user(app, "PATCH", &ann, set_active(json!(false))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(events_of(app, "user.deprovisioned").await.len(), 1);

    let res = to_user(app, "PATCH", &ann, set_active(json!(true))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], true);
    assert_eq!(res.body["id"], ann.as_str());
    assert_eq!(res.body["groups"][0]["value"], group.as_str());
    let back = events_of(app, "user.reactivated").await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].payload["how"], "PATCH");
    assert_eq!(start_session(app, &ann).await.status, 201);

    let res = app
        .request("DELETE", &app.scim(&format!("/Users/{ann}")), None)
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let res = app.get(&app.scim(&format!("/Users/{ann}"))).await;
    res.assert_error(404, None);
    let gone = events_of(app, "user.deprovisioned").await;
    assert_eq!(gone.len(), 2);
    assert_eq!(gone[1].payload["outcome"], "deleted");
    assert_eq!(gone[1].payload["groups"], json!([group]));
}

/// With `deactivatedMemberships: drop` a deactivated user leaves its
/// groups, as on deletion, and comes back without them.
async fn a_deactivated_user_can_leave_its_groups(app: &TestApp) {
    set_policy(
        app,
        json!({"deprovision": "deactivate", "deactivatedMemberships": "drop"}),
    )
    .await;
    let tenant = app.store.get_tenant(&app.tenant).await.unwrap();
    assert_eq!(tenant.policy.deprovision, Deprovision::Deactivate);
    assert_eq!(
        tenant.policy.deactivated_memberships,
        DeactivatedMemberships::Drop
    );
    let ann = app.create_user("ann@example.com").await;
    let group = app.create_group("Sales", None).await;
    join(app, &group, &ann).await;

    let res = to_user(app, "PATCH", &ann, set_active(json!(false))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], false);
    assert_eq!(res.body["groups"], json!([]), "{}", res.text);
    let stored = app
        .store
        .get_group(&app.tenant, &group.clone().into())
        .await
        .unwrap();
    assert_eq!(stored.member_count, 0);
    let members = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    assert_eq!(members.body["members"], json!([]), "{}", members.text);
    let gone = events_of(app, "user.deprovisioned").await;
    assert_eq!(gone[0].payload["groups"], json!([group]));

    let res = to_user(app, "PATCH", &ann, set_active(json!(true))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["groups"], json!([]));
}

/// PUT and POST follow the policy too: PUT `active: false` deactivates,
/// POST may create a user inactive, and without `active` (or with it
/// removed) a user has it unassigned, which is not deactivated.
async fn put_post_and_remove_follow_the_policy(app: &TestApp) {
    set_policy(app, json!({"deprovision": "deactivate"})).await;
    let user = |name: &str, active: Option<bool>| {
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name, "displayName": "Someone",
        });
        if let Some(active) = active {
            body["active"] = json!(active);
        }
        body
    };
    let res = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(user("cy@example.com", Some(false))),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["active"], false);
    let cy = res.body["id"].as_str().unwrap().to_owned();
    start_session(app, &cy).await.assert_error(403, None);
    assert!(
        events_of(app, "user.deprovisioned").await.is_empty(),
        "created inactive: no one was deprovisioned"
    );

    let res = to_user(app, "PUT", &cy, user("cy@example.com", Some(true))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], true);
    assert_eq!(events_of(app, "user.reactivated").await.len(), 1);
    assert_eq!(
        events_of(app, "user.reactivated").await[0].payload["how"],
        "PUT"
    );
    let res = to_user(app, "PUT", &cy, user("cy@example.com", Some(false))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], false);
    assert_eq!(
        events_of(app, "user.deprovisioned").await[0].payload["how"],
        "PUT"
    );

    let res = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(user("dee@example.com", None)),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert!(res.body.get("active").is_none(), "unassigned: {}", res.text);
    let dee = res.body["id"].as_str().unwrap().to_owned();
    assert_eq!(start_session(app, &dee).await.status, 201);
    assert_eq!(listed(app, "active pr").await, vec![cy.clone()]);

    let res = to_user(app, "PATCH", &cy, set_active(json!(true))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let remove = patch_op(json!([{"op": "remove", "path": "active"}]));
    let res = to_user(app, "PATCH", &cy, remove).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(res.body.get("active").is_none(), "removed: {}", res.text);
    let res = app.get(&app.scim(&format!("/Users/{cy}"))).await;
    assert!(res.body.get("active").is_none(), "{}", res.text);

    // A bad value is refused and changes nothing.
    let res = to_user(app, "PATCH", &cy, set_active(json!("maybe"))).await;
    res.assert_error(400, Some("invalidValue"));
    let res = app.get(&app.scim(&format!("/Users/{cy}"))).await;
    assert!(res.body.get("active").is_none(), "{}", res.text);
}

/// Back to `delete`: a user deactivated before stays until deleted (a
/// change of its attributes does not delete it), and `active: false` on an
/// active user deletes again.
async fn going_back_to_delete_leaves_deactivated_users_be(app: &TestApp) {
    set_policy(app, json!({"deprovision": "deactivate"})).await;
    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    to_user(app, "PATCH", &ann, set_active(json!(false))).await;
    set_policy(app, json!({"deprovision": "delete"})).await;

    let title = patch_op(json!([{"op": "replace", "path": "title", "value": "Former"}]));
    let res = to_user(app, "PATCH", &ann, title).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["active"], false);
    assert_eq!(res.body["title"], "Former");
    let remove = patch_op(json!([{"op": "remove", "path": "active"}]));
    let res = to_user(app, "PATCH", &ann, remove).await;
    assert_eq!(res.body["active"], false, "kept as it was: {}", res.text);
    let res = to_user(app, "PATCH", &ann, set_active(json!(true))).await;
    assert_eq!(res.body["active"], true, "{}", res.text);

    let res = to_user(app, "PATCH", &bob, set_active(json!(false))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = app.get(&app.scim(&format!("/Users/{bob}"))).await;
    res.assert_error(404, None);
    let gone = events_of(app, "user.deprovisioned").await;
    assert_eq!(gone.last().unwrap().payload["outcome"], "deleted");
    let res = app
        .request(
            "POST",
            &app.scim("/Users"),
            Some(json!({"userName": "cy@example.com", "displayName": "Cy", "active": false})),
        )
        .await;
    res.assert_error(400, Some("invalidValue"));
}

/// `/Schemas` says what `active: false` does for the key's tenant.
async fn discovery_describes_deactivation(app: &TestApp) {
    let path = app.scim("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User");
    let active = async || -> String {
        let res = app.get(&path).await;
        assert_eq!(res.status, 200, "{}", res.text);
        let attrs = res.body["attributes"].as_array().unwrap();
        let active = attrs.iter().find(|a| a["name"] == "active").unwrap();
        active["description"].as_str().unwrap().to_owned()
    };
    assert!(active().await.contains("deletes"), "the default");
    set_policy(app, json!({"deprovision": "deactivate"})).await;
    let described = active().await;
    assert!(described.contains("deactivates"), "{described}");
    assert!(described.contains("with its groups"), "{described}");
    set_policy(app, json!({"deactivatedMemberships": "drop"})).await;
    assert!(active().await.contains("leaves its groups"));
}

/// A bad value for either switch is refused and changes nothing.
async fn bad_deprovision_policies_are_refused(app: &TestApp) {
    let path = format!("/admin/v1/tenants/{}/policy", app.tenant);
    for (body, says) in [
        (
            json!({"deprovision": "archive"}),
            "'delete' or 'deactivate'",
        ),
        (json!({"deprovision": false}), "deprovision"),
        (
            json!({"deactivatedMemberships": "maybe"}),
            "'keep' or 'drop'",
        ),
        (
            json!({"deprovision": "deactivate", "deactivatedMemberships": 1}),
            "deactivatedMemberships",
        ),
    ] {
        let res = admin(app, "PATCH", &path, Some(body.clone())).await;
        assert_eq!(res.status, 400, "{body}: {}", res.text);
        assert!(res.detail().contains(says), "{body}: {}", res.detail());
    }
    let tenant = app.store.get_tenant(&app.tenant).await.unwrap();
    assert_eq!(tenant.policy.deprovision, Deprovision::Delete);
    assert!(events_of(app, "tenant.policy_changed").await.is_empty());
}

backends!(
    a_deactivated_user_stays_and_comes_back,
    a_deactivated_user_can_leave_its_groups,
    put_post_and_remove_follow_the_policy,
    going_back_to_delete_leaves_deactivated_users_be,
    discovery_describes_deactivation,
    bad_deprovision_policies_are_refused,
);
