//! The admin REST API (behind the operator token), `/metrics`, and
//! `POST /.search`.

use crate::common::*;
use serde_json::{Value, json};

async fn admin_api_needs_the_operator_token(app: &TestApp) {
    // A tenant's SCIM key is no operator token.
    let res = app.request("GET", "/admin/v1/tenants", None).await;
    res.assert_error(401, None);
    let res = app
        .request_with(
            "GET",
            "/admin/v1/tenants",
            None,
            &[("authorization", "Bearer wrong")],
        )
        .await;
    res.assert_error(401, None);
}

async fn admin_follows_the_integration_guide(app: &TestApp) {
    // Step 1: a tenant and an API key.
    let res = admin(
        app,
        "POST",
        "/admin/v1/tenants",
        Some(json!({"name": "Acme", "region": "eu"})),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let tenant = res.body["id"].as_str().unwrap().to_owned();
    let res = admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{tenant}/apikeys"),
        Some(json!({"label": "Entra"})),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let key = res.body["key"].as_str().unwrap().to_owned();
    let key_id = res.body["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("scim_"));

    // Step 2: a subaccount and a group in it, with Entra's objectId.
    let res = admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{tenant}/subaccounts"),
        Some(json!({"name": "Sweden"})),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let sub = res.body["id"].as_str().unwrap().to_owned();
    let res = admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{tenant}/groups"),
        Some(json!({"displayName": "Staff", "subaccountId": sub, "externalId": "obj-1"})),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let group = res.body["id"].as_str().unwrap().to_owned();
    assert_eq!(res.body["subaccountId"], json!(sub));

    // The key works for SCIM, and the group is found by its externalId.
    let res = app
        .request_as(
            &key,
            "GET",
            &app.scim("/Groups?filter=externalId%20eq%20%22obj-1%22"),
            None,
        )
        .await;
    assert_eq!(res.ids(), vec![group.clone()]);
    let res = app
        .request_as(
            &key,
            "POST",
            &app.scim("/Users"),
            Some(json!({"userName": "ann@example.com", "displayName": "Ann"})),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);

    // Rename, clear the externalId, move to the root.
    let res = admin(
        app,
        "PATCH",
        &format!("/admin/v1/tenants/{tenant}/groups/{group}"),
        Some(json!({"displayName": "All staff", "externalId": null, "subaccountId": null})),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["displayName"], "All staff");
    assert_eq!(res.body["externalId"], Value::Null);
    assert_eq!(res.body["subaccountId"], Value::Null);

    // Users and the provisioning log are readable.
    let res = admin(
        app,
        "GET",
        &format!("/admin/v1/tenants/{tenant}/users?filter=userName%20eq%20%22ANN@example.com%22"),
        None,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["total"], 1);
    assert_eq!(res.body["users"][0]["userName"], "ann@example.com");
    let res = admin(
        app,
        "GET",
        &format!("/admin/v1/events?tenant={tenant}"),
        None,
    )
    .await;
    let kinds: Vec<&str> = res
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"group.created") && kinds.contains(&"user.created"),
        "{kinds:?}"
    );

    // Revoke the key: SCIM refuses it at once.
    let res = admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{tenant}/apikeys/{key_id}/revoke"),
        None,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let revoked = res.body["revoked"].as_str().unwrap_or_default();
    assert!(
        scimitar_proto::datetime::parse(revoked).is_some(),
        "{}",
        res.body
    );
    let res = app.request_as(&key, "GET", &app.scim("/Users"), None).await;
    res.assert_error(401, None);

    // Delete the group; its user stays.
    let res = admin(
        app,
        "DELETE",
        &format!("/admin/v1/tenants/{tenant}/groups/{group}"),
        None,
    )
    .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let res = admin(
        app,
        "GET",
        &format!("/admin/v1/tenants/{tenant}/groups/{group}"),
        None,
    )
    .await;
    res.assert_error(404, None);
    let res = admin(
        app,
        "GET",
        &format!("/admin/v1/tenants/{tenant}/users"),
        None,
    )
    .await;
    assert_eq!(res.body["total"], 1);
}

