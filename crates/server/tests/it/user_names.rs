//! `userNameFormat`: `email` (the default, the guide's rule: a userName is
//! an email address and is the user's email) or `any` (any string, unique
//! across the deployment as before; `emails` is the client's, validated
//! as an address, one kept). Bad input changes nothing.

use serde_json::{Value, json};

use crate::common::*;

async fn set_policy(app: &TestApp, body: Value) -> TestResponse {
    let path = format!("/admin/v1/tenants/{}/policy", app.tenant);
    admin(app, "PATCH", &path, Some(body)).await
}

fn user(user_name: &str, emails: Option<Value>) -> Value {
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "displayName": "Ann Lee",
        "active": true,
    });
    if let Some(emails) = emails {
        body["emails"] = emails;
    }
    body
}

async fn post(app: &TestApp, body: Value) -> TestResponse {
    app.request("POST", &app.scim("/Users"), Some(body)).await
}

async fn user_count(app: &TestApp) -> u64 {
    let res = app.get(&app.scim("/Users?count=0")).await;
    res.body["totalResults"].as_u64().unwrap()
}

async fn found(app: &TestApp, filter: &str) -> Vec<String> {
    let path = format!(
        "/Users?filter={}",
        filter.replace(' ', "%20").replace('"', "%22")
    );
    let res = app.get(&app.scim(&path)).await;
    assert_eq!(res.status, 200, "{filter}: {}", res.text);
    res.ids()
}

