//! Discovery (RFC 7644 §4): open without a key, and truthful about what
//! the server does.

use crate::common::*;
use axum::body::Body;
use axum::http::Request;
use serde_json::Value;

/// A GET without any Authorization header.
async fn anonymous(app: &TestApp, path: &str) -> TestResponse {
    let req = Request::builder()
        .uri(app.scim(path))
        .header("host", "scim.test")
        .body(Body::empty())
        .unwrap();
    app.send(req).await
}

async fn service_provider_config_is_open_and_truthful(app: &TestApp) {
    let res = anonymous(app, "/ServiceProviderConfig").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(
        res.header("content-type")
            .is_some_and(|c| c.starts_with("application/scim+json"))
    );
    let spc = &res.body;
    assert_eq!(
        spc["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["changePassword"]["supported"], false);
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], 1000);
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(
        spc["meta"]["location"],
        "http://scim.test/scim/v2/ServiceProviderConfig"
    );
}

async fn resource_types_list_users_and_groups(app: &TestApp) {
    let res = anonymous(app, "/ResourceTypes").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["schemas"][0], LIST_SCHEMA);
    assert_eq!(res.body["totalResults"], 2);
    let mut ids = res.ids();
    ids.sort();
    assert_eq!(ids, ["Group", "User"]);

    let res = anonymous(app, "/ResourceTypes/User").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["endpoint"], "/Users");
    assert_eq!(res.body["schema"], USER_SCHEMA);
    let res = anonymous(app, "/ResourceTypes/Group").await;
    assert_eq!(res.body["endpoint"], "/Groups");
    anonymous(app, "/ResourceTypes/Device")
        .await
        .assert_error(404, None);
}

async fn schemas_describe_the_user_and_group_attributes(app: &TestApp) {
    let res = anonymous(app, "/Schemas").await;
    assert_eq!(res.status, 200, "{}", res.text);
    let mut ids = res.ids();
    ids.sort();
    assert_eq!(ids, [GROUP_SCHEMA, USER_SCHEMA]);

    let res = anonymous(app, &format!("/Schemas/{USER_SCHEMA}")).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let attr = |name: &str| -> Value {
        res.body["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("attribute {name}"))
    };
    assert_eq!(attr("userName")["required"], true);
    // Unique across all tenants of the deployment, not just this one.
    assert_eq!(attr("userName")["uniqueness"], "global");
    assert_eq!(attr("groups")["mutability"], "readOnly");
    assert_eq!(attr("emails")["mutability"], "readOnly");
    assert_eq!(attr("phoneNumbers")["mutability"], "immutable");
    assert_eq!(attr("displayName")["required"], true);

    let res = anonymous(app, &format!("/Schemas/{GROUP_SCHEMA}")).await;
    assert_eq!(res.status, 200);
    assert!(
        res.body["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "members")
    );

    anonymous(app, "/Schemas/urn:example:nothing")
        .await
        .assert_error(404, None);
}

async fn discovery_refuses_writes_with_405(app: &TestApp) {
    let res = app
        .request("POST", &app.scim("/Schemas"), Some(serde_json::json!({})))
        .await;
    res.assert_error(405, None);
}

backends!(
    service_provider_config_is_open_and_truthful,
    resource_types_list_users_and_groups,
    schemas_describe_the_user_and_group_attributes,
    discovery_refuses_writes_with_405,
);