async fn admin_bad_inputs_change_nothing(app: &TestApp) {
    let res = admin(app, "POST", "/admin/v1/tenants", Some(json!({"name": ""}))).await;
    res.assert_error(400, Some("invalidValue"));
    let res = admin(app, "POST", "/admin/v1/tenants", Some(json!({"name": 7}))).await;
    res.assert_error(400, Some("invalidValue"));
    let tenant = app.tenant.as_str();
    let res = admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{tenant}/groups"),
        Some(json!({"externalId": "x"})),
    )
    .await;
    res.assert_error(400, Some("invalidValue"));
    let res = admin(
        app,
        "POST",
        "/admin/v1/tenants/no-such-tenant/groups",
        Some(json!({"displayName": "G"})),
    )
    .await;
    res.assert_error(404, None);
    let res = admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{tenant}/groups"),
        Some(json!({"displayName": "G", "subaccountId": "nope"})),
    )
    .await;
    res.assert_error(404, None);
    let res = admin(
        app,
        "GET",
        &format!("/admin/v1/tenants/{tenant}/users?filter=bogus"),
        None,
    )
    .await;
    res.assert_error(400, Some("invalidFilter"));
    // Another tenant's group and key are not reachable through this tenant.
    let (other, _) = app.other_tenant().await;
    let foreign = app.create_group_in(&other, "Theirs", Some("t-1")).await;
    let res = admin(
        app,
        "PATCH",
        &format!("/admin/v1/tenants/{tenant}/groups/{foreign}"),
        Some(json!({"displayName": "Mine"})),
    )
    .await;
    res.assert_error(404, None);
    let theirs = admin(
        app,
        "GET",
        &format!("/admin/v1/tenants/{}/apikeys", other.as_str()),
        None,
    )
    .await;
    let their_key = theirs.body[0]["id"].as_str().unwrap().to_owned();
    let res = admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{tenant}/apikeys/{their_key}/revoke"),
        None,
    )
    .await;
    res.assert_error(404, None);
    let again = admin(
        app,
        "GET",
        &format!("/admin/v1/tenants/{}/apikeys", other.as_str()),
        None,
    )
    .await;
    assert_eq!(again.body[0]["revoked"], Value::Null);
    // Two groups may not share an externalId within a tenant.
    admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{tenant}/groups"),
        Some(json!({"displayName": "A", "externalId": "dup"})),
    )
    .await;
    let res = admin(
        app,
        "POST",
        &format!("/admin/v1/tenants/{tenant}/groups"),
        Some(json!({"displayName": "B", "externalId": "dup"})),
    )
    .await;
    res.assert_error(409, Some("uniqueness"));
}

async fn metrics_count_requests_by_method_and_status(app: &TestApp) {
    app.get(&app.scim("/Users")).await;
    app.get(&app.scim("/Users/00000000-0000-4000-8000-000000000000"))
        .await;
    let auth = format!("Bearer {METRICS_TOKEN}");
    let res = app
        .request_with("GET", "/metrics", None, &[("authorization", &auth)])
        .await;
    assert_eq!(res.status, 200);
    assert!(
        res.text.contains("scimitar_database_bytes "),
        "{}",
        res.text
    );
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        res.text
            .contains("scimitar_http_requests_total{method=\"GET\",status=\"2xx\"}"),
        "{}",
        res.text
    );
    assert!(
        res.text
            .contains("scimitar_http_requests_total{method=\"GET\",status=\"4xx\"} 1"),
        "{}",
        res.text
    );
    assert!(
        res.text
            .contains("scimitar_http_request_duration_seconds_bucket{le=\"+Inf\"}")
    );
    assert!(
        res.text
            .contains("scimitar_provisioning_log_dropped_total 0")
    );
    // Behind its own token: neither a tenant's key nor the admin token.
    app.get("/metrics").await.assert_error(401, None);
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let res = app
        .request_with("GET", "/metrics", None, &[("authorization", &admin)])
        .await;
    res.assert_error(401, None);
}