/// With `any`, an employee number is a userName and the client's address
/// is the user's email: read back, filtered on, changed and removed as
/// sent.
async fn any_user_name_keeps_the_clients_email(app: &TestApp) {
    let res = set_policy(app, json!({"userNameFormat": "any"})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["policy"]["userNameFormat"], "any");
    let emails = json!([
        {"value": "ann.private@example.org", "type": "home"},
        {"value": "Ann.Lee@Example.com", "type": "Work", "primary": true},
    ]);
    let res = post(app, user("E12345", Some(emails))).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["userName"], "E12345");
    assert_eq!(
        res.body["emails"],
        json!([{"value": "Ann.Lee@Example.com", "type": "work", "primary": true}]),
        "the primary address is kept"
    );
    let id = res.body["id"].as_str().unwrap().to_owned();
    let res = app.get(&app.scim(&format!("/Users/{id}"))).await;
    assert_eq!(res.body["emails"][0]["value"], "Ann.Lee@Example.com");
    assert_eq!(
        found(app, r#"emails.value eq "ann.lee@example.com""#).await,
        vec![id.clone()]
    );
    assert_eq!(
        found(app, r#"emails[type eq "work"]"#).await,
        vec![id.clone()]
    );
    assert_eq!(
        found(app, r#"userName eq "e12345""#).await,
        vec![id.clone()]
    );
    assert!(found(app, r#"emails.value eq "E12345""#).await.is_empty());

    let change = patch_op(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ann@example.com"}
    ]));
    let res = app
        .request("PATCH", &app.scim(&format!("/Users/{id}")), Some(change))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["emails"][0]["value"], "ann@example.com");
    assert_eq!(res.body["userName"], "E12345", "the userName stays");
    let remove = patch_op(json!([{"op": "remove", "path": "emails"}]));
    let res = app
        .request("PATCH", &app.scim(&format!("/Users/{id}")), Some(remove))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(res.body.get("emails").is_none(), "{}", res.text);

    // Without emails, none; a userName that is an address is no email.
    let res = post(app, user("ann.lee@corp.example", None)).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert!(res.body.get("emails").is_none(), "{}", res.text);
}

/// Bad userNames and bad emails are refused in words and create nothing;
/// userNames stay unique across the deployment, whatever their format.
async fn any_user_name_refuses_what_it_cannot_keep(app: &TestApp) {
    set_policy(app, json!({"userNameFormat": "any"})).await;
    assert_eq!(post(app, user("E1", None)).await.status, 201);
    let (_, other_key) = app.other_tenant().await;
    app.create_user_as(&other_key, "bob@globex.example").await;
    for (body, status, says) in [
        (user("e1", None), 409, "userName"),
        (user("BOB@globex.example", None), 409, "userName"),
        (user("   ", None), 400, "userName is required"),
        (user(&"x".repeat(255), None), 400, "longer than 254"),
        (
            user("E2", Some(json!([{"value": "not an address"}]))),
            400,
            "emails.value",
        ),
        (
            user(
                "E2",
                Some(json!([{"value": "a@b.example", "primary": "sometimes"}])),
            ),
            400,
            "emails.primary",
        ),
        (
            user("E2", Some(json!({"value": "a@b.example"}))),
            400,
            "emails must be an array",
        ),
        (
            user("E2", Some(json!(["a@b.example"]))),
            400,
            "emails[0] must be an object",
        ),
        (
            user("E2", Some(json!([{"type": "work"}]))),
            400,
            "without value",
        ),
    ] {
        let res = post(app, body.clone()).await;
        assert_eq!(res.status, status, "{body}: {}", res.text);
        assert!(res.detail().contains(says), "{body}: {}", res.detail());
    }
    assert_eq!(user_count(app).await, 1, "nothing more was created");
}

/// The default: a userName must be an address and is the email; the
/// client's emails are ignored. Switching formats keeps the users there:
/// to `any`, their emails stay their addresses; back to `email`, a user
/// whose userName is no address must get one before it can change.
async fn the_format_can_change_under_existing_users(app: &TestApp) {
    let res = post(app, user("E7", None)).await;
    res.assert_error(400, Some("invalidValue"));
    assert!(
        res.detail().contains("not an email address"),
        "{}",
        res.text
    );
    let emails = json!([{"value": "other@example.org", "type": "home"}]);
    let res = post(app, user("ann@example.com", Some(emails))).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(
        res.body["emails"],
        json!([{"value": "ann@example.com", "type": "work", "primary": true}])
    );
    let ann = res.body["id"].as_str().unwrap().to_owned();

    set_policy(app, json!({"userNameFormat": "any"})).await;
    let res = app.get(&app.scim(&format!("/Users/{ann}"))).await;
    assert_eq!(
        res.body["emails"][0]["value"], "ann@example.com",
        "{}",
        res.text
    );
    let res = post(app, user("E7", None)).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let e7 = res.body["id"].as_str().unwrap().to_owned();

    set_policy(app, json!({"userNameFormat": "email"})).await;
    let title = patch_op(json!([{"op": "replace", "path": "title", "value": "Lead"}]));
    let path = app.scim(&format!("/Users/{e7}"));
    let res = app.request("PATCH", &path, Some(title.clone())).await;
    res.assert_error(400, Some("invalidValue"));
    assert!(
        res.detail().contains("not an email address"),
        "{}",
        res.text
    );
    let rename =
        patch_op(json!([{"op": "replace", "path": "userName", "value": "e7@example.com"}]));
    let res = app.request("PATCH", &path, Some(rename)).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["emails"][0]["value"], "e7@example.com");
    assert_eq!(
        found(app, r#"emails.value eq "e7@example.com""#).await,
        [e7]
    );
}

/// `/Schemas` publishes the tenant's User schema: with `any`, userName is
/// any string and `emails` may be written.
async fn discovery_publishes_the_tenants_user_schema(app: &TestApp) {
    let path = app.scim("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User");
    let attribute = async |name: &str| -> Value {
        let res = app.get(&path).await;
        assert_eq!(res.status, 200, "{}", res.text);
        res.body["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(attribute("emails").await["mutability"], "readOnly");
    assert!(
        attribute("userName").await["description"]
            .as_str()
            .unwrap()
            .contains("an email address")
    );
    set_policy(app, json!({"userNameFormat": "any"})).await;
    let emails = attribute("emails").await;
    assert_eq!(emails["mutability"], "readWrite", "{emails}");
    assert_eq!(
        emails["subAttributes"][0]["mutability"], "readWrite",
        "{emails}"
    );
    assert!(
        attribute("userName").await["description"]
            .as_str()
            .unwrap()
            .contains("any non-empty string")
    );
    let res = set_policy(app, json!({"userNameFormat": "numbers"})).await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert!(
        res.detail().contains("'email' or 'any'"),
        "{}",
        res.detail()
    );
}

backends!(
    any_user_name_keeps_the_clients_email,
    any_user_name_refuses_what_it_cannot_keep,
    the_format_can_change_under_existing_users,
    discovery_publishes_the_tenants_user_schema,
);
