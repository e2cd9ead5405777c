//! Provisioning policies per tenant: the defaults are the guide's rules;
//! `groupCreation: scim` lets the identity provider create groups (the
//! Okta Group Push and Entra group creation replays are in the interop
//! corpus). Bad policies and bad groups are refused and change nothing.

use scimitar_core::model::GroupCreation;
use serde_json::{Value, json};

use crate::common::*;

fn policy_path(app: &TestApp) -> String {
    format!("/admin/v1/tenants/{}/policy", app.tenant)
}

async fn set_policy(app: &TestApp, body: Value) -> TestResponse {
    admin(app, "PATCH", &policy_path(app), Some(body)).await
}

fn new_group(name: &str, external_id: Option<&str>, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "externalId": external_id,
        "members": members,
    })
}

async fn group_count(app: &TestApp) -> usize {
    app.store.list_all_groups(&app.tenant).await.unwrap().len()
}

/// A tenant starts with the guide's rules, and says so.
async fn a_new_tenant_has_the_guides_policies(app: &TestApp) {
    let res = admin(
        app,
        "GET",
        &format!("/admin/v1/tenants/{}", app.tenant),
        None,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        res.body["policy"],
        json!({"groupCreation": "admin", "groupSubaccountId": null, "deprovision": "delete",
               "deactivatedMemberships": "keep", "userNameFormat": "email",
               "userNameDomains": "any"})
    );
    let res = app
        .request(
            "POST",
            &app.scim("/Groups"),
            Some(new_group("G", None, &[])),
        )
        .await;
    res.assert_error(403, None);
    assert!(res.detail().contains("administrator"), "{}", res.detail());
    assert_eq!(group_count(app).await, 0);
}