async fn search_with_post_is_the_same_query(app: &TestApp) {
    app.create_user("one@example.com").await;
    app.create_user("two@example.com").await;
    let res = app
        .request(
            "POST",
            &app.scim("/Users/.search"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "userName sw \"TWO\"",
                "attributes": ["userName"],
                "startIndex": 1,
                "count": 10
            })),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["totalResults"], 1);
    assert_eq!(res.body["Resources"][0]["userName"], "two@example.com");
    assert!(res.body["Resources"][0].get("displayName").is_none());
    let res = app
        .request(
            "POST",
            &app.scim("/Groups/.search"),
            Some(json!({"filter": "displayName eq \"x\""})),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = app
        .request(
            "POST",
            &app.scim("/Users/.search"),
            Some(json!({"filter": "nope eq 1"})),
        )
        .await;
    res.assert_error(400, Some("invalidFilter"));
    let res = app
        .request(
            "POST",
            &app.scim("/Users/.search"),
            Some(json!({"attributes": [1]})),
        )
        .await;
    res.assert_error(400, Some("invalidValue"));
    let res = app
        .request("POST", &app.scim("/Users/.search"), Some(json!([])))
        .await;
    res.assert_error(400, Some("invalidSyntax"));
    let res = app
        .request("POST", &app.scim("/.search"), Some(json!({})))
        .await;
    res.assert_error(501, None);
}

/// Every read of the admin API answers what was written, in the admin
/// API's JSON, and a tenant that does not exist is 404 on each of them.
async fn admin_reads_answer_what_was_written(app: &TestApp) {
    let t = app.tenant.as_str();
    let user = app.create_user("reader@example.com").await;
    let group = app.create_group("Readers", Some("ext-r")).await;
    app.log_entries(2).await;

    let tenant = admin(app, "GET", &format!("/admin/v1/tenants/{t}"), None).await;
    assert_eq!(tenant.status, 200, "{}", tenant.text);
    assert_eq!(
        (tenant.body["name"].as_str(), tenant.body["region"].as_str()),
        (Some("Acme"), Some("eu"))
    );
    assert!(
        tenant.body["created"]
            .as_str()
            .and_then(scimitar_proto::datetime::parse)
            .is_some()
    );
    let tenants = admin(app, "GET", "/admin/v1/tenants", None).await;
    assert_eq!(
        tenants.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        tenants.text
    );
    assert_eq!(tenants.body[0], tenant.body);

    let users = admin(app, "GET", &format!("/admin/v1/tenants/{t}/users"), None).await;
    assert_eq!(users.body["total"], 1, "{}", users.text);
    assert_eq!(users.body["users"][0]["id"], user.as_str());
    assert_eq!(users.body["users"][0]["userName"], "reader@example.com");
    let groups = admin(app, "GET", &format!("/admin/v1/tenants/{t}/groups"), None).await;
    assert_eq!(groups.body[0]["id"], group.as_str(), "{}", groups.text);
    assert_eq!(groups.body[0]["externalId"], "ext-r");
    let one = admin(
        app,
        "GET",
        &format!("/admin/v1/tenants/{t}/groups/{group}"),
        None,
    )
    .await;
    assert_eq!(one.body, groups.body[0]);
    let keys = admin(app, "GET", &format!("/admin/v1/tenants/{t}/apikeys"), None).await;
    assert_eq!(keys.body[0]["label"], "test", "{}", keys.text);
    assert!(
        keys.body[0].get("key").is_none(),
        "a listed key shows no secret"
    );
    assert!(keys.body[0].get("hash").is_none() && keys.body[0].get("secretHash").is_none());

    let log = admin(
        app,
        "GET",
        &format!("/admin/v1/tenants/{t}/log?limit=1"),
        None,
    )
    .await;
    assert_eq!(log.body.as_array().map(Vec::len), Some(1), "{}", log.text);
    assert_eq!(log.body[0]["tenantId"], t);
    assert!(log.body[0]["requestId"].is_string() && log.body[0]["status"].is_u64());
    let events = admin(app, "GET", &format!("/admin/v1/events?tenant={t}"), None).await;
    let kinds: Vec<&str> = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"user.created"), "{kinds:?}");
    let after = events.body[0]["seq"].as_i64().unwrap();
    let later = admin(
        app,
        "GET",
        &format!("/admin/v1/events?tenant={t}&after={after}"),
        None,
    )
    .await;
    assert_eq!(
        later.body.as_array().map(Vec::len),
        events.body.as_array().map(|e| e.len() - 1)
    );

    let nobody = "5d3c2a1b-0000-4000-8000-000000000009";
    for path in ["", "/users", "/groups", "/apikeys", "/subaccounts", "/log"] {
        let res = admin(
            app,
            "GET",
            &format!("/admin/v1/tenants/{nobody}{path}"),
            None,
        )
        .await;
        res.assert_error(404, None);
    }
    admin(
        app,
        "GET",
        &format!("/admin/v1/events?tenant={nobody}"),
        None,
    )
    .await
    .assert_error(404, None);
}

