//! `userNameDomains`: `any` (the default: any domain no other tenant
//! confirmed) or the domains the operator confirmed are the tenant's. A
//! userName outside them is 400 naming them; a confirmed domain is one
//! tenant's, so no other tenant can create its addresses, and a 409 only
//! ever concerns the tenant's own people. Users another tenant created
//! before are collisions, which the operator lists and releases. Bad input
//! changes nothing.

use serde_json::{Value, json};

use crate::common::*;

async fn set_domains(
    app: &TestApp,
    tenant: &impl std::fmt::Display,
    domains: Value,
) -> TestResponse {
    let path = format!("/admin/v1/tenants/{tenant}/policy");
    admin(
        app,
        "PATCH",
        &path,
        Some(json!({"userNameDomains": domains})),
    )
    .await
}

async fn post_as(app: &TestApp, key: &str, user_name: &str) -> TestResponse {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "displayName": "Ann Lee",
        "active": true,
    });
    app.request_as(key, "POST", &app.scim("/Users"), Some(body))
        .await
}

async fn rename(app: &TestApp, id: &str, user_name: &str) -> TestResponse {
    let change = patch_op(json!([{"op": "replace", "path": "userName", "value": user_name}]));
    app.request("PATCH", &app.scim(&format!("/Users/{id}")), Some(change))
        .await
}

async fn user_names(app: &TestApp, key: &str) -> Vec<String> {
    let res = app.request_as(key, "GET", &app.scim("/Users"), None).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let mut names: Vec<String> = res.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// A tenant with confirmed domains takes userNames at them only, in any
/// letter case; one elsewhere, by POST, PUT or PATCH, is refused naming
/// them and changes nothing. Users it had before stay, and change as
/// before while their userName does not.
async fn confirmed_domains_hold_the_tenants_user_names(app: &TestApp) {
    let before = app.create_user("bob@old.example").await;
    let res = set_domains(
        app,
        &app.tenant,
        json!([" Corp.example", "acme.example.", "corp.example"]),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        res.body["policy"]["userNameDomains"],
        json!(["acme.example", "corp.example"])
    );
    let changed = events_of(app, "tenant.policy_changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(
        changed[0].payload["userNameDomains"],
        json!(["acme.example", "corp.example"])
    );

    let ann = post_as(app, &app.key, "Ann@ACME.example").await;
    assert_eq!(ann.status, 201, "{}", ann.text);
    let ann = ann.body["id"].as_str().unwrap().to_owned();
    assert_eq!(post_as(app, &app.key, "cy@corp.example").await.status, 201);
    for refused in [
        "dan@globex.example",
        "dan@sub.acme.example",
        "dan@acme.example.org",
    ] {
        let res = post_as(app, &app.key, refused).await;
        assert_eq!(res.status, 400, "{refused}: {}", res.text);
        assert!(
            res.detail()
                .contains("not at one of this tenant's domains (acme.example, corp.example)"),
            "{}",
            res.detail()
        );
    }

    let res = rename(app, &ann, "ann@globex.example").await;
    assert_eq!(res.status, 400, "{}", res.text);
    let put = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ann@globex.example",
        "displayName": "Ann Lee",
        "active": true,
    });
    let res = app
        .request("PUT", &app.scim(&format!("/Users/{ann}")), Some(put))
        .await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert_eq!(rename(app, &ann, "ann.lee@corp.example").await.status, 200);

    let title = patch_op(json!([{"op": "replace", "path": "title", "value": "Chef"}]));
    let res = app
        .request("PATCH", &app.scim(&format!("/Users/{before}")), Some(title))
        .await;
    assert_eq!(
        res.status, 200,
        "a user from before changes as before: {}",
        res.text
    );
    assert_eq!(rename(app, &before, "bob2@old.example").await.status, 400);
    assert_eq!(
        user_names(app, &app.key).await,
        ["ann.lee@corp.example", "bob@old.example", "cy@corp.example"]
    );

    // Where userNames may be anything, they still must be at the domains.
    let path = format!("/admin/v1/tenants/{}/policy", app.tenant);
    admin(app, "PATCH", &path, Some(json!({"userNameFormat": "any"}))).await;
    assert_eq!(post_as(app, &app.key, "E12345").await.status, 400);
    assert_eq!(
        post_as(app, &app.key, "E12345@acme.example").await.status,
        201
    );

    let res = set_domains(app, &app.tenant, json!("any")).await;
    assert_eq!(res.body["policy"]["userNameDomains"], "any");
    assert_eq!(post_as(app, &app.key, "E12345").await.status, 201);
}