/// With `groupCreation: scim`, POST /Groups creates the group in the
/// policy's subaccount, with its externalId and members, in one
/// transaction; set back to `admin`, it is refused again.
async fn the_identity_provider_creates_groups_where_the_policy_says(app: &TestApp) {
    let sub = app
        .store
        .create_subaccount(&app.tenant, "Stockholm", None)
        .await
        .unwrap();
    let res = set_policy(
        app,
        json!({"groupCreation": "scim", "groupSubaccountId": sub.id}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["policy"]["groupCreation"], "scim");
    assert_eq!(res.body["policy"]["groupSubaccountId"], sub.id.as_str());
    let changed = events_of(app, "tenant.policy_changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].payload["groupCreation"], "scim");

    let ann = app.create_user("ann@example.com").await;
    let bob = app.create_user("bob@example.com").await;
    let res = app
        .request(
            "POST",
            &app.scim("/Groups"),
            Some(new_group("Sales", Some("obj-sales"), &[&ann, &bob])),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["externalId"], "obj-sales");
    let mut members: Vec<&str> = res.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    members.sort_unstable();
    let mut expected = vec![ann.as_str(), bob.as_str()];
    expected.sort_unstable();
    assert_eq!(members, expected);
    let id = res.body["id"].as_str().unwrap().to_owned();
    assert!(
        res.header("location").is_some_and(|l| l.ends_with(&id)),
        "{:?}",
        res.header("location")
    );
    let group = app
        .store
        .get_group(&app.tenant, &id.clone().into())
        .await
        .unwrap();
    assert_eq!(group.subaccount_id.as_ref(), Some(&sub.id));
    assert_eq!(group.member_count, 2);
    let user = app.get(&app.scim(&format!("/Users/{ann}"))).await;
    assert_eq!(
        user.body["groups"][0]["value"],
        id.as_str(),
        "{}",
        user.text
    );
    assert_eq!(events_of(app, "group.created").await.len(), 1);
    let added = events_of(app, "group.members_added").await;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].payload["members"].as_array().unwrap().len(), 2);

    // To the tenant root; then back to the guide's rule.
    let res = set_policy(app, json!({"groupSubaccountId": null})).await;
    assert_eq!(res.body["policy"]["groupCreation"], "scim", "kept");
    let res = app
        .request(
            "POST",
            &app.scim("/Groups"),
            Some(new_group("Root", None, &[])),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let root = app
        .store
        .get_group(&app.tenant, &res.body["id"].as_str().unwrap().into())
        .await
        .unwrap();
    assert_eq!(root.subaccount_id, None);
    set_policy(app, json!({"groupCreation": "admin"})).await;
    let res = app
        .request(
            "POST",
            &app.scim("/Groups"),
            Some(new_group("Late", None, &[])),
        )
        .await;
    res.assert_error(403, None);
    assert_eq!(group_count(app).await, 2);
    assert_eq!(events_of(app, "tenant.policy_changed").await.len(), 3);
}

/// A group the domain refuses creates nothing: not the group, not some of
/// its members.
async fn a_refused_group_creates_nothing(app: &TestApp) {
    set_policy(app, json!({"groupCreation": "scim"})).await;
    let ann = app.create_user("ann@example.com").await;
    let (_, other_key) = app.other_tenant().await;
    let stranger = app.create_user_as(&other_key, "eve@globex.example").await;
    let unknown = "00000000-0000-4000-8000-000000000000";
    app.request(
        "POST",
        &app.scim("/Groups"),
        Some(new_group("Taken", Some("obj-1"), &[])),
    )
    .await;
    for (body, status, scim_type) in [
        (
            new_group("Half", None, &[&ann, unknown]),
            400,
            "invalidValue",
        ),
        (
            new_group("Theirs", None, &[&ann, &stranger]),
            400,
            "invalidValue",
        ),
        (
            new_group("Again", Some("obj-1"), &[&ann]),
            409,
            "uniqueness",
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"]}),
            400,
            "invalidValue",
        ),
        (json!({"displayName": 7}), 400, "invalidValue"),
    ] {
        let res = app
            .request("POST", &app.scim("/Groups"), Some(body.clone()))
            .await;
        assert_eq!(res.status, status, "{body}: {}", res.text);
        assert_eq!(res.scim_type(), Some(scim_type), "{body}: {}", res.text);
    }
    assert_eq!(group_count(app).await, 1, "only the first group");
    let user = app.get(&app.scim(&format!("/Users/{ann}"))).await;
    assert_eq!(user.body["groups"], json!([]), "{}", user.text);
    assert!(events_of(app, "group.members_added").await.is_empty());
}

/// Bad policies are refused in words and change nothing.
async fn bad_policies_are_refused_and_change_nothing(app: &TestApp) {
    let (other, _) = app.other_tenant().await;
    let theirs = app
        .store
        .create_subaccount(&other, "Theirs", None)
        .await
        .unwrap();
    for (body, status, says) in [
        (
            json!({"groupCreation": "everyone"}),
            400,
            "'admin' or 'scim'",
        ),
        (json!({"groupCreation": null}), 400, "groupCreation"),
        (json!({"groupCreation": true}), 400, "groupCreation"),
        (json!({"groupSubaccountId": theirs.id}), 404, "subaccount"),
        (json!({"groupSubaccountId": "nope"}), 404, "subaccount"),
        (json!({"deprovision": "sometimes"}), 400, "deprovision"),
    ] {
        let res = set_policy(app, body.clone()).await;
        assert_eq!(res.status, status, "{body}: {}", res.text);
        assert!(res.detail().contains(says), "{body}: {}", res.detail());
    }
    let tenant = app.store.get_tenant(&app.tenant).await.unwrap();
    assert_eq!(tenant.policy.group_creation, GroupCreation::Admin);
    assert_eq!(tenant.policy.group_subaccount_id, None);
    assert!(events_of(app, "tenant.policy_changed").await.is_empty());
    // A change that changes nothing is no event either.
    let res = set_policy(app, json!({"groupCreation": "admin"})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(events_of(app, "tenant.policy_changed").await.is_empty());
    let res = admin(
        app,
        "PATCH",
        "/admin/v1/tenants/00000000-0000-4000-8000-000000000000/policy",
        Some(json!({"groupCreation": "scim"})),
    )
    .await;
    assert_eq!(res.status, 404, "{}", res.text);
}

/// Discovery says who creates the tenant's groups: with the tenant's key,
/// its policy; without a key, or with one that is not live, the defaults.
async fn discovery_describes_the_tenants_policy(app: &TestApp) {
    let group_schema = "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group";
    let described = async |key: Option<&str>, path: &str| -> Value {
        // No key: an empty Authorization (request_with sends the app's key
        // otherwise).
        let auth = key.map_or_else(String::new, |k| format!("Bearer {k}"));
        let headers = [("authorization", auth.as_str())];
        let res = app
            .request_with("GET", &app.scim(path), None, &headers)
            .await;
        assert_eq!(res.status, 200, "{path}: {}", res.text);
        res.body
    };
    let (_, other_key) = app.other_tenant().await;
    set_policy(app, json!({"groupCreation": "scim"})).await;
    for key in [None, Some(other_key.as_str()), Some("scim_not-a-key")] {
        let schema = described(key, group_schema).await;
        assert!(
            schema["description"]
                .as_str()
                .unwrap()
                .contains("POST /Groups is refused"),
            "{key:?}: {schema}"
        );
    }
    let schema = described(Some(&app.key), group_schema).await;
    assert!(
        schema["description"]
            .as_str()
            .unwrap()
            .contains("Created by the identity provider"),
        "{schema}"
    );
    let all = described(Some(&app.key), "/Schemas").await;
    let listed = all["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "urn:ietf:params:scim:schemas:core:2.0:Group")
        .unwrap();
    assert_eq!(listed["description"], schema["description"]);
    let user = all["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "User")
        .unwrap();
    assert!(
        !user["description"].as_str().unwrap().contains("Group"),
        "{user}"
    );
    for path in ["/ResourceTypes/Group", "/ResourceTypes"] {
        let body = described(Some(&app.key), path).await;
        assert!(
            body.to_string()
                .contains("created by the identity provider"),
            "{path}: {body}"
        );
        let body = described(None, path).await;
        assert!(
            body.to_string().contains("POST /Groups is refused"),
            "{path}: {body}"
        );
    }
}

backends!(
    a_new_tenant_has_the_guides_policies,
    the_identity_provider_creates_groups_where_the_policy_says,
    a_refused_group_creates_nothing,
    bad_policies_are_refused_and_change_nothing,
    discovery_describes_the_tenants_policy,
);