/// The OpenAPI document describes every operation the admin and
/// application APIs serve, each with a description, its answers and the
/// model's schemas; and every operation it describes is served.
async fn the_openapi_document_describes_every_route(app: &TestApp) {
    let res = app.get("/admin/v1/openapi.json").await;
    assert_eq!(res.status, 200, "{}", res.text);
    let doc = &res.body;
    assert_eq!(
        doc["openapi"].as_str().map(|v| &v[..3]),
        Some("3.1"),
        "{doc}"
    );
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = 0;
    let some_id = "5d3c2a1b-0000-4000-8000-000000000009";
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let described = op["description"].as_str().unwrap_or_default();
            assert!(
                !described.trim().is_empty(),
                "{method} {path} has no description"
            );
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            let concrete = path
                .replace("{tenant}", app.tenant.as_str())
                .replace("{group}", some_id)
                .replace("{subaccount}", some_id)
                .replace("{key}", some_id)
                .replace("{endpoint}", some_id)
                .replace("{user}", some_id);
            let body = (method != "get" && method != "delete").then(|| json!({}));
            let served = admin(app, &method.to_uppercase(), &concrete, body).await;
            assert!(
                served.status != 405 && !served.detail().contains("no such endpoint"),
                "{method} {path} is described but not served: {}",
                served.text
            );
        }
    }
    assert_eq!(
        operations,
        33,
        "{}",
        serde_json::to_string_pretty(paths).unwrap()
    );
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "Tenant",
        "Group",
        "ApiKey",
        "IssuedApiKey",
        "UserList",
        "LogEntry",
        "Event",
        "ScimError",
        "NewSession",
        "Introspection",
    ] {
        assert!(
            schemas.contains_key(name),
            "no schema {name}: {:?}",
            schemas.keys()
        );
    }
    // The request bodies are the types the handlers read.
    let new_tenant = &schemas["NewTenant"];
    assert_eq!(new_tenant["required"], json!(["name"]), "{new_tenant}");
    let change = schemas["GroupChangeBody"].to_string();
    assert!(change.contains("externalId"), "{change}");
    let introspection = schemas["Introspection"].to_string();
    let live = schemas["LiveSession"].to_string();
    assert!(
        introspection.contains("LiveSession")
            && live.contains("\"sub\"")
            && live.contains("session_id"),
        "{introspection} {live}"
    );
    let group = schemas["Group"].to_string();
    assert!(
        group.contains("externalId") && group.contains("Stamp"),
        "{group}"
    );
    let stamp = schemas["Stamp"].to_string();
    assert!(
        stamp.contains("lastModified") && stamp.contains("date-time"),
        "{stamp}"
    );
    for scheme in ["adminToken", "appToken"] {
        assert!(
            doc["components"]["securitySchemes"][scheme].is_object(),
            "{scheme}"
        );
    }
    let sessions = &paths["/app/v1/sessions"]["post"]["security"][0];
    assert!(sessions.get("appToken").is_some(), "{sessions}");
}