/// A confirmed domain is one tenant's: another tenant can neither create
/// userNames there (400, saying nothing of who is provisioned) nor have it
/// confirmed too (409, naming the tenant that has it).
async fn a_confirmed_domain_is_one_tenants(app: &TestApp) {
    let (other, other_key) = app.other_tenant().await;
    assert_eq!(
        set_domains(app, &app.tenant, json!(["acme.example"]))
            .await
            .status,
        200
    );
    for user_name in ["ann@acme.example", "nobody@ACME.example"] {
        let res = post_as(app, &other_key, user_name).await;
        assert_eq!(res.status, 400, "{}", res.text);
        assert!(
            res.detail()
                .contains("a domain confirmed for another tenant"),
            "{}",
            res.detail()
        );
    }
    assert!(user_names(app, &other_key).await.is_empty());
    assert_eq!(
        post_as(app, &other_key, "bob@globex.example").await.status,
        201
    );

    let res = set_domains(app, &other, json!(["globex.example", "acme.example"])).await;
    assert_eq!(res.status, 409, "{}", res.text);
    assert!(
        res.detail().contains(&format!(
            "'acme.example' is confirmed for tenant {}",
            app.tenant
        )),
        "{}",
        res.detail()
    );
    let res = admin(app, "GET", &format!("/admin/v1/tenants/{other}"), None).await;
    assert_eq!(
        res.body["policy"]["userNameDomains"], "any",
        "nothing changed"
    );

    // Given up by its tenant, the domain is free again.
    assert_eq!(
        set_domains(app, &app.tenant, json!("any")).await.status,
        200
    );
    assert_eq!(
        set_domains(app, &other, json!(["acme.example"]))
            .await
            .status,
        200
    );
    assert_eq!(
        post_as(app, &other_key, "ann@acme.example").await.status,
        201
    );
    assert_eq!(post_as(app, &app.key, "cy@acme.example").await.status, 400);
}