/// Each body of the wrong shape is refused with a detail naming what is
/// wrong, and changes nothing.
async fn admin_bodies_of_the_wrong_shape_are_refused_naming_the_field(app: &TestApp) {
    let tenant = app.tenant.as_str();
    let group = app
        .create_group_in(&app.tenant, "Engineering", Some("eng"))
        .await;
    let groups = format!("/admin/v1/tenants/{tenant}/groups");
    let one_group = format!("{groups}/{group}");
    let keys = format!("/admin/v1/tenants/{tenant}/apikeys");
    let subaccounts = format!("/admin/v1/tenants/{tenant}/subaccounts");
    let before = |path: String| async move { admin(app, "GET", &path, None).await.body };
    let (tenants, group_before, keys_before, subs_before) = (
        before("/admin/v1/tenants".into()).await,
        before(one_group.clone()).await,
        before(keys.clone()).await,
        before(subaccounts.clone()).await,
    );
    let cases: &[(&str, &str, Value, &str)] = &[
        (
            "POST",
            "/admin/v1/tenants",
            json!({"name": 7}),
            "'name' must be a string",
        ),
        (
            "POST",
            "/admin/v1/tenants",
            json!({"name": "A", "region": ["eu"]}),
            "'region' must be a string",
        ),
        (
            "POST",
            "/admin/v1/tenants",
            json!(["Acme"]),
            "the request body must be a JSON object",
        ),
        (
            "POST",
            "/admin/v1/tenants",
            json!("Acme"),
            "the request body must be a JSON object",
        ),
        (
            "POST",
            "/admin/v1/tenants",
            json!({"nmae": "Acme"}),
            "unknown field `nmae`",
        ),
        (
            "POST",
            &subaccounts,
            json!({"name": "EU", "parentId": 5}),
            "'parentId' must be a string",
        ),
        (
            "POST",
            &groups,
            json!({"displayName": {"x": 1}}),
            "'displayName' must be a string",
        ),
        (
            "POST",
            &groups,
            json!({"displayName": "G", "externalId": true}),
            "'externalId' must be a string",
        ),
        (
            "PATCH",
            &one_group,
            json!({"displayName": null}),
            "'displayName' must be a string",
        ),
        (
            "PATCH",
            &one_group,
            json!({"externalId": 5}),
            "'externalId' must be a string or null",
        ),
        (
            "PATCH",
            &one_group,
            json!({"subaccountId": []}),
            "'subaccountId' must be a string or null",
        ),
        (
            "PATCH",
            &one_group,
            json!({"displayname": "Typo"}),
            "unknown field `displayname`",
        ),
        (
            "POST",
            &keys,
            json!({"label": 1}),
            "'label' must be a string",
        ),
        (
            "POST",
            &keys,
            json!(null),
            "the request body must be a JSON object",
        ),
    ];
    for (method, path, body, detail) in cases {
        let res = admin(app, method, path, Some(body.clone())).await;
        res.assert_error(400, Some("invalidValue"));
        assert!(
            res.detail().starts_with(detail),
            "{method} {path} {body}: {}",
            res.detail()
        );
    }
    assert_eq!(before("/admin/v1/tenants".into()).await, tenants);
    assert_eq!(before(one_group).await, group_before);
    assert_eq!(before(keys).await, keys_before);
    assert_eq!(before(subaccounts).await, subs_before);
}

backends!(
    admin_bodies_of_the_wrong_shape_are_refused_naming_the_field,
    the_openapi_document_describes_every_route,
    admin_reads_answer_what_was_written,
    admin_api_needs_the_operator_token,
    admin_follows_the_integration_guide,
    admin_bad_inputs_change_nothing,
    metrics_count_requests_by_method_and_status,
    search_with_post_is_the_same_query,
);