/// Users another tenant created at a domain before it was confirmed are
/// collisions: the operator lists them and releases each, which deletes it
/// where it was (with an event there), and the domain's tenant can then
/// provision the address.
async fn collisions_are_listed_and_released(app: &TestApp) {
    let (other_id, other_key) = app.other_tenant().await;
    let carl = app.create_user_as(&other_key, "carl@acme.example").await;
    let bob = app.create_user_as(&other_key, "Bob@acme.example").await;
    app.create_user_as(&other_key, "dan@globex.example").await;
    let ann = app.create_user("ann@acme.example").await;
    assert_eq!(
        set_domains(app, &app.tenant, json!(["acme.example"]))
            .await
            .status,
        200
    );

    let res = admin(app, "GET", "/admin/v1/collisions", None).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let listed: Vec<(&str, &str, &str, &str)> = res
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["userName"].as_str().unwrap(),
                c["userId"].as_str().unwrap(),
                c["tenantId"].as_str().unwrap(),
                c["domainTenantId"].as_str().unwrap(),
            )
        })
        .collect();
    let (tenant, other) = (app.tenant.to_string(), other_id.to_string());
    assert_eq!(
        listed,
        [
            (
                "Bob@acme.example",
                bob.as_str(),
                other.as_str(),
                tenant.as_str()
            ),
            (
                "carl@acme.example",
                carl.as_str(),
                other.as_str(),
                tenant.as_str()
            ),
        ]
    );
    let res = admin(
        app,
        "GET",
        "/admin/v1/collisions?domain=ACME.example&limit=1",
        None,
    )
    .await;
    assert_eq!(res.body.as_array().unwrap().len(), 1, "{}", res.text);
    let res = admin(
        app,
        "GET",
        "/admin/v1/collisions?domain=globex.example",
        None,
    )
    .await;
    assert_eq!(res.body, json!([]));
    let res = admin(app, "GET", "/admin/v1/collisions?limit=many", None).await;
    assert_eq!(res.status, 400, "{}", res.text);

    // Held by the other tenant, the address is the identity provider's 409.
    assert_eq!(post_as(app, &app.key, "bob@acme.example").await.status, 409);
    let res = admin(app, "DELETE", &format!("/admin/v1/collisions/{bob}"), None).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["userName"], "Bob@acme.example");
    let res = app
        .request_as(&other_key, "GET", &app.scim(&format!("/Users/{bob}")), None)
        .await;
    assert_eq!(res.status, 404, "released: deleted where it was");
    let deprovisioned = app
        .store
        .events(Some(&other_id), &[], 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "user.deprovisioned")
        .collect::<Vec<_>>();
    assert_eq!(
        deprovisioned.len(),
        1,
        "the other tenant's application hears of it"
    );
    assert_eq!(deprovisioned[0].resource_id, bob);
    assert_eq!(deprovisioned[0].payload["how"], "collision");
    assert_eq!(deprovisioned[0].payload["outcome"], "deleted");
    assert_eq!(post_as(app, &app.key, "bob@acme.example").await.status, 201);

    for not_one in [bob.as_str(), ann.as_str(), "nonsense"] {
        let res = admin(
            app,
            "DELETE",
            &format!("/admin/v1/collisions/{not_one}"),
            None,
        )
        .await;
        assert_eq!(res.status, 404, "{not_one}: {}", res.text);
    }
    assert_eq!(
        user_names(app, &other_key).await,
        ["carl@acme.example", "dan@globex.example"],
        "nothing else is touched"
    );
}

/// Domain lists that are not lists of domain names are refused in words
/// and change nothing.
async fn bad_domain_lists_change_nothing(app: &TestApp) {
    for (body, says) in [
        (json!("none"), "\"any\" or a list of domain names"),
        (json!([1]), "\"any\" or a list of domain names"),
        (json!(null), "\"any\" or a list of domain names"),
        (
            json!(["localhost"]),
            "\"localhost\" is not a domain name (no dot)",
        ),
        (
            json!(["acme.example", "a_b.example"]),
            "\"a_b.example\" is not a domain name",
        ),
        (json!(["<b>x</b>.example"]), "is not a domain name"),
    ] {
        let res = set_domains(app, &app.tenant, body.clone()).await;
        assert_eq!(res.status, 400, "{body}: {}", res.text);
        assert!(res.detail().contains(says), "{body}: {}", res.detail());
    }
    let res = admin(
        app,
        "GET",
        &format!("/admin/v1/tenants/{}", app.tenant),
        None,
    )
    .await;
    assert_eq!(res.body["policy"]["userNameDomains"], "any");
    assert!(events_of(app, "tenant.policy_changed").await.is_empty());
}

/// With the tenant's key, the User schema's userName says which domains.
async fn discovery_names_the_tenants_domains(app: &TestApp) {
    let description = async || {
        let res = app
            .get(&app.scim("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"))
            .await;
        let attributes = res.body["attributes"].as_array().unwrap().clone();
        let user_name = attributes
            .into_iter()
            .find(|a| a["name"] == "userName")
            .unwrap();
        user_name["description"].as_str().unwrap().to_owned()
    };
    assert!(!description().await.contains("domains"));
    set_domains(app, &app.tenant, json!(["acme.example", "corp.example"])).await;
    assert!(
        description()
            .await
            .ends_with("must be at one of its domains: acme.example, corp.example."),
        "{}",
        description().await
    );
}

backends!(
    confirmed_domains_hold_the_tenants_user_names,
    a_confirmed_domain_is_one_tenants,
    collisions_are_listed_and_released,
    bad_domain_lists_change_nothing,
    discovery_names_the_tenants_domains,
);
